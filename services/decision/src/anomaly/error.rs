//! A refused anomaly detection request: Azure's error code (`AnomalyDetectorErrorCodes`) and its
//! message, which the gateway answers with status 400 in Anomaly Detector's flat error body.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct AnomalyError {
    pub code: &'static str,
    pub message: String,
}

impl AnomalyError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }

    pub(crate) fn bad_argument(message: impl Into<String>) -> Self {
        Self::new("BadArgument", message)
    }

    pub(crate) fn invalid_series(message: impl Into<String>) -> Self {
        Self::new("InvalidSeries", message)
    }

    pub(crate) fn invalid_model_argument(message: impl Into<String>) -> Self {
        Self::new("InvalidModelArgument", message)
    }
}
