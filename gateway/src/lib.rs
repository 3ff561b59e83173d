//! The Cogway gateway: HTTP (actix-web), auth, limits, configuration and the CLI's building blocks.
//! Services know nothing of HTTP; this crate maps their answers and errors onto Azure's REST shapes.

pub mod app;
pub mod auth;
pub mod blobs;
pub mod db;
pub mod engines;
pub mod errors;
#[doc(hidden)]
pub mod fuzzing;
pub mod jobs;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod middleware;
pub mod model_store;
pub mod openapi;
pub mod owners;
pub mod routes;
pub mod service;
pub mod settings;
pub mod shared;
pub mod store;

pub use app::{Application, configure};
pub use settings::Settings;
