//! Conversational language understanding (CLU, the successor of LUIS): intents and entities of
//! an utterance, learned from a project's labelled utterances.
//!
//! - Intents: a softmax classifier on MiniLM sentence embeddings ([`crate::classify`]).
//! - Learned entities: a token-level sequence model ([`tagger`]) that also sees spaCy's named
//!   entities, so that it generalises to names it never saw.
//! - List entities: the synonyms of each list key, matched as whole words without case.
//! - Prebuilt entities: the named entities of spaCy's model under CLU's prebuilt names
//!   (`DateTime`, `Number`, `Geography.Location`, ...).
//!
//! The project and the model are plain data (serde) that the gateway stores.

pub mod project;
pub mod tagger;

use cogway_core::ServiceError;
use serde::{Deserialize, Serialize};

use crate::LanguageService;
use crate::classify::{self, Classifier};
use project::Assets;
use tagger::{Sentence, Tagger, bio, tokens};

/// The intent every project has, given when nothing else is confident enough.
pub const NONE_INTENT: &str = "None";

/// A list entity's key and its synonyms (lower case).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ListKey {
    pub category: String,
    pub key: String,
    pub synonyms: Vec<String>,
}

/// A trained CLU model.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CluModel {
    pub intents: Classifier,
    pub tagger: Tagger,
    pub lists: Vec<ListKey>,
    /// (entity category, prebuilt component) pairs.
    pub prebuilts: Vec<(String, String)>,
    /// Below this confidence the top intent is `None`.
    pub confidence_threshold: f64,
}

/// An entity found in an utterance (byte range).
#[derive(Debug, Clone, PartialEq)]
pub struct FoundEntity {
    pub category: String,
    pub start: usize,
    pub end: usize,
    pub confidence: f64,
    /// The list key, for a list entity.
    pub list_key: Option<String>,
    /// For a prebuilt match, its subtype (`datetime.date`, `quantity.number`, ...).
    pub prebuilt: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CluPrediction {
    pub top_intent: String,
    /// Every intent with its confidence, most likely first.
    pub intents: Vec<(String, f64)>,
    pub entities: Vec<FoundEntity>,
}

/// What training reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TrainingReport {
    pub utterances: usize,
    pub intent_accuracy: Option<f64>,
}

/// CLU's prebuilt component for one of spaCy's labels (the names of CLU's prebuilt catalog).
fn prebuilt_name(label: &str) -> Option<&'static str> {
    Some(match label {
        "DATE" | "TIME" => "DateTime",
        "CARDINAL" => "Quantity.Number",
        "ORDINAL" => "Quantity.Ordinal",
        "PERCENT" => "Quantity.Percentage",
        "MONEY" => "Quantity.Currency",
        "QUANTITY" => "Quantity.Dimension",
        "GPE" | "LOC" | "FAC" => "Geography.Location",
        "PERSON" => "Person.Name",
        "ORG" => "General.Organization",
        "EVENT" => "General.Event",
        "PRODUCT" => "General.Product",
        _ => return None,
    })
}

/// The entity subtype CLU reports for a prebuilt match (`datetime.date`, `quantity.number`, ...).
fn subtype(label: &str, text: &str) -> Option<String> {
    let (category, sub) = crate::entities::azure_category(label, text)?;
    Some(match sub {
        Some(sub) => format!("{category}.{sub}").to_lowercase(),
        None => category.to_lowercase(),
    })
}

/// Byte ranges of whole-word, case-insensitive occurrences of `needle` in `text`.
fn find_words(text: &str, needle: &str) -> Vec<(usize, usize)> {
    let (hay, needle) = (text.to_lowercase(), needle.to_lowercase());
    if needle.is_empty() || hay.len() != text.len() {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = hay[from..].find(&needle) {
        let (s, e) = (from + i, from + i + needle.len());
        let before = s == 0 || !hay[..s].chars().last().is_some_and(char::is_alphanumeric);
        let after = e == hay.len() || !hay[e..].chars().next().is_some_and(char::is_alphanumeric);
        if before && after {
            out.push((s, e));
        }
        from = s + needle.len().max(1);
        while !hay.is_char_boundary(from) {
            from += 1;
        }
    }
    out
}

impl LanguageService {
    /// spaCy's entity label of each token (English only; other languages get none).
    fn token_labels(&self, texts: &[&str], language: &str) -> Vec<Vec<(usize, usize, String)>> {
        match self.recognizer() {
            Some(recognizer) if language.to_ascii_lowercase().starts_with("en") => recognizer
                .recognize_documents(texts)
                .into_iter()
                .map(|found| found.into_iter().map(|e| (e.start, e.end, e.label)).collect())
                .collect(),
            _ => texts.iter().map(|_| Vec::new()).collect(),
        }
    }

    /// Trains a model on the project's utterances (their entity offsets already in bytes).
    pub async fn train_clu(
        &self,
        assets: &Assets,
        language: &str,
        threshold: f64,
    ) -> Result<(CluModel, TrainingReport), ServiceError> {
        let utterances = &assets.utterances;
        if utterances.is_empty() {
            return Err(ServiceError::invalid("The project has no utterances to train on."));
        }
        let texts: Vec<String> = utterances.iter().map(|u| u.text.clone()).collect();
        let vectors = self.embed(texts.clone()).await?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let labels = self.token_labels(&refs, language);
        let mut examples: Vec<(Vec<f32>, String)> =
            vectors.into_iter().zip(utterances).map(|(v, u)| (v, u.intent.clone())).collect();
        // Every project knows the None intent; without examples it never wins.
        if !examples.iter().any(|(_, i)| i == NONE_INTENT) && examples.len() >= 2 {
            let dims = examples[0].0.len();
            examples.push((vec![0.0; dims], NONE_INTENT.to_string()));
        }
        let (intents, evaluation) = classify::train(&examples, 0.2)?;
        let sentences: Vec<Sentence> = utterances
            .iter()
            .zip(&labels)
            .map(|(u, found)| {
                let tokens = tokens(&u.text);
                let ner = tokens
                    .iter()
                    .map(|t| found.iter().find(|(s, e, _)| t.start >= *s && t.end <= *e).map(|(_, _, l)| l.clone()))
                    .collect();
                let spans: Vec<(String, usize, usize)> =
                    u.entities.iter().map(|e| (e.category.clone(), e.offset, e.offset + e.length)).collect();
                Sentence { tags: bio(&tokens, &spans), tokens, ner }
            })
            .collect();
        let tagger = Tagger::train(&sentences);
        let lists = assets
            .entities
            .iter()
            .flat_map(|entity| {
                entity.list.iter().flat_map(|list| list.sublists.iter()).map(|sub| ListKey {
                    category: entity.category.clone(),
                    key: sub.list_key.clone(),
                    synonyms: std::iter::once(sub.list_key.clone())
                        .chain(sub.synonyms.iter().flat_map(|s| s.values.iter().cloned()))
                        .map(|s| s.to_lowercase())
                        .collect(),
                })
            })
            .collect();
        let prebuilts = assets
            .entities
            .iter()
            .flat_map(|e| e.prebuilts.iter().map(|p| (e.category.clone(), p.category.clone())))
            .collect();
        let report = TrainingReport { utterances: utterances.len(), intent_accuracy: evaluation.accuracy };
        Ok((CluModel { intents, tagger, lists, prebuilts, confidence_threshold: threshold }, report))
    }

    /// Intents and entities of one utterance.
    pub async fn predict_clu(
        &self,
        model: &CluModel,
        text: &str,
        language: &str,
    ) -> Result<CluPrediction, ServiceError> {
        let vector = self.embed(vec![text.to_string()]).await?.pop().unwrap_or_default();
        let intents: Vec<(String, f64)> = model.intents.predict(&vector);
        let top_intent = match intents.first() {
            Some((name, p)) if *p >= model.confidence_threshold => name.clone(),
            _ => NONE_INTENT.to_string(),
        };
        let found = self.token_labels(&[text], language).pop().unwrap_or_default();
        let tokens = tokens(text);
        let ner: Vec<Option<String>> = tokens
            .iter()
            .map(|t| found.iter().find(|(s, e, _)| t.start >= *s && t.end <= *e).map(|(_, _, l)| l.clone()))
            .collect();
        let mut entities: Vec<FoundEntity> = model
            .tagger
            .tag(&tokens, &ner)
            .into_iter()
            .map(|(category, a, b, confidence)| FoundEntity {
                category,
                start: tokens[a].start,
                end: tokens[b].end,
                confidence: f64::from(confidence),
                list_key: None,
                prebuilt: None,
            })
            .collect();
        let overlaps = |entities: &[FoundEntity], s: usize, e: usize| entities.iter().any(|x| s < x.end && x.start < e);
        for list in &model.lists {
            for synonym in &list.synonyms {
                for (s, e) in find_words(text, synonym) {
                    if !overlaps(&entities, s, e) {
                        entities.push(FoundEntity {
                            category: list.category.clone(),
                            start: s,
                            end: e,
                            confidence: 1.0,
                            list_key: Some(list.key.clone()),
                            prebuilt: None,
                        });
                    }
                }
            }
        }
        for (start, end, label) in &found {
            let Some(name) = prebuilt_name(label) else { continue };
            for (category, component) in &model.prebuilts {
                if component.eq_ignore_ascii_case(name) && !overlaps(&entities, *start, *end) {
                    entities.push(FoundEntity {
                        category: category.clone(),
                        start: *start,
                        end: *end,
                        confidence: 1.0,
                        list_key: None,
                        prebuilt: subtype(label, &text[*start..*end]).or_else(|| Some(name.to_lowercase())),
                    });
                }
            }
        }
        entities.sort_by_key(|e| e.start);
        Ok(CluPrediction { top_intent, intents, entities })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_synonyms_match_whole_words_only() {
        assert_eq!(find_words("Fly Economy class, not economyplus", "economy"), [(4, 11)]);
        assert_eq!(find_words("a B c", "b"), [(2, 3)]);
        assert!(find_words("abc", "").is_empty());
    }
}
