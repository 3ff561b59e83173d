//! Translation planning: how the elements of one request reach a target language.
//!
//! Elements are grouped by source language; each group gets a [`Route`] (a direct engine or one
//! pivot) and, when the request's category names a glossary of that pair, the glossary. A plan is
//! made before anything is charged or translated, so an unreachable pair or a category that fits
//! nothing fails first; [`TranslationService::run_plan`] then translates every group.
//!
//! Detection is not here: the caller gives each element's source language (the request's
//! `from`, a detector's answer, or Whisper's language in the speech chain).

use std::collections::BTreeMap;

use cogway_core::ServiceError;

use crate::glossary::Glossary;
use crate::pieces::Segment;
use crate::service::{Route, TranslationService};

/// The source language of an element no language was detected in (digits, symbols, empty): such
/// elements are returned as they are.
pub const UNDETERMINED: &str = "und";

/// A request's `category`: a model name, or the name of one of the caller's glossaries (then
/// `glossary` is that glossary and its pair, looked up by the caller).
#[derive(Debug, Clone, Copy)]
pub struct Category<'a> {
    pub name: &'a str,
    pub glossary: Option<&'a PairGlossary>,
}

/// A glossary and the pair it is for.
#[derive(Debug, Clone)]
pub struct PairGlossary {
    pub from: String,
    pub to: String,
    pub glossary: Glossary,
}

/// Why a target cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("Translation from {from} into {to} is not supported (no engine, directly or through one pivot).")]
    PairUnsupported { from: String, to: String },
    #[error("The category {category:?} is neither a glossary nor a model for {from} -> {to}.")]
    CategoryInvalid { category: String, from: String, to: String },
}

/// The elements of one source language and how they reach the target.
struct Group {
    from: String,
    indices: Vec<usize>,
    glossary: Option<Glossary>,
    route: Route,
}

/// How a request's elements reach one target language.
pub struct Plan {
    to: String,
    groups: Vec<Group>,
}

impl Plan {
    pub fn to(&self) -> &str {
        &self.to
    }
}

/// A plan's output: the segments in element order, and one `from-to=systems` entry per source
/// language that was translated.
#[derive(Debug)]
pub struct PlanOutput {
    pub segments: Vec<Segment>,
    pub systems: Vec<String>,
}

impl TranslationService {
    /// Plans the translation of elements with source languages `sources` into `to`. Elements
    /// already in the target language, or [`UNDETERMINED`], are left as they are (as Azure does).
    pub fn plan(&self, sources: &[String], to: &str, category: Option<Category<'_>>) -> Result<Plan, PlanError> {
        let mut by_source: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, from) in sources.iter().enumerate() {
            by_source.entry(from.as_str()).or_default().push(i);
        }
        let mut groups = Vec::new();
        for (from, indices) in by_source {
            if from == to || from == UNDETERMINED {
                continue;
            }
            let glossary =
                category.and_then(|c| c.glossary).filter(|g| g.from == from && g.to == to).map(|g| g.glossary.clone());
            // A category that is a glossary of this pair uses the default engines; otherwise it
            // names a model.
            let model = if glossary.is_some() { None } else { category.map(|c| c.name) };
            let route = self.route(from, to, model).ok_or_else(|| match model {
                Some(name) => {
                    PlanError::CategoryInvalid { category: name.to_string(), from: from.into(), to: to.into() }
                }
                None => PlanError::PairUnsupported { from: from.into(), to: to.into() },
            })?;
            groups.push(Group { from: from.to_string(), indices, glossary, route });
        }
        Ok(Plan { to: to.to_string(), groups })
    }

    /// Runs a plan over the request's segments (glossaries applied on the blocking pool: linear,
    /// but 50,000 characters against thousands of terms take milliseconds).
    pub async fn run_plan(&self, plan: &Plan, segments: &[Segment]) -> Result<PlanOutput, ServiceError> {
        let mut out: Vec<Segment> = segments.to_vec();
        let mut systems = Vec::with_capacity(plan.groups.len());
        for group in &plan.groups {
            let mut input = Vec::with_capacity(group.indices.len());
            for &i in &group.indices {
                let segment = segments
                    .get(i)
                    .ok_or_else(|| ServiceError::internal(format!("plan element {i} has no segment")))?;
                input.push(segment.clone());
            }
            if let Some(glossary) = &group.glossary {
                let glossary = glossary.clone();
                input = tokio::task::spawn_blocking(move || input.into_iter().map(|s| glossary.apply(s)).collect())
                    .await
                    .map_err(|e| ServiceError::internal(format!("applying the glossary: {e}")))?;
            }
            let translated = self.translate(&group.route, input).await?;
            for (&i, segment) in group.indices.iter().zip(translated.segments) {
                out[i] = segment;
            }
            let mut system = translated.systems.join(">");
            if let Some(pivot) = &translated.pivot {
                system = format!("{system} (pivot {pivot})");
            }
            systems.push(format!("{}-{}={system}", group.from, plan.to));
        }
        Ok(PlanOutput { segments: out, systems })
    }
}
