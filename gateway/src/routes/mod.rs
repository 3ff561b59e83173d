//! HTTP routes, one module per resource.

pub mod admin;
pub mod body;
pub mod decision;
pub mod form;
pub mod language;
pub mod query;
pub mod speech;
pub mod sts;
pub mod system;
pub mod translator;
pub mod vision;
