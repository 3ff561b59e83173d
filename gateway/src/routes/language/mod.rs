//! The Language routes.

pub mod analyze;
pub mod clu;
pub mod custom;
pub mod deployment_cache;
pub mod documents;
pub mod dto;
pub mod embeddings;
pub mod jobs;
pub mod lro;
pub mod qna;
pub mod v31;

use actix_web::{HttpRequest, web};
use cogway_core::Code;

use crate::auth::ServiceName;
use crate::errors::{ApiError, ApiResult};

pub use crate::engines::language as language_service;

/// API versions of the Language API this server answers.
const API_VERSIONS: &[&str] = &["2022-05-01", "2023-04-01", "2023-11-15-preview", "2024-11-01"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/language")
            .app_data(ServiceName(crate::service::Service::Language))
            .route("/:analyze-text", web::post().to(analyze::analyze_text))
            .route("/analyze-text/jobs", web::post().to(jobs::submit))
            .route("/analyze-text/jobs/{id}:cancel", web::post().to(jobs::cancel))
            .route("/analyze-text/jobs/{id}", web::get().to(jobs::status))
            .route("/embeddings", web::post().to(embeddings::embeddings))
            .route("/custom/projects", web::get().to(custom::list_projects))
            .route("/custom/projects/{name}", web::put().to(custom::put_project))
            .route("/custom/projects/{name}", web::get().to(custom::get_project))
            .route("/custom/projects/{name}", web::delete().to(custom::delete_project))
            .route("/custom/projects/{name}/examples", web::post().to(custom::add_examples))
            .route("/custom/projects/{name}/train", web::post().to(custom::train))
            .configure(qna::configure)
            .configure(clu::configure),
    )
    .service(
        web::scope("/text/analytics/v3.1")
            .app_data(ServiceName(crate::service::Service::Language))
            .route("/languages", web::post().to(v31::languages))
            .route("/sentiment", web::post().to(v31::sentiment))
            .route("/keyPhrases", web::post().to(v31::key_phrases))
            .route("/entities/recognition/general", web::post().to(v31::entities))
            .route("/entities/recognition/pii", web::post().to(v31::pii)),
    )
    .service(
        web::scope("/v1/embeddings")
            .app_data(ServiceName(crate::service::Service::Language))
            .route("", web::post().to(embeddings::embeddings)),
    );
}

/// Refuses a missing or unknown `api-version` (400), as Azure does.
pub fn check_api_version(req: &HttpRequest) -> ApiResult<()> {
    api_version_in(req, API_VERSIONS).map(|_| ())
}

/// The request's `api-version` if it is one of `versions` (400 otherwise, or when missing).
pub fn api_version_in(req: &HttpRequest, versions: &'static [&'static str]) -> ApiResult<&'static str> {
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string()).map(|q| q.0).unwrap_or_default();
    match query.iter().find(|(k, _)| k == "api-version").map(|(_, v)| v.as_str()) {
        Some(v) => versions.iter().copied().find(|known| *known == v).ok_or_else(|| {
            ApiError::new(
                Code::InvalidApiVersion,
                format!("The api-version '{v}' is not supported. Supported versions: {}.", versions.join(", ")),
            )
        }),
        None => Err(ApiError::new(
            Code::InvalidApiVersion,
            format!(
                "The api-version query parameter is required (for example api-version={}).",
                versions[versions.len() - 1]
            ),
        )),
    }
}
