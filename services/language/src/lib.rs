//! Cogway's Language service: the analyses behind Azure's `analyze-text` kinds, with no HTTP in
//! sight. The gateway owns the request and response shapes; this crate owns the answers.

pub mod classify;
pub mod clu;
pub mod detect;
pub mod embeddings;
pub mod entities;
pub mod keyphrases;
pub mod ner;
pub mod pii;
pub mod qna;
pub mod sentences;
pub mod sentiment;
pub mod service;
pub mod summarize;
pub mod units;

pub use cogway_core::ModelStatus;
pub use service::{LanguageConfig, LanguageService, MAX_DOCUMENT_CHARS};
