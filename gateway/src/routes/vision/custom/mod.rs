//! Custom image classifiers, in the shape of Azure Custom Vision (training v3.4-preview and v3.3,
//! prediction v3.1 and v3.0, what the official SDK 3.1.1 calls): create a project, create tags,
//! upload labelled images (base64 batches, one image, a multipart form of many, or a zip whose
//! folder names are the tags), train (a held-out fifth measures precision and recall), publish
//! an iteration under a name, then classify through the prediction route or with
//! `model-name=<published name>` on `imageanalysis:analyze`; or export the iteration to ONNX.
//!
//! Projects, tags, images (with their embeddings), iterations and exports live in the database,
//! so they survive restarts; deleting a project deletes all of it. A project is visible to the key
//! that created it and to admin keys.

pub mod images;
pub mod iterations;
pub mod prediction;
pub mod projects;
pub mod tags;

use actix_web::web;
use cogway_core::Code;
use serde_json::{Value, json};

use super::SERVICE;
use crate::app::AppState;
use crate::auth::ServiceName;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::store::vision_projects::{Project as ProjectRow, Tag as TagRow, VisionProjects};

pub(crate) use images::{ZipLimits, unzip};
pub use prediction::published;
pub use projects::CreateProject;

/// The training API versions served (the same routes under each).
const TRAINING_VERSIONS: [&str; 2] = ["v3.4-preview", "v3.3"];
/// The prediction API versions served, with the path's two spellings (Azure's documents use
/// `Prediction`, the SDK `prediction`).
const PREDICTION_SCOPES: [&str; 4] = [
    "/customvision/v3.1/prediction",
    "/customvision/v3.1/Prediction",
    "/customvision/v3.0/prediction",
    "/customvision/v3.0/Prediction",
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    for version in TRAINING_VERSIONS {
        cfg.service(
            web::scope(&format!("/customvision/{version}/training"))
                .app_data(ServiceName(SERVICE))
                .route("/domains", web::get().to(projects::list_domains))
                .route("/domains/{domainId}", web::get().to(projects::get_domain))
                .route("/projects", web::post().to(projects::create_project))
                .route("/projects", web::get().to(projects::list_projects))
                .route("/projects/{projectId}", web::get().to(projects::get_project))
                .route("/projects/{projectId}", web::delete().to(projects::delete_project))
                .route("/projects/{projectId}/tags", web::post().to(tags::create_tag))
                .route("/projects/{projectId}/tags", web::get().to(tags::list_tags))
                .route("/projects/{projectId}/tags/{tagId}", web::get().to(tags::get_tag))
                .route("/projects/{projectId}/tags/{tagId}", web::delete().to(tags::delete_tag))
                .route("/projects/{projectId}/images", web::post().to(images::add_images))
                .route("/projects/{projectId}/images/files", web::post().to(images::add_image_files))
                .route("/projects/{projectId}/train", web::post().to(iterations::train))
                .route("/projects/{projectId}/iterations", web::get().to(iterations::list_iterations))
                .route("/projects/{projectId}/iterations/{iterationId}", web::get().to(iterations::get_iteration))
                .route(
                    "/projects/{projectId}/iterations/{iterationId}/performance",
                    web::get().to(iterations::performance),
                )
                .route("/projects/{projectId}/iterations/{iterationId}/publish", web::post().to(iterations::publish))
                .route("/projects/{projectId}/iterations/{iterationId}/export", web::post().to(iterations::export))
                .route(
                    "/projects/{projectId}/iterations/{iterationId}/export",
                    web::get().to(iterations::list_exports),
                ),
        );
    }
    for scope in PREDICTION_SCOPES {
        cfg.service(
            web::scope(scope)
                .app_data(ServiceName(SERVICE))
                .route("/{projectId}/classify/iterations/{publishedName}/image", web::post().to(prediction::classify))
                .route(
                    "/{projectId}/classify/iterations/{publishedName}/image/nostore",
                    web::post().to(prediction::classify),
                )
                .route("/{projectId}/classify/iterations/{publishedName}/url", web::post().to(prediction::classify))
                .route(
                    "/{projectId}/classify/iterations/{publishedName}/url/nostore",
                    web::post().to(prediction::classify),
                ),
        );
    }
    cfg.route("/customvision/exports/{token}", web::get().to(iterations::download_export));
}

fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The {what} '{id}' does not exist."))
}

async fn load_project(state: &AppState, key: &KeyInfo, id: &str) -> ApiResult<ProjectRow> {
    super::enabled(state)?;
    match VisionProjects::new(&state.db).get(id).await? {
        Some(p) if p.key_id == key.id || key.is_admin => Ok(p),
        _ => Err(not_found("project", id)),
    }
}

/// A tag as Custom Vision answers it.
fn tag_json(tag: &TagRow) -> Value {
    json!({
        "id": tag.id,
        "name": tag.name,
        "description": tag.description,
        "type": tag.kind,
        "imageCount": tag.image_count,
    })
}
