//! The Vision routes: Image Analysis 4.0 (`imageanalysis:analyze`), Read v3.2 (asynchronous OCR),
//! Document Intelligence (prebuilt-read and prebuilt-layout), Face detection and custom image
//! classifiers.

pub mod analyze;
pub mod custom;
pub mod document;
pub mod face;
pub mod gate;
pub mod image_body;
pub mod read;

use actix_web::web;

use crate::app::AppState;
use crate::auth::ServiceName;
use crate::errors::ApiResult;

pub use crate::engines::vision as vision_service;

pub const SERVICE: crate::service::Service = crate::service::Service::Vision;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/computervision")
            .app_data(ServiceName(SERVICE))
            .route("/imageanalysis:analyze", web::post().to(analyze::analyze)),
    )
    .service(
        web::scope("/vision/v3.2/read")
            .app_data(ServiceName(SERVICE))
            .route("/analyze", web::post().to(read::submit))
            .route("/analyzeResults/{operationId}", web::get().to(read::result)),
    )
    .service(
        web::scope("/face/{version}").app_data(ServiceName(SERVICE)).route("/detect", web::post().to(face::detect)),
    )
    .service(
        web::scope("/documentintelligence/documentModels")
            .app_data(ServiceName(SERVICE))
            .route("/{modelId:[^/:]+}:analyze", web::post().to(document::analyze))
            .route("/{modelId}/analyzeResults/{resultId}", web::get().to(document::result)),
    )
    .configure(custom::configure);
}

/// 404 when the Vision service is disabled (routes that need no model check only this).
pub fn enabled(state: &AppState) -> ApiResult<()> {
    crate::engines::enabled(state, SERVICE)
}
