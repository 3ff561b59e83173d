//! The process-wide ONNX Runtime environment.
//!
//! ONNX Runtime is loaded at run time from the shared library the model store unpacks from the
//! PyPI `onnxruntime` wheel (ort's `load-dynamic`): nothing is downloaded at build time. ONNX
//! Runtime allows one environment per process, so every service shares this one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ort::environment::Environment;
use ort::session::Session;

use crate::error::ServiceError;

static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

/// Loads ONNX Runtime from `library` once; later calls return the same environment (or error).
pub fn environment(library: &Path) -> Result<&'static Environment, ServiceError> {
    let env = ENVIRONMENT.get_or_init(|| {
        if !library.exists() {
            return Err(format!("ONNX Runtime library not found at {} (run `make models`)", library.display()));
        }
        ort::init_from(library)
            .map_err(|e| format!("cannot load ONNX Runtime from {}: {e}", library.display()))?
            .with_name("cogway")
            .with_telemetry(false)
            .build()
            .map_err(|e| format!("cannot create the ONNX Runtime environment: {e}"))
    });
    env.as_ref().map_err(|e| ServiceError::internal(e.clone()))
}

/// Opens an ONNX model with `threads` intra-op threads.
pub fn session(library: &Path, model: &Path, threads: usize) -> Result<Session, ServiceError> {
    let env = environment(library)?;
    let fail = |e: ort::Error| ServiceError::internal(format!("cannot load {}: {e}", model.display()));
    Session::builder(env)
        .map_err(fail)?
        .with_intra_threads(threads.max(1))
        .map_err(|e| fail(e.into()))?
        .commit_from_file(model)
        .map_err(fail)
}

/// Where the model store puts a model's files.
pub fn model_path(models_dir: &Path, model: &str, file: &str) -> PathBuf {
    models_dir.join(model).join(file)
}
