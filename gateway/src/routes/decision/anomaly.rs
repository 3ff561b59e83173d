//! `POST /anomalydetector/{v1.0|v1.1}/timeseries/{entire,last,changepoint}/detect`: univariate
//! anomaly and change-point detection (azure-ai-anomalydetector 3.0.0b6). The detection itself is
//! `cogway_decision::anomaly`; this module reads the body, runs it on the blocking pool and
//! answers in Anomaly Detector's shapes (200 only; errors flat with `x-ms-error-code`).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use cogway_decision::anomaly::{self, AnomalyError, ChangePointOptions, DetectOptions};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{SERVICE, flat_error};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_limited;

/// Largest request body: 8640 points at about 70 bytes each as the SDK writes them, twice over.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// The API versions served (the version is a path segment, not a query parameter).
const VERSIONS: [&str; 2] = ["v1.1", "v1.0"];

// The request schemas document the body for OpenAPI; the body itself is read as JSON and checked
// field by field in cogway_decision (Azure's checks and messages), so their fields are never read.

/// One point of a series.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TimeSeriesPoint {
    /// ISO-8601; may be left out when granularity is `none`.
    timestamp: Option<String>,
    value: f64,
}

/// The body of `entire/detect`, `last/detect` and (with `stableTrendWindow` and `threshold`,
/// `granularity` required) `changepoint/detect`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct UnivariateDetectionOptions {
    /// 12 to 8640 points, sorted by timestamp, no duplicates.
    series: Vec<TimeSeriesPoint>,
    /// yearly, monthly, weekly, daily, hourly, minutely, secondly, microsecond or none (default).
    granularity: Option<String>,
    custom_interval: Option<u32>,
    /// Points per cycle; detected when absent, 0 for none.
    period: Option<u32>,
    /// 0 < ratio <= 0.49 (default 0.25).
    max_anomaly_ratio: Option<f64>,
    /// 0..100 (default 99); lower means wider margins.
    sensitivity: Option<u32>,
    /// auto (default), previous, linear, fixed, zero or notFill.
    impute_mode: Option<String>,
    impute_fixed_value: Option<f64>,
    /// changepoint only: points on each side that must hold a stable trend (3 to under half the series).
    stable_trend_window: Option<u32>,
    /// changepoint only: 0.01..0.99 (default 0.9).
    threshold: Option<f64>,
}

/// The answer of `entire/detect`; one entry per point in each array.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnivariateEntireDetectionResult {
    period: usize,
    expected_values: Vec<f64>,
    upper_margins: Vec<f64>,
    lower_margins: Vec<f64>,
    is_anomaly: Vec<bool>,
    is_negative_anomaly: Vec<bool>,
    is_positive_anomaly: Vec<bool>,
    severity: Vec<f64>,
}

/// The answer of `last/detect`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnivariateLastDetectionResult {
    period: usize,
    suggested_window: usize,
    expected_value: f64,
    upper_margin: f64,
    lower_margin: f64,
    is_anomaly: bool,
    is_negative_anomaly: bool,
    is_positive_anomaly: bool,
    severity: f64,
}

/// The answer of `changepoint/detect`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnivariateChangePointDetectionResult {
    period: usize,
    is_change_point: Vec<bool>,
    confidence_scores: Vec<f64>,
}

impl From<anomaly::EntireResult> for UnivariateEntireDetectionResult {
    fn from(r: anomaly::EntireResult) -> Self {
        Self {
            period: r.period,
            expected_values: r.expected_values,
            upper_margins: r.upper_margins,
            lower_margins: r.lower_margins,
            is_anomaly: r.is_anomaly,
            is_negative_anomaly: r.is_negative_anomaly,
            is_positive_anomaly: r.is_positive_anomaly,
            severity: r.severity,
        }
    }
}

impl From<anomaly::LastResult> for UnivariateLastDetectionResult {
    fn from(r: anomaly::LastResult) -> Self {
        Self {
            period: r.period,
            suggested_window: r.suggested_window,
            expected_value: r.expected_value,
            upper_margin: r.upper_margin,
            lower_margin: r.lower_margin,
            is_anomaly: r.is_anomaly,
            is_negative_anomaly: r.is_negative_anomaly,
            is_positive_anomaly: r.is_positive_anomaly,
            severity: r.severity,
        }
    }
}

impl From<anomaly::ChangePointResult> for UnivariateChangePointDetectionResult {
    fn from(r: anomaly::ChangePointResult) -> Self {
        Self { period: r.period, is_change_point: r.is_change_point, confidence_scores: r.confidence_scores }
    }
}

/// Checks the version, reads the JSON body, parses it with `parse` and runs `detect` on the
/// blocking pool; a refused request is a 400 in Anomaly Detector's flat shape.
async fn run<O, R, A>(
    state: &AppState,
    version: &str,
    req: &HttpRequest,
    payload: web::Payload,
    parse: fn(&serde_json::Value) -> Result<O, AnomalyError>,
    detect: fn(&O) -> R,
) -> ApiResult<HttpResponse>
where
    O: Send + 'static,
    R: Into<A> + Send + 'static,
    A: Serialize,
{
    crate::engines::enabled(state, SERVICE)?;
    if !VERSIONS.contains(&version) {
        return Ok(flat_error(StatusCode::NOT_FOUND, "NotFound", "Resource not found"));
    }
    let body = read_limited(req, payload, MAX_BODY_BYTES).await?;
    let json: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(json) => json,
        Err(_) if body.is_empty() => {
            return Ok(flat_error(
                StatusCode::BAD_REQUEST,
                "InvalidJsonFormat",
                "Invalid Json Format, input data is Empty.",
            ));
        }
        Err(e) => {
            let message = format!("Invalid Json Format: {e}.");
            return Ok(flat_error(StatusCode::BAD_REQUEST, "InvalidJsonFormat", &message));
        }
    };
    let options = match parse(&json) {
        Ok(options) => options,
        Err(e) => return Ok(flat_error(StatusCode::BAD_REQUEST, e.code, &e.message)),
    };
    drop(json);
    let result = web::block(move || detect(&options))
        .await
        .map_err(|e| ApiError(cogway_core::ServiceError::internal(format!("anomaly detection: {e}"))))?;
    Ok(HttpResponse::Ok().json(result.into()))
}

/// Detect anomalies in a whole series.
#[utoipa::path(post, path = "/anomalydetector/{version}/timeseries/entire/detect", tag = "Anomaly Detector",
    params(("version" = String, Path, description = "v1.1 (or v1.0)")),
    request_body = UnivariateDetectionOptions,
    responses((status = 200, body = UnivariateEntireDetectionResult),
              (status = 400, description = "Azure's codes: InvalidSeries, InvalidGranularity, InvalidModelArgument, ... (flat {code, message} body, x-ms-error-code)"),
              (status = 413, description = "body over 2 MiB")),
    security(("key" = []), ("bearer" = [])))]
pub async fn entire(
    _caller: Caller,
    state: web::Data<AppState>,
    version: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    run::<_, _, UnivariateEntireDetectionResult>(
        &state,
        &version,
        &req,
        payload,
        DetectOptions::from_json,
        anomaly::detect::entire,
    )
    .await
}

/// Judge the last point of a series against the points before it.
#[utoipa::path(post, path = "/anomalydetector/{version}/timeseries/last/detect", tag = "Anomaly Detector",
    params(("version" = String, Path, description = "v1.1 (or v1.0)")),
    request_body = UnivariateDetectionOptions,
    responses((status = 200, body = UnivariateLastDetectionResult),
              (status = 400, description = "as entire/detect"), (status = 413, description = "body over 2 MiB")),
    security(("key" = []), ("bearer" = [])))]
pub async fn last(
    _caller: Caller,
    state: web::Data<AppState>,
    version: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    run::<_, _, UnivariateLastDetectionResult>(
        &state,
        &version,
        &req,
        payload,
        DetectOptions::from_json,
        anomaly::detect::last,
    )
    .await
}

/// Find where the trend of a series changes.
#[utoipa::path(post, path = "/anomalydetector/{version}/timeseries/changepoint/detect", tag = "Anomaly Detector",
    params(("version" = String, Path, description = "v1.1 (or v1.0)")),
    request_body = UnivariateDetectionOptions,
    responses((status = 200, body = UnivariateChangePointDetectionResult),
              (status = 400, description = "as entire/detect, and RequiredGranularity"),
              (status = 413, description = "body over 2 MiB")),
    security(("key" = []), ("bearer" = [])))]
pub async fn change_point(
    _caller: Caller,
    state: web::Data<AppState>,
    version: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    run::<_, _, UnivariateChangePointDetectionResult>(
        &state,
        &version,
        &req,
        payload,
        ChangePointOptions::from_json,
        anomaly::changepoint::detect,
    )
    .await
}
