//! Middleware: request ids, metrics and logs for every request. (Load shedding is in `auth::Caller`,
//! after authentication.)

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::app::AppState;
use crate::metrics::service_of;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-requestid");
static APIM_REQUEST_ID: HeaderName = HeaderName::from_static("apim-request-id");

/// Gives every response an `X-RequestId` (and Azure's `apim-request-id`), counts and times it.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let id = uuid::Uuid::new_v4().to_string();
    let service = service_of(req.path());
    let method = req.method().clone();
    let path = req.path().to_string();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let mut response = next.call(req).await?;
    let status = response.status();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID.clone(), value.clone());
        response.headers_mut().insert(APIM_REQUEST_ID.clone(), value);
    }
    let elapsed = started.elapsed();
    if let Some(state) = state {
        let class = format!("{}xx", status.as_u16() / 100);
        state.metrics.requests.with_label_values(&[service, class.as_str()]).inc();
        state.metrics.latency.with_label_values(&[service]).observe(elapsed.as_secs_f64());
    }
    tracing::info!(
        request_id = %id, %method, %path, status = status.as_u16(), ms = elapsed.as_millis() as u64, "request"
    );
    Ok(response)
}
