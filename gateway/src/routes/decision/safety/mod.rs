//! Content Safety (`azure-ai-contentsafety` 1.0.0, API 2023-10-01 and 2024-09-01): text and image
//! analysis by harm category, text blocklists and matching them. Errors are Azure Core's
//! `{"error":{"code","message"}}` with `x-ms-error-code`.

pub mod blocklists;
pub mod image;
pub mod text;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, web};

use crate::auth::ServiceName;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/contentsafety")
            .app_data(ServiceName(super::SERVICE))
            .route("/text:analyze", web::post().to(text::analyze))
            .route("/image:analyze", web::post().to(image::analyze))
            .route("/text/blocklists", web::get().to(blocklists::list))
            .route("/text/blocklists/{name:[^/:]+}:addOrUpdateBlocklistItems", web::post().to(blocklists::add_items))
            .route("/text/blocklists/{name:[^/:]+}:removeBlocklistItems", web::post().to(blocklists::remove_items))
            .route("/text/blocklists/{name:[^/:]+}", web::patch().to(blocklists::create_or_update))
            .route("/text/blocklists/{name:[^/:]+}", web::get().to(blocklists::get))
            .route("/text/blocklists/{name:[^/:]+}", web::delete().to(blocklists::delete))
            .route("/text/blocklists/{name:[^/:]+}/blocklistItems", web::get().to(blocklists::list_items))
            .route("/text/blocklists/{name:[^/:]+}/blocklistItems/{itemId}", web::get().to(blocklists::get_item)),
    );
}

/// Content Safety's error answer.
pub fn error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Ok(value) = HeaderValue::from_str(code) {
        response.insert_header(("x-ms-error-code", value));
    }
    response.json(serde_json::json!({ "error": { "code": code, "message": message } }))
}

pub fn invalid_body(message: &str) -> HttpResponse {
    error(StatusCode::BAD_REQUEST, "InvalidRequestBody", message)
}

pub fn not_found(message: &str) -> HttpResponse {
    error(StatusCode::NOT_FOUND, "ResourceNotFound", message)
}
