//! Custom Vision domains and projects.

use actix_web::{HttpResponse, web};
use cogway_core::Code;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{load_project, not_found};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Stored, ensure_room};
use crate::store::vision_projects::{Project as ProjectRow, VisionProjects};

/// A classification domain: (id, name). Every domain trains the same classifier (a softmax layer
/// on EfficientNet-Lite0 embeddings) and every one exports to ONNX; the ids are Azure's, so that
/// apps that name a domain by id keep working.
const DOMAINS: [(&str, &str); 2] = [
    ("ee85a74c-405e-4adc-bb47-ffa8ca0c9f31", "General"),
    ("0732100f-1a38-4e49-a514-c9b44c697ab5", "General (compact)"),
];
/// The domain of projects created without one.
const DEFAULT_DOMAIN: &str = DOMAINS[0].0;

fn domain_json((id, name): (&str, &str)) -> Value {
    json!({
        "id": id,
        "name": name,
        "type": "Classification",
        "exportable": true,
        "enabled": true,
        "exportablePlatforms": ["ONNX"],
        "modelInformation": {
            "description": "A multiclass classifier trained on EfficientNet-Lite0 image embeddings.",
            "estimatedModelSizeInMegabytes": 14,
        },
    })
}

/// The classification domains.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/domains", tag = "Custom vision",
    responses((status = 200, description = "the domains (General and General (compact), both exportable to ONNX)")),
    security(("key" = []), ("bearer" = [])))]
pub async fn list_domains(_caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    super::super::enabled(&state)?;
    Ok(HttpResponse::Ok().json(DOMAINS.iter().copied().map(domain_json).collect::<Vec<_>>()))
}

/// One domain.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/domains/{domainId}", tag = "Custom vision",
    params(("domainId" = String, Path)), responses((status = 200), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_domain(
    _caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    super::super::enabled(&state)?;
    let domain =
        DOMAINS.iter().copied().find(|(id, _)| *id == path.as_str()).ok_or_else(|| not_found("domain", &path))?;
    Ok(HttpResponse::Ok().json(domain_json(domain)))
}

pub(super) fn project_json(p: &ProjectRow) -> Value {
    json!({
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "settings": {
            "domainId": p.domain_id.as_deref().unwrap_or(DEFAULT_DOMAIN),
            "classificationType": "Multiclass",
            "targetExportPlatforms": ["ONNX"],
            "useNegativeSet": false,
        },
        "created": rfc3339(p.created_at),
        "lastModified": rfc3339(p.created_at),
        "status": "Succeeded",
    })
}

#[derive(Deserialize)]
pub struct CreateProject {
    name: String,
    description: Option<String>,
    #[serde(rename = "domainId")]
    domain_id: Option<String>,
    #[serde(rename = "classificationType")]
    classification_type: Option<String>,
}

/// Create a project.
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects", tag = "Custom vision",
    params(("name" = String, Query), ("description" = Option<String>, Query),
           ("domainId" = Option<String>, Query, description = "one of the classification domains"),
           ("classificationType" = Option<String>, Query, description = "Multiclass (Multilabel is not offered)")),
    responses((status = 200, description = "the project"), (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn create_project(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<CreateProject>,
) -> ApiResult<HttpResponse> {
    super::super::enabled(&state)?;
    let name = query.name.trim();
    if name.is_empty() || name.len() > 200 {
        return Err(ApiError::new(Code::InvalidParameterValue, "A project needs a name of 1 to 200 characters."));
    }
    if let Some(kind) = query.classification_type.as_deref().filter(|k| !k.eq_ignore_ascii_case("Multiclass")) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!(
                "The classificationType {kind:?} is not offered: Cogway trains Multiclass classifiers (one tag per image)."
            ),
        ));
    }
    if let Some(domain) = query.domain_id.as_deref().filter(|d| !DOMAINS.iter().any(|(id, _)| id == d)) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The domain {domain:?} is not offered; GET /domains lists the classification domains."),
        ));
    }
    ensure_room(&state.db, Stored::VisionProjects, &caller.key, state.settings.limits.max_customizations_per_key)
        .await?;
    let row = ProjectRow {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        description: query.description.clone().unwrap_or_default(),
        key_id: caller.key.id.clone(),
        created_at: now(),
        domain_id: query.domain_id.clone(),
    };
    VisionProjects::new(&state.db).insert(&row).await?;
    Ok(HttpResponse::Ok().json(project_json(&row)))
}

/// List the projects of this key.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects", tag = "Custom vision",
    responses((status = 200, description = "projects")), security(("key" = []), ("bearer" = [])))]
pub async fn list_projects(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    super::super::enabled(&state)?;
    let rows = VisionProjects::new(&state.db).list(&caller.key.id, caller.key.is_admin).await?;
    Ok(HttpResponse::Ok().json(rows.iter().map(project_json).collect::<Vec<_>>()))
}

/// One project.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_project(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    Ok(HttpResponse::Ok().json(project_json(&project)))
}

/// Delete a project with its tags, images, iterations and exports.
#[utoipa::path(delete, path = "/customvision/v3.4-preview/training/projects/{projectId}", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_project(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    VisionProjects::new(&state.db).delete(&project.id).await?;
    Ok(HttpResponse::NoContent().finish())
}
