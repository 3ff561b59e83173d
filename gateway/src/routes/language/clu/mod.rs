//! Conversational language understanding, in the shape of Azure AI Language's:
//!
//! - `POST /language/:analyze-conversations` (kind `Conversation`): the top intent with a confidence
//!   for every intent, and the entities (learned, list and prebuilt) of one utterance, from a
//!   deployed project ([`runtime`]); what `azure-ai-language-conversations` 1.1.0 calls.
//! - The authoring API under `/language/authoring/analyze-conversations/projects` ([`authoring`]):
//!   create, import and export projects, train models, deploy them, delete; its long-running
//!   operations finish before they answer 202 (see [`super::lro`]).
//!
//! Projects belong to the key that created them.

pub mod authoring;
pub mod runtime;

use crate::errors::ApiResult;
use actix_web::{HttpRequest, web};

/// The api-versions of conversational language understanding.
const API_VERSIONS: &[&str] = &["2022-05-01", "2023-04-01", "2024-11-01"];

/// Routes inside the `/language` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    const PROJECTS: &str = "/authoring/analyze-conversations/projects";
    const PROJECT: &str = "/authoring/analyze-conversations/projects/{projectName}";
    cfg.route("/:analyze-conversations", web::post().to(runtime::analyze_conversations))
        .route(PROJECTS, web::get().to(authoring::list_projects))
        .route(&format!("{PROJECTS}/global/deletion-jobs/{{jobId}}"), web::get().to(authoring::deletion_job))
        .route(PROJECT, web::patch().to(authoring::create_project))
        .route(PROJECT, web::get().to(authoring::get_project))
        .route(PROJECT, web::delete().to(authoring::delete_project))
        .route(&format!("{PROJECT}/:import"), web::post().to(authoring::import))
        .route(&format!("{PROJECT}/:export"), web::post().to(authoring::export))
        .route(&format!("{PROJECT}/:train"), web::post().to(authoring::train))
        .route(&format!("{PROJECT}/deployments/{{deploymentName}}"), web::put().to(authoring::deploy))
        .route(&format!("{PROJECT}/deployments/{{deploymentName}}"), web::get().to(authoring::get_deployment))
        .route(
            &format!("{PROJECT}/deployments/{{deploymentName}}/jobs/{{jobId}}"),
            web::get().to(authoring::deployment_job),
        )
        .route(&format!("{PROJECT}/import/jobs/{{jobId}}"), web::get().to(authoring::project_job))
        .route(&format!("{PROJECT}/export/jobs/{{jobId}}"), web::get().to(authoring::project_job))
        .route(&format!("{PROJECT}/export/jobs/{{jobId}}/result"), web::get().to(authoring::export_result))
        .route(&format!("{PROJECT}/train/jobs/{{jobId}}"), web::get().to(authoring::project_job));
}

/// The request's api-version: one of API_VERSIONS (400 otherwise).
pub fn api_version(req: &HttpRequest) -> ApiResult<&'static str> {
    super::api_version_in(req, API_VERSIONS)
}
