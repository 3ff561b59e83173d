//! The admin API (admin keys only): create, list and revoke keys; usage per key.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::{AppState, SERVICES};
use crate::auth::Admin;
use crate::errors::{ApiError, ApiResult};
use crate::keys::{KeyInfo, NewKey, validate_services};
use crate::routes::body::read_json;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateKeyRequest {
    pub name: String,
    /// Services the key may call (default: all).
    #[serde(default)]
    pub services: Vec<String>,
    /// Requests per second (default: the server's `limits.default_rps`).
    #[serde(default)]
    pub rps: Option<u32>,
    /// Characters per hour (default: unlimited).
    #[serde(default)]
    pub chars_per_hour: Option<u64>,
    /// Seconds of audio per hour for speech recognition (default: unlimited).
    #[serde(default)]
    pub audio_seconds_per_hour: Option<u64>,
    /// Images analysed per hour by the Vision routes (default: unlimited).
    #[serde(default)]
    pub images_per_hour: Option<u64>,
    #[serde(default)]
    pub admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKey {
    /// The key in clear: shown this once, stored only as a hash.
    pub key: String,
    #[schema(value_type = Object)]
    pub info: KeyInfo,
}

/// Create a key.
#[utoipa::path(post, path = "/admin/keys", tag = "Admin", request_body = CreateKeyRequest,
    responses((status = 201, body = CreatedKey), (status = 403, description = "not an admin key")),
    security(("key" = [])))]
pub async fn create_key(
    _admin: Admin,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body: CreateKeyRequest = read_json(&req, payload, 64 * 1024).await?;
    validate_services(&body.services, &SERVICES)?;
    if body.rps == Some(0) {
        return Err(ApiError::new(Code::InvalidParameterValue, "rps must be at least 1."));
    }
    let new = NewKey {
        name: body.name,
        services: body.services,
        rps: body.rps,
        chars_per_hour: body.chars_per_hour,
        audio_secs_per_hour: body.audio_seconds_per_hour,
        images_per_hour: body.images_per_hour,
        is_admin: body.admin,
    };
    let (key, info) = state.keys.create(&new).await?;
    Ok(HttpResponse::Created().json(CreatedKey { key, info }))
}

/// List keys (never the keys themselves).
#[utoipa::path(get, path = "/admin/keys", tag = "Admin", responses((status = 200, description = "key infos")),
    security(("key" = [])))]
pub async fn list_keys(_admin: Admin, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keys": state.keys.list().await? })))
}

/// Revoke a key by id.
#[utoipa::path(delete, path = "/admin/keys/{id}", tag = "Admin", responses((status = 204), (status = 404)),
    security(("key" = [])))]
pub async fn revoke_key(_admin: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    if state.keys.revoke(&id).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(ApiError::new(Code::NotFound, format!("No live key with id '{id}'.")))
    }
}

/// Usage of a key per service and hour.
#[utoipa::path(get, path = "/admin/keys/{id}/usage", tag = "Admin", responses((status = 200, description = "usage rows")),
    security(("key" = [])))]
pub async fn key_usage(_admin: Admin, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let rows = state.usage.report(&id).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "keyId": id.as_str(), "usage": rows })))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .route("/keys", web::post().to(create_key))
            .route("/keys", web::get().to(list_keys))
            .route("/keys/{id}", web::delete().to(revoke_key))
            .route("/keys/{id}/usage", web::get().to(key_usage)),
    );
}
