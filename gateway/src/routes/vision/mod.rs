//! The Vision routes: Image Analysis 4.0 (`imageanalysis:analyze`), Read v3.2 (asynchronous OCR),
//! Face detection and custom image classifiers.

pub mod analyze;
pub mod custom;
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
        web::scope("/customvision/v3.3/training/projects")
            .app_data(ServiceName(SERVICE))
            .route("", web::post().to(custom::create_project))
            .route("", web::get().to(custom::list_projects))
            .route("/{projectId}", web::get().to(custom::get_project))
            .route("/{projectId}", web::delete().to(custom::delete_project))
            .route("/{projectId}/images", web::post().to(custom::add_images))
            .route("/{projectId}/tags", web::get().to(custom::list_tags))
            .route("/{projectId}/train", web::post().to(custom::train))
            .route("/{projectId}/iterations", web::get().to(custom::list_iterations))
            .route("/{projectId}/iterations/{iterationId}/performance", web::get().to(custom::performance))
            .route("/{projectId}/iterations/{iterationId}/publish", web::post().to(custom::publish)),
    )
    .service(
        web::scope("/customvision/v3.0/Prediction")
            .app_data(ServiceName(SERVICE))
            .route("/{projectId}/classify/iterations/{publishedName}/image", web::post().to(custom::classify_image)),
    );
}

/// 404 when the Vision service is disabled (routes that need no model check only this).
pub fn enabled(state: &AppState) -> ApiResult<()> {
    crate::engines::enabled(state, SERVICE)
}
