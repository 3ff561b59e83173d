//! Cogway's Translation service (no HTTP here; the gateway maps it to Azure Translator v3 and
//! LibreTranslate routes).
//!
//! - [`apertium`]: rule-based pairs from Debian's Apertium packages on persistent pipelines, and
//!   dictionary lookup on their dictionaries.
//! - [`neural`]: CTranslate2 (OPUS-MT / Argos) models through ct2rs.
//! - [`service`]: routing (neural over rule-based, one pivot when no pair is direct).
//! - [`plan`]: a request's elements grouped by source language, each group with its route and
//!   glossary, planned before anything is charged, then run.
//! - [`pieces`], [`markup`], [`glossary`]: text as translatable and kept runs (HTML, dynamic
//!   dictionary markup, user glossaries).
//! - [`sentences`], [`transliterate`]: sentence breaking (ICU4X) and script conversion.

pub mod apertium;
pub mod glossary;
pub mod languages;
pub mod markup;
pub mod neural;
pub mod pieces;
pub mod plan;
pub mod profanity;
pub mod sentences;
pub mod service;
pub mod transliterate;

pub use plan::{Category, PairGlossary, Plan, PlanError, PlanOutput, UNDETERMINED};
pub use service::{Route, Translated, TranslationConfig, TranslationService};
