//! Cogway's shared core: what every service crate and the gateway agree on.
//!
//! - [`error`]: one table of error codes (Azure names, HTTP statuses) and the [`ServiceError`] every
//!   service returns; the gateway turns it into the Azure error body.
//! - [`worker`]: runs blocking model calls on a dedicated thread fed by a bounded queue, batching
//!   what is waiting; a full queue is refused at once (the gateway answers 503 + `Retry-After`).

pub mod error;
pub mod onnx;
pub mod paths;
pub mod worker;

pub use error::{Code, ServiceError};

/// Whether one model of a service is loaded, for `/ready` and `/status`.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub name: &'static str,
    pub ready: bool,
    /// Why it is not ready.
    pub detail: Option<String>,
}
pub use worker::{BatchModel, Worker, WorkerStats};
