//! Custom Vision tags: the classes a project's images are labelled with.

use actix_web::{HttpResponse, web};
use cogway_core::Code;
use serde::Deserialize;

use super::{load_project, not_found, tag_json};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::store::vision_projects::{Tag as TagRow, VisionProjects};

/// Most tags a project may have (Azure's limit for a classification project).
pub const MAX_TAGS_PER_PROJECT: usize = 500;

/// A tag name as given: 1 to 100 printable characters, trimmed.
pub(super) fn check_tag_name(tag: &str) -> ApiResult<String> {
    let tag = tag.trim();
    if tag.is_empty() || tag.chars().count() > 100 || tag.chars().any(char::is_control) {
        return Err(ApiError::new(Code::InvalidParameterValue, "A tag name must have 1 to 100 printable characters."));
    }
    Ok(tag.to_string())
}

/// The project's tag `name`, created when missing (the v3.3 uploads name tags instead of
/// creating them first).
pub(super) async fn tag_named(state: &AppState, project_id: &str, name: &str) -> ApiResult<TagRow> {
    let store = VisionProjects::new(&state.db);
    let tags = store.tags(project_id).await?;
    if let Some(tag) = tags.iter().find(|t| t.name == name) {
        return Ok(tag.clone());
    }
    if tags.len() >= MAX_TAGS_PER_PROJECT {
        return Err(too_many_tags());
    }
    Ok(store.tag_named(project_id, name).await?)
}

fn too_many_tags() -> ApiError {
    ApiError::new(Code::InvalidRequest, format!("A project may have at most {MAX_TAGS_PER_PROJECT} tags."))
}

#[derive(Deserialize)]
pub struct CreateTag {
    name: String,
    description: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// Create a tag.
#[utoipa::path(post, path = "/customvision/v3.4-preview/training/projects/{projectId}/tags", tag = "Custom vision",
    params(("projectId" = String, Path), ("name" = String, Query), ("description" = Option<String>, Query),
           ("type" = Option<String>, Query, description = "Regular (Negative and GeneralProduct are not offered)")),
    responses((status = 200, description = "the tag"), (status = 400), (status = 404),
              (status = 409, description = "the project has a tag of that name")),
    security(("key" = []), ("bearer" = [])))]
pub async fn create_tag(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CreateTag>,
) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let name = check_tag_name(&query.name)?;
    let description = query.description.clone().unwrap_or_default();
    if description.chars().count() > 1_000 {
        return Err(ApiError::new(Code::InvalidParameterValue, "A tag description may have at most 1000 characters."));
    }
    if let Some(kind) = query.kind.as_deref().filter(|k| !k.eq_ignore_ascii_case("Regular")) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("The tag type {kind:?} is not offered: tags are Regular."),
        ));
    }
    let store = VisionProjects::new(&state.db);
    if store.tags(&project.id).await?.len() >= MAX_TAGS_PER_PROJECT {
        return Err(too_many_tags());
    }
    let tag = store
        .insert_tag(&project.id, &name, &description, "Regular")
        .await?
        .ok_or_else(|| ApiError::new(Code::Conflict, format!("The project has a tag named {name:?} already.")))?;
    Ok(HttpResponse::Ok().json(tag_json(&tag)))
}

/// The project's tags with their image counts.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/tags", tag = "Custom vision",
    params(("projectId" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn list_tags(caller: Caller, state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let project = load_project(&state, &caller.key, &path).await?;
    let tags = VisionProjects::new(&state.db).tags(&project.id).await?;
    Ok(HttpResponse::Ok().json(tags.iter().map(tag_json).collect::<Vec<_>>()))
}

async fn load_tag(state: &AppState, caller: &Caller, project_id: &str, tag_id: &str) -> ApiResult<(String, TagRow)> {
    let project = load_project(state, &caller.key, project_id).await?;
    let tag = VisionProjects::new(&state.db)
        .tags(&project.id)
        .await?
        .into_iter()
        .find(|t| t.id == tag_id)
        .ok_or_else(|| not_found("tag", tag_id))?;
    Ok((project.id, tag))
}

/// One tag.
#[utoipa::path(get, path = "/customvision/v3.4-preview/training/projects/{projectId}/tags/{tagId}", tag = "Custom vision",
    params(("projectId" = String, Path), ("tagId" = String, Path)), responses((status = 200), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_tag(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, tag_id) = path.into_inner();
    let (_, tag) = load_tag(&state, &caller, &project_id, &tag_id).await?;
    Ok(HttpResponse::Ok().json(tag_json(&tag)))
}

/// Delete a tag and the images labelled with it (trained iterations keep it).
#[utoipa::path(delete, path = "/customvision/v3.4-preview/training/projects/{projectId}/tags/{tagId}", tag = "Custom vision",
    params(("projectId" = String, Path), ("tagId" = String, Path)), responses((status = 204), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn delete_tag(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (project_id, tag_id) = path.into_inner();
    let (project, tag) = load_tag(&state, &caller, &project_id, &tag_id).await?;
    VisionProjects::new(&state.db).delete_tag(&project, &tag).await?;
    Ok(HttpResponse::NoContent().finish())
}
