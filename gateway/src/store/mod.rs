//! Persistence of each resource behind one interface, the same on SQLite and Postgres (the `Any`
//! pool of `crate::db`): route handlers call these and never write SQL themselves. Jobs have
//! theirs in `crate::jobs::store`, keys in `crate::keys`, usage in `crate::limits`.
//!
//! Every customization is here: glossaries, custom speech models and lexicons, classification
//! projects, custom vision projects, question answering and conversational language understanding projects. (`crate::owners` still holds the owner-resolution and
//! per-key count statements the customizations share.)

pub mod authoring_jobs;
pub mod classification_projects;
pub mod clu_projects;
pub mod glossaries;
pub mod personalizer;
pub mod qna_projects;
pub mod safety_blocklists;
pub mod speech_customizations;
pub mod vision_projects;
