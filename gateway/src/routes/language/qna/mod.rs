//! Question answering, in the shape of Azure AI Language's (api-version 2021-10-01, what the
//! official `azure-ai-language-questionanswering` 1.1.0 client sends, and 2023-04-01):
//!
//! - `POST /language/:query-knowledgebases?projectName=&deploymentName=` answers from a deployed
//!   project; `POST /language/:query-text` answers from documents sent with the question
//!   ([`query`]).
//! - The authoring API under `/language/query-knowledgebases/projects` ([`authoring`]): projects,
//!   QnAs, synonyms, deployments, import and export. Its long-running operations finish before
//!   they answer 202, and their jobs are kept an hour for the SDK's poller.
//!
//! Projects belong to the key that created them (admin keys included: they see their own).

pub mod assets;
pub mod authoring;
pub mod query;

use crate::errors::ApiResult;
use actix_web::{HttpRequest, web};

/// The api-versions of question answering.
const API_VERSIONS: &[&str] = &["2021-10-01", "2023-04-01"];

/// Routes inside the `/language` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    const PROJECT: &str = "/query-knowledgebases/projects/{projectName}";
    cfg.route("/:query-knowledgebases", web::post().to(query::query_knowledge_base))
        .route("/:query-text", web::post().to(query::query_text))
        .route("/query-knowledgebases/projects", web::get().to(authoring::list_projects))
        .route("/query-knowledgebases/projects/deletion-jobs/{jobId}", web::get().to(authoring::job))
        .route(PROJECT, web::patch().to(authoring::create_project))
        .route(PROJECT, web::get().to(authoring::get_project))
        .route(PROJECT, web::delete().to(authoring::delete_project))
        .route(&format!("{PROJECT}/qnas"), web::get().to(authoring::list_qnas))
        .route(&format!("{PROJECT}/qnas"), web::patch().to(authoring::update_qnas))
        .route(&format!("{PROJECT}/qnas/jobs/{{jobId}}"), web::get().to(authoring::project_job))
        .route(&format!("{PROJECT}/synonyms"), web::get().to(authoring::list_synonyms))
        .route(&format!("{PROJECT}/synonyms"), web::put().to(authoring::update_synonyms))
        .route(&format!("{PROJECT}/sources"), web::get().to(authoring::list_sources))
        .route(&format!("{PROJECT}/sources"), web::patch().to(authoring::update_sources))
        .route(&format!("{PROJECT}/deployments"), web::get().to(authoring::list_deployments))
        .route(&format!("{PROJECT}/deployments/{{deploymentName}}"), web::put().to(authoring::deploy))
        .route(&format!("{PROJECT}/deployments/{{deploymentName}}"), web::get().to(authoring::get_deployment))
        .route(
            &format!("{PROJECT}/deployments/{{deploymentName}}/jobs/{{jobId}}"),
            web::get().to(authoring::deploy_job),
        )
        .route(&format!("{PROJECT}/:export"), web::post().to(authoring::export))
        .route(&format!("{PROJECT}/export/jobs/{{jobId}}"), web::get().to(authoring::project_job))
        .route(&format!("{PROJECT}/export/jobs/{{jobId}}/result"), web::get().to(authoring::export_result))
        .route(&format!("{PROJECT}/:import"), web::post().to(authoring::import))
        .route(&format!("{PROJECT}/import/jobs/{{jobId}}"), web::get().to(authoring::project_job));
}

/// The request's api-version: one of API_VERSIONS (400 otherwise).
pub fn api_version(req: &HttpRequest) -> ApiResult<&'static str> {
    super::api_version_in(req, API_VERSIONS)
}
