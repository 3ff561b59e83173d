//! Neural translation models: the loaded ones, and adding an Argos package (`.argosmodel`)
//! through the API (admin keys only). Packages can also be dropped into the models folder
//! (`translation.user_models_dir`) and are loaded at the next start.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use serde_json::json;

use super::translation_service;
use crate::app::AppState;
use crate::auth::{Admin, Caller};
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{check_resource_name, read_limited};

/// Largest package accepted (OPUS-MT int8 packages are 50-120 MB).
const MAX_PACKAGE_BYTES: usize = 512 * 1024 * 1024;

/// The neural models and the Apertium pair count.
#[utoipa::path(get, path = "/translator/models", tag = "Translator customization",
    responses((status = 200, description = "{neural: [{name, from, to}], apertiumPairs}")), security(("key" = []), ("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> ApiResult<HttpResponse> {
    let service = translation_service(&state)?;
    let neural: Vec<_> = service
        .neural_models_info()
        .into_iter()
        .map(|(name, from, to)| json!({ "name": name, "from": from, "to": to }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "neural": neural, "apertiumPairs": service.apertium().pairs().count() })))
}

/// Add or replace a neural model from an Argos package (zip). Admin keys only.
#[utoipa::path(put, path = "/translator/models/{name}", tag = "Translator customization",
    params(("name" = String, Path, description = "file name the package is kept under")),
    request_body(content = Vec<u8>, description = ".argosmodel (zip)", content_type = "application/zip"),
    responses((status = 201, description = "{name, from, to}"), (status = 400, description = "not a usable package"),
              (status = 403, description = "not an admin key")),
    security(("key" = []), ("bearer" = [])))]
pub async fn put(
    state: web::Data<AppState>,
    _admin: Admin,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_resource_name(&name, 64, "Model names are 1 to 64 characters of letters, digits, '-', '_' and '.'.")?;
    let service = translation_service(&state)?;
    let bytes = read_limited(&req, payload, MAX_PACKAGE_BYTES).await?;
    if !bytes.starts_with(b"PK") {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "The body is not a zip archive (an Argos .argosmodel package).",
        ));
    }
    let dir = service.user_models_dir().to_path_buf();
    let path = dir.join(format!("{}.argosmodel", name.as_str()));
    let loaded = web::block(move || {
        std::fs::create_dir_all(&dir).map_err(|e| ApiError::new(Code::Internal, format!("{}: {e}", dir.display())))?;
        let partial = path.with_extension("partial");
        std::fs::write(&partial, &bytes)
            .map_err(|e| ApiError::new(Code::Internal, format!("{}: {e}", partial.display())))?;
        match service.add_model(&partial) {
            Ok(info) => {
                std::fs::rename(&partial, &path)
                    .map_err(|e| ApiError::new(Code::Internal, format!("{}: {e}", path.display())))?;
                Ok(info)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&partial);
                Err(ApiError(e))
            }
        }
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("model upload: {e}")))??;
    let (model, from, to) = loaded;
    Ok(HttpResponse::Created().json(json!({ "name": model, "from": from, "to": to })))
}
