//! Custom Vision prediction: classify an image with a published iteration.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_vision::custom::Classifier;
use serde_json::{Value, json};

use super::super::vision_service;
use super::not_found;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::store::vision_projects::VisionProjects;

/// A published classifier the key may use: (project id, iteration id, classifier).
pub async fn published(state: &AppState, key: &KeyInfo, name: &str) -> ApiResult<(String, String, Classifier)> {
    super::super::enabled(state)?;
    let missing = || ApiError::new(Code::NotFound, format!("No custom model is published as {name:?}."));
    let found = VisionProjects::new(&state.db).published(name).await?.ok_or_else(missing)?;
    if found.owner != key.id && !key.is_admin {
        return Err(missing());
    }
    let (project, iteration) = (found.project_id, found.iteration_id);
    let classifier: Classifier = found
        .model
        .as_deref()
        .and_then(|m| serde_json::from_str(m).ok())
        .ok_or_else(|| ApiError(ServiceError::internal("the published iteration has no model")))?;
    Ok((project, iteration, classifier))
}

/// Classify an image with a published iteration (Custom Vision prediction v3.1 and v3.0; also
/// `.../image/nostore`, and `.../url` and `.../url/nostore` with JSON `{"url": ...}`).
#[utoipa::path(post, path = "/customvision/v3.1/prediction/{projectId}/classify/iterations/{publishedName}/image", tag = "Custom vision",
    params(("projectId" = String, Path), ("publishedName" = String, Path),
           ("application" = Option<String>, Query, description = "accepted and ignored")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the image; or multipart/form-data with the image in `imageData` (what the SDK sends); or JSON {\"url\": ...}"),
    responses((status = 200, description = "predictions: probability, tagId, tagName; most likely first"), (status = 400), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn classify(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let (project_id, name) = path.into_inner();
    let (project, iteration, classifier) = published(&state, &caller.key, &name).await?;
    if project != project_id {
        return Err(not_found("published iteration", &name));
    }
    let service = vision_service(&state)?;
    let picture = super::super::image_body::read_image(&state, &caller, &req, payload).await?;
    let classification = service.classify(picture.rgb.clone()).await?;
    state.metrics.vision_images.with_label_values(&["custom"]).inc();
    let tags = VisionProjects::new(&state.db).tags(&project).await?;
    let predictions: Vec<Value> = classifier
        .predict(&classification.embedding)
        .iter()
        .map(|p| {
            let id = tags.iter().find(|t| t.name == p.tag).map_or_else(|| p.tag.clone(), |t| t.id.clone());
            json!({ "probability": p.probability, "tagId": id, "tagName": p.tag, "tagType": "Regular" })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "id": uuid::Uuid::new_v4().to_string(),
        "project": project,
        "iteration": iteration,
        "created": rfc3339(now()),
        "predictions": predictions,
    })))
}
