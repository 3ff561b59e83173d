//! Errors as Azure answers them: `{"error":{"code","message","innererror":{"code","message"}}}`
//! with the status from the one code table in `cogway_core::error`, and `Retry-After` on 429/503.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::{HttpResponse, ResponseError};
use cogway_core::{Code, ServiceError};
use serde_json::json;

/// A failed request. Wraps the service error so every path shares one body format.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub ServiceError);

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self(ServiceError::new(code, message))
    }

    pub fn code(&self) -> Code {
        self.0.code
    }
}

/// The JSON body of an error.
pub fn error_body(err: &ServiceError) -> serde_json::Value {
    let (code, inner) = err.code.azure_codes();
    match inner {
        Some(inner) => json!({
            "error": { "code": code, "message": err.message, "innererror": { "code": inner, "message": err.message } }
        }),
        None => json!({ "error": { "code": code, "message": err.message } }),
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if let Some(seconds) = self.0.retry_after {
            response.insert_header((RETRY_AFTER, HeaderValue::from(seconds)));
        }
        if self.0.code == Code::Internal {
            tracing::error!(error = %self.0.message, "internal error");
        }
        response.json(error_body(&self.0))
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::new(Code::Internal, format!("database: {e}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The 404 for unknown routes, in the same shape.
pub async fn not_found() -> ApiResult<HttpResponse> {
    Err(ApiError::new(Code::NotFound, "Resource not found. Check the route and the api-version."))
}
