//! The one table of error codes.
//!
//! Every failure a client can see has a [`Code`]; the table below gives its HTTP status and the
//! Azure error code (and inner error code) used in the body. The match arms are exhaustive on
//! purpose: a new code forces a decision about its status.

use std::fmt;

/// Every error code a client of Cogway can receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// The request is not valid (generic).
    InvalidRequest,
    /// The request body is not valid JSON or does not match the expected shape.
    InvalidRequestBodyFormat,
    /// A parameter has an invalid value.
    InvalidParameterValue,
    /// The batch of documents is invalid (too many, none, duplicate ids).
    InvalidDocumentBatch,
    /// No documents were sent.
    MissingInputDocuments,
    /// One document is invalid (too long, empty); reported per document.
    InvalidDocument,
    /// The language code is not supported; reported per document.
    UnsupportedLanguageCode,
    /// The audio in the request could not be decoded (not audio, corrupt, unsupported codec, empty).
    InvalidAudio,
    /// The image could not be decoded (not an image, corrupt, truncated, unsupported format).
    InvalidImageFormat,
    /// The image is empty, too large (bytes) or its dimensions are out of range.
    InvalidImageSize,
    /// An image URL that is malformed, not allowed or could not be fetched.
    InvalidImageUrl,
    /// A visual feature this server has no model for (captions) or does not know.
    NotSupportedVisualFeature,
    /// The `kind` of analysis is not supported.
    UnsupportedTask,
    /// The api-version is missing or not supported.
    InvalidApiVersion,
    /// No or a wrong key / token.
    Unauthorized,
    /// The key is valid but may not use this service.
    Forbidden,
    /// No such route or resource.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request body is larger than the service accepts.
    PayloadTooLarge,
    /// The client did not send its whole request body in time.
    RequestTimeout,
    /// The Content-Type is not one the route accepts.
    UnsupportedMediaType,
    /// The key's requests-per-second limit was hit.
    RateLimited,
    /// The key's hourly quota is used up.
    QuotaExceeded,
    /// The model behind the service is not loaded.
    ModelNotReady,
    /// Too much work in flight; try again shortly.
    Overloaded,
    /// The resource exists but is not in a state that allows the call (e.g. an untrained model).
    Conflict,
    /// A bug or an unexpected failure inside Cogway.
    Internal,
}

impl Code {
    /// The HTTP status this code is answered with.
    pub fn http_status(self) -> u16 {
        match self {
            Code::InvalidRequest
            | Code::InvalidRequestBodyFormat
            | Code::InvalidParameterValue
            | Code::InvalidDocumentBatch
            | Code::MissingInputDocuments
            | Code::InvalidDocument
            | Code::UnsupportedLanguageCode
            | Code::UnsupportedTask
            | Code::InvalidAudio
            | Code::InvalidImageFormat
            | Code::InvalidImageSize
            | Code::InvalidImageUrl
            | Code::NotSupportedVisualFeature
            | Code::InvalidApiVersion => 400,
            Code::Unauthorized => 401,
            Code::Forbidden => 403,
            Code::NotFound => 404,
            Code::MethodNotAllowed => 405,
            Code::RequestTimeout => 408,
            Code::Conflict => 409,
            Code::PayloadTooLarge => 413,
            Code::UnsupportedMediaType => 415,
            Code::RateLimited | Code::QuotaExceeded => 429,
            Code::Internal => 500,
            Code::ModelNotReady | Code::Overloaded => 503,
        }
    }

    /// The Azure `error.code` string, and the `innererror.code` when Azure nests one.
    pub fn azure_codes(self) -> (&'static str, Option<&'static str>) {
        match self {
            Code::InvalidRequest => ("InvalidRequest", None),
            Code::InvalidRequestBodyFormat => ("InvalidRequest", Some("InvalidRequestBodyFormat")),
            Code::InvalidParameterValue => ("InvalidRequest", Some("InvalidParameterValue")),
            Code::InvalidDocumentBatch => ("InvalidRequest", Some("InvalidDocumentBatch")),
            Code::MissingInputDocuments => ("InvalidRequest", Some("MissingInputDocuments")),
            Code::InvalidDocument => ("InvalidArgument", Some("InvalidDocument")),
            Code::UnsupportedLanguageCode => ("InvalidArgument", Some("UnsupportedLanguageCode")),
            Code::UnsupportedTask => ("InvalidRequest", Some("UnsupportedTask")),
            Code::InvalidAudio => ("InvalidRequest", Some("InvalidAudioFormat")),
            Code::InvalidImageFormat => ("InvalidRequest", Some("InvalidImageFormat")),
            Code::InvalidImageSize => ("InvalidRequest", Some("InvalidImageSize")),
            Code::InvalidImageUrl => ("InvalidRequest", Some("InvalidImageUrl")),
            Code::NotSupportedVisualFeature => ("InvalidRequest", Some("NotSupportedVisualFeature")),
            Code::InvalidApiVersion => ("InvalidRequest", Some("InvalidApiVersion")),
            Code::Unauthorized => ("401", None),
            Code::Forbidden => ("403", None),
            Code::NotFound => ("404", None),
            Code::MethodNotAllowed => ("405", None),
            Code::Conflict => ("Conflict", None),
            Code::RequestTimeout => ("InvalidRequest", Some("RequestTimeout")),
            Code::PayloadTooLarge => ("InvalidRequest", Some("RequestTooLarge")),
            Code::UnsupportedMediaType => ("InvalidRequest", Some("UnsupportedMediaType")),
            Code::RateLimited => ("429", None),
            Code::QuotaExceeded => ("429", Some("QuotaExceeded")),
            Code::ModelNotReady => ("ServiceUnavailable", Some("ModelNotReady")),
            Code::Overloaded => ("ServiceUnavailable", Some("Overloaded")),
            Code::Internal => ("InternalServerError", None),
        }
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (code, inner) = self.azure_codes();
        match inner {
            Some(inner) => write!(f, "{code}/{inner}"),
            None => f.write_str(code),
        }
    }
}

/// An error from a service, with the code that decides how the client sees it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct ServiceError {
    pub code: Code,
    pub message: String,
    /// Seconds the client should wait before retrying (429 and 503).
    pub retry_after: Option<u64>,
    /// A finer numeric code where the Azure API has one (Translator's six-digit codes such as
    /// 400036); APIs without such codes ignore it.
    pub subcode: Option<u32>,
}

impl ServiceError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), retry_after: None, subcode: None }
    }

    pub fn with_subcode(mut self, subcode: u32) -> Self {
        self.subcode = Some(subcode);
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::InvalidParameterValue, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }

    pub fn model_not_ready(model: &str) -> Self {
        Self::new(
            Code::ModelNotReady,
            format!("The model '{model}' is not installed. Run `make models` (scripts/setup.sh) and restart."),
        )
        .with_retry_after(30)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_limit_code_is_retryable_status() {
        assert_eq!(Code::RateLimited.http_status(), 429);
        assert_eq!(Code::Overloaded.http_status(), 503);
        assert_eq!(ServiceError::new(Code::Overloaded, "x").with_retry_after(0).retry_after, Some(1));
    }

    #[test]
    fn display_shows_inner_code() {
        assert_eq!(Code::InvalidDocument.to_string(), "InvalidArgument/InvalidDocument");
        assert_eq!(Code::Unauthorized.to_string(), "401");
    }
}
