//! Reading request bodies: the size limit is enforced before the body is read whole (from
//! `Content-Length`, then while streaming), the content type is checked, and bad JSON becomes a
//! 400 in Azure's shape instead of actix's plain-text error.

use actix_web::HttpRequest;
use actix_web::web::{self, BytesMut};
use cogway_core::Code;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::errors::{ApiError, ApiResult};

/// The request's Content-Type as sent (trimmed), or "" when there is none.
pub fn content_type(req: &HttpRequest) -> String {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

/// Checks the name of a stored resource (a project, a model, a lexicon) used in a route path:
/// 1 to `max_len` ASCII letters, digits, '-', '_' or '.'; else 400 with `message`.
pub fn check_resource_name(name: &str, max_len: usize, message: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= max_len
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok { Ok(()) } else { Err(ApiError::new(Code::InvalidParameterValue, message)) }
}

/// A value as JSON text, for storing (serialising our own types cannot fail but for a bug).
pub fn to_json<T: serde::Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(|e| ApiError(cogway_core::ServiceError::internal(e.to_string())))
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(Code::PayloadTooLarge, format!("The request body is larger than the limit of {limit} bytes."))
}

/// How long the request may take to send its body (`server.body_timeout_secs`).
fn body_deadline(req: &HttpRequest) -> std::time::Duration {
    let secs = req.app_data::<web::Data<AppState>>().map_or(120, |state| state.settings.server.body_timeout_secs);
    std::time::Duration::from_secs(secs)
}

/// Runs `read` (a body read) within the request's body deadline: a client that trickles its body
/// gets 408 instead of holding an in-flight permit for as long as it likes.
pub async fn within_body_deadline<T>(
    req: &HttpRequest,
    read: impl std::future::Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let deadline = body_deadline(req);
    tokio::time::timeout(deadline, read).await.unwrap_or_else(|_| {
        Err(ApiError::new(
            Code::RequestTimeout,
            format!("The request body was not received within {} seconds.", deadline.as_secs()),
        ))
    })
}

/// Reads the body, refusing more than `limit` bytes or a body that takes longer than
/// `server.body_timeout_secs` to arrive.
pub async fn read_limited(req: &HttpRequest, payload: web::Payload, limit: usize) -> ApiResult<web::Bytes> {
    within_body_deadline(req, read_limited_untimed(req, payload, limit)).await
}

async fn read_limited_untimed(req: &HttpRequest, mut payload: web::Payload, limit: usize) -> ApiResult<web::Bytes> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::new(Code::InvalidRequest, format!("Reading the request body failed: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads and parses a JSON body of at most `limit` bytes.
pub async fn read_json<T: DeserializeOwned>(req: &HttpRequest, payload: web::Payload, limit: usize) -> ApiResult<T> {
    if let Some(ct) = req.headers().get(actix_web::http::header::CONTENT_TYPE)
        && !ct.to_str().unwrap_or("").to_ascii_lowercase().contains("json")
    {
        return Err(ApiError::new(Code::UnsupportedMediaType, "The Content-Type must be application/json."));
    }
    let body = read_limited(req, payload, limit).await?;
    if body.is_empty() {
        return Err(ApiError::new(Code::InvalidRequestBodyFormat, "The request body is empty; send a JSON document."));
    }
    serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            Code::InvalidRequestBodyFormat,
            format!("The request body is not valid JSON for this route: {e}."),
        )
    })
}
