//! Univariate anomaly detection, as Azure's Anomaly Detector (v1.1) answers it: the request's
//! checks and errors, the series on its time grid, the period, the models (seasonal
//! decomposition, spectral residual, robust trend), margins and severity, and change points.

pub mod changepoint;
pub mod detect;
pub mod error;
pub mod grid;
pub mod options;
pub mod period;
pub mod robust;
pub mod seasonal;
pub mod spectral_residual;

pub use changepoint::ChangePointResult;
pub use detect::{EntireResult, LastResult};
pub use error::AnomalyError;
pub use options::{ChangePointOptions, DetectOptions};
