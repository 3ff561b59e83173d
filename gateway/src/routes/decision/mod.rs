//! The Decision routes: Anomaly Detector (univariate v1.1), Personalizer and Content Safety (text and images).

pub mod anomaly;
pub mod personalizer;
pub mod safety;

use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpResponse, web};

use crate::auth::ServiceName;

pub const SERVICE: crate::service::Service = crate::service::Service::Decision;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/anomalydetector/{version}/timeseries")
            .app_data(ServiceName(SERVICE))
            .route("/entire/detect", web::post().to(anomaly::entire))
            .route("/last/detect", web::post().to(anomaly::last))
            .route("/changepoint/detect", web::post().to(anomaly::change_point)),
    )
    .configure(personalizer::configure)
    .configure(safety::configure);
}

/// Anomaly Detector's error answer: the flat `{"code","message"}` body (not wrapped in `error`)
/// and the code again in `x-ms-error-code`, as its REST spec declares.
pub fn flat_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    if let Ok(value) = HeaderValue::from_str(code) {
        response.insert_header(("x-ms-error-code", value));
    }
    response.json(serde_json::json!({ "code": code, "message": message }))
}
