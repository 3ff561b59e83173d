//! The per-kind analyses over a batch of documents, shared by `:analyze-text`, the v3.1 routes
//! and the jobs API. Batch problems fail the request (400); document problems fail that document
//! alone and are listed in `errors`.

use std::collections::HashSet;
use std::sync::Arc;

use actix_web::web;

use cogway_core::{Code, ServiceError};
use cogway_language::pii::{self, PiiCategory};
use cogway_language::summarize::SortBy;
use cogway_language::units::{OffsetMapper, StringIndexType, grapheme_len};
use cogway_language::{LanguageService, MAX_DOCUMENT_CHARS};
use serde::Serialize;

use super::dto::*;
use super::{custom, language_service};
use crate::app::AppState;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::owners::Owner;

pub const MODEL_VERSION: &str = "2026-11-01";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    LanguageDetection,
    SentimentAnalysis,
    KeyPhraseExtraction,
    EntityRecognition,
    PiiEntityRecognition,
    ExtractiveSummarization,
    CustomSingleLabelClassification,
}

impl Kind {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "LanguageDetection" => Self::LanguageDetection,
            "SentimentAnalysis" => Self::SentimentAnalysis,
            "KeyPhraseExtraction" => Self::KeyPhraseExtraction,
            "EntityRecognition" => Self::EntityRecognition,
            "PiiEntityRecognition" => Self::PiiEntityRecognition,
            "ExtractiveSummarization" => Self::ExtractiveSummarization,
            "CustomSingleLabelClassification" => Self::CustomSingleLabelClassification,
            _ => return None,
        })
    }

    /// Parses a kind, or the 400 `UnsupportedTask` that names the supported ones.
    pub fn require(name: &str) -> ApiResult<Self> {
        Self::parse(name).ok_or_else(|| {
            ApiError::new(
                Code::UnsupportedTask,
                format!(
                    "The kind '{name}' is not supported. Supported: LanguageDetection, SentimentAnalysis, \
                     KeyPhraseExtraction, EntityRecognition, PiiEntityRecognition, ExtractiveSummarization, \
                     CustomSingleLabelClassification."
                ),
            )
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::LanguageDetection => "LanguageDetection",
            Self::SentimentAnalysis => "SentimentAnalysis",
            Self::KeyPhraseExtraction => "KeyPhraseExtraction",
            Self::EntityRecognition => "EntityRecognition",
            Self::PiiEntityRecognition => "PiiEntityRecognition",
            Self::ExtractiveSummarization => "ExtractiveSummarization",
            Self::CustomSingleLabelClassification => "CustomSingleLabelClassification",
        }
    }

    /// Azure's documents-per-request limits.
    pub fn max_documents(self) -> usize {
        match self {
            Self::LanguageDetection => 1000,
            Self::SentimentAnalysis | Self::KeyPhraseExtraction => 10,
            Self::EntityRecognition | Self::PiiEntityRecognition => 5,
            Self::ExtractiveSummarization | Self::CustomSingleLabelClassification => 25,
        }
    }
}

/// Parameters of an analysis, from the body (`parameters`) or the v3.1 query string.
#[derive(Debug, Clone)]
pub struct Options {
    pub string_index_type: StringIndexType,
    pub pii_categories: Option<Vec<PiiCategory>>,
    pub sentence_count: usize,
    pub sort_by: Option<SortBy>,
    pub project_name: Option<String>,
}

impl Default for Options {
    /// Azure's defaults: text-element offsets, every PII category, three summary sentences.
    fn default() -> Self {
        Self {
            string_index_type: StringIndexType::default(),
            pii_categories: None,
            sentence_count: 3,
            sort_by: None,
            project_name: None,
        }
    }
}

impl Options {
    pub fn from_parameters(params: &serde_json::Value) -> ApiResult<Self> {
        let text = |name: &str| params.get(name).and_then(|v| v.as_str());
        let mut options = Options::default();
        if let Some(t) = text("stringIndexType") {
            options.string_index_type = parse_index_type(t)?;
        }
        if let Some(list) = params.get("piiCategories").and_then(|v| v.as_array()) {
            let names: Vec<&str> = list.iter().filter_map(|v| v.as_str()).collect();
            options.pii_categories = Some(parse_pii_categories(&names)?);
        }
        if let Some(n) = params.get("sentenceCount") {
            let n = n.as_u64().filter(|n| (1..=20).contains(n)).ok_or_else(|| {
                ApiError::new(Code::InvalidParameterValue, "sentenceCount must be an integer from 1 to 20.")
            })?;
            options.sentence_count = n as usize;
        }
        if let Some(s) = text("sortBy") {
            options.sort_by = Some(match s {
                "Offset" => SortBy::Offset,
                "Rank" => SortBy::Rank,
                other => {
                    return Err(ApiError::new(
                        Code::InvalidParameterValue,
                        format!("sortBy must be Offset or Rank, not '{other}'."),
                    ));
                }
            });
        }
        options.project_name = text("projectName").map(str::to_string);
        Ok(options)
    }
}

pub fn parse_index_type(name: &str) -> ApiResult<StringIndexType> {
    StringIndexType::parse(name).ok_or_else(|| {
        ApiError::new(
            Code::InvalidParameterValue,
            format!("Invalid stringIndexType '{name}'. Use TextElements_v8, UnicodeCodePoint or Utf16CodeUnit."),
        )
    })
}

pub fn parse_pii_categories(names: &[&str]) -> ApiResult<Vec<PiiCategory>> {
    names
        .iter()
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("All") && !n.eq_ignore_ascii_case("Default"))
        .map(|n| {
            PiiCategory::from_azure_name(n).ok_or_else(|| {
                let known: Vec<&str> = PiiCategory::all().iter().map(|c| c.azure_name()).collect();
                ApiError::new(
                    Code::InvalidParameterValue,
                    format!("Unknown PII category '{n}'. Supported: {}.", known.join(", ")),
                )
            })
        })
        .collect()
}

/// Refuses a batch that is empty, too large, or has duplicate or empty ids (400 for the request).
pub fn validate_batch(documents: &[InputDocument], max: usize) -> ApiResult<()> {
    if documents.is_empty() {
        return Err(ApiError::new(Code::MissingInputDocuments, "Missing input documents."));
    }
    if documents.len() > max {
        return Err(ApiError::new(
            Code::InvalidDocumentBatch,
            format!("Batch request contains too many records. Max {max} records are permitted."),
        ));
    }
    let mut ids = HashSet::new();
    for doc in documents {
        if doc.id.trim().is_empty() {
            return Err(ApiError::new(Code::InvalidDocumentBatch, "Every document needs a non-empty id."));
        }
        if !ids.insert(doc.id.as_str()) {
            return Err(ApiError::new(
                Code::InvalidDocumentBatch,
                "Request contains duplicated Ids. Make sure each document has a unique Id.",
            ));
        }
    }
    Ok(())
}

/// Characters charged for a batch (text elements, as Azure counts them).
pub fn characters(documents: &[InputDocument]) -> u64 {
    documents.iter().map(|d| grapheme_len(&d.text) as u64).sum()
}

pub(crate) fn check_document(doc: &InputDocument) -> Result<(), ServiceError> {
    if doc.text.trim().is_empty() {
        return Err(ServiceError::new(Code::InvalidDocument, "Document text is empty."));
    }
    if grapheme_len(&doc.text) > MAX_DOCUMENT_CHARS {
        return Err(ServiceError::new(
            Code::InvalidDocument,
            format!(
                "A document within the request was too large to be processed. Limit document size to: \
                 {MAX_DOCUMENT_CHARS} text elements."
            ),
        ));
    }
    Ok(())
}

fn language_of(doc: &InputDocument) -> &str {
    doc.language.as_deref().filter(|l| !l.is_empty()).unwrap_or("en")
}

fn document_error(id: &str, err: ServiceError) -> DocumentError {
    let (code, inner) = err.code.azure_codes();
    DocumentError {
        id: id.to_string(),
        error: ErrorDetail {
            code: code.to_string(),
            message: err.message.clone(),
            innererror: inner.map(|c| InnerError { code: c.to_string(), message: err.message }),
        },
    }
}

/// Runs `f` on each valid document, collecting results and per-document errors in input order.
fn collect<T>(documents: &[InputDocument], mut f: impl FnMut(&InputDocument) -> Result<T, ServiceError>) -> Results<T> {
    let mut results = Results { documents: Vec::new(), errors: Vec::new(), model_version: MODEL_VERSION.into() };
    for doc in documents {
        match check_document(doc).and_then(|()| f(doc)) {
            Ok(r) => results.documents.push(r),
            Err(e) => results.errors.push(document_error(&doc.id, e)),
        }
    }
    results
}

fn scores(s: cogway_language::sentiment::Scores) -> ConfidenceScores {
    ConfidenceScores { positive: s.positive, neutral: s.neutral, negative: s.negative }
}

fn to_json<T: Serialize>(results: Results<T>) -> ApiResult<serde_json::Value> {
    serde_json::to_value(results).map_err(|e| ApiError::new(Code::Internal, format!("serializing results: {e}")))
}

/// The synchronous routes' common path: validates the batch, charges its characters to the key and
/// runs the analysis; returns the `results` object.
pub async fn run_batch(
    state: &AppState,
    key: &KeyInfo,
    kind: Kind,
    documents: &[InputDocument],
    options: &Options,
) -> ApiResult<serde_json::Value> {
    validate_batch(documents, kind.max_documents())?;
    let service = language_service(state)?;
    state.usage.charge(key, crate::service::Service::Language, characters(documents)).await?;
    analyze(state, &service, &Owner::from(key), kind, documents, options).await
}

/// Runs one analysis over a validated batch for `owner` (whose classification projects
/// `projectName` names); returns the `results` object. The CPU-bound kinds run on actix's blocking
/// pool, so a large batch never stalls the threads that serve requests.
pub async fn analyze(
    state: &AppState,
    service: &Arc<LanguageService>,
    owner: &Owner,
    kind: Kind,
    documents: &[InputDocument],
    options: &Options,
) -> ApiResult<serde_json::Value> {
    let unit = options.string_index_type;
    match kind {
        Kind::LanguageDetection
        | Kind::SentimentAnalysis
        | Kind::KeyPhraseExtraction
        | Kind::EntityRecognition
        | Kind::PiiEntityRecognition => {
            let (service, documents, options) = (service.clone(), documents.to_vec(), options.clone());
            web::block(move || analyze_cpu(&service, kind, &documents, &options))
                .await
                .map_err(|e| ApiError::new(Code::Internal, format!("analysis worker: {e}")))?
        }
        Kind::ExtractiveSummarization => {
            let mut results =
                Results { documents: Vec::new(), errors: Vec::new(), model_version: MODEL_VERSION.into() };
            for doc in documents {
                if let Err(e) = check_document(doc) {
                    results.errors.push(document_error(&doc.id, e));
                    continue;
                }
                let sort = options.sort_by.unwrap_or(SortBy::Offset);
                let picked = service.summarize(&doc.text, options.sentence_count, sort).await?;
                let mapper = OffsetMapper::new(&doc.text, unit);
                results.documents.push(SummaryDocument {
                    id: doc.id.clone(),
                    sentences: picked
                        .into_iter()
                        .map(|((start, end), ranked)| {
                            let (offset, length) = mapper.span(start, end);
                            SummarySentence {
                                text: doc.text[start..end].to_string(),
                                rank_score: ranked.rank_score,
                                offset,
                                length,
                            }
                        })
                        .collect(),
                    warnings: Vec::new(),
                });
            }
            to_json(results)
        }
        Kind::CustomSingleLabelClassification => {
            let project = options.project_name.as_deref().ok_or_else(|| {
                ApiError::new(
                    Code::InvalidParameterValue,
                    "CustomSingleLabelClassification needs parameters.projectName.",
                )
            })?;
            let classifier = custom::trained_classifier(state, owner, project).await?;
            let valid: Vec<&InputDocument> = documents.iter().filter(|d| check_document(d).is_ok()).collect();
            let vectors = service.embed(valid.iter().map(|d| d.text.clone()).collect()).await?;
            let mut by_id = valid.iter().map(|d| d.id.as_str()).zip(vectors);
            to_json(collect(documents, |doc| {
                let vector = by_id
                    .find(|(id, _)| *id == doc.id)
                    .map(|(_, v)| v)
                    .ok_or_else(|| ServiceError::internal("missing embedding"))?;
                let prediction = classifier.predict(&vector);
                Ok(ClassificationDocument {
                    id: doc.id.clone(),
                    class: prediction
                        .into_iter()
                        .take(1)
                        .map(|(category, p)| ClassificationResult {
                            category,
                            confidence_score: (p * 100.0).round() / 100.0,
                        })
                        .collect(),
                    warnings: Vec::new(),
                })
            }))
        }
    }
}

/// The analyses that need no model worker: detection, sentiment, key phrases, entities and PII.
fn analyze_cpu(
    service: &LanguageService,
    kind: Kind,
    documents: &[InputDocument],
    options: &Options,
) -> ApiResult<serde_json::Value> {
    let unit = options.string_index_type;
    match kind {
        Kind::LanguageDetection => to_json(collect(documents, |doc| {
            let d = service.detect_language(&doc.text, doc.country_hint.as_deref());
            Ok(LanguageDocument {
                id: doc.id.clone(),
                detected_language: DetectedLanguage {
                    name: d.name,
                    iso6391_name: d.iso6391_name,
                    confidence_score: d.confidence,
                },
                warnings: Vec::new(),
            })
        })),
        Kind::SentimentAnalysis => to_json(collect(documents, |doc| {
            let result = service.sentiment(&doc.text, language_of(doc))?;
            let mapper = OffsetMapper::new(&doc.text, unit);
            Ok(SentimentDocument {
                id: doc.id.clone(),
                sentiment: result.label.as_str().into(),
                confidence_scores: scores(result.scores),
                sentences: result
                    .sentences
                    .iter()
                    .map(|s| {
                        let (offset, length) = mapper.span(s.start, s.end);
                        SentenceSentiment {
                            text: doc.text[s.start..s.end].to_string(),
                            sentiment: s.label.as_str().into(),
                            confidence_scores: scores(s.scores),
                            offset,
                            length,
                            targets: Vec::new(),
                            assessments: Vec::new(),
                        }
                    })
                    .collect(),
                warnings: Vec::new(),
            })
        })),
        Kind::KeyPhraseExtraction => to_json(collect(documents, |doc| {
            Ok(KeyPhraseDocument {
                id: doc.id.clone(),
                key_phrases: service.key_phrases(&doc.text, language_of(doc))?,
                warnings: Vec::new(),
            })
        })),
        Kind::EntityRecognition => {
            // A missing model fails the request (503), not each document.
            service.entities_ready()?;
            // The valid documents are recognized together (one network batch).
            let valid: Vec<&InputDocument> = documents.iter().filter(|d| check_document(d).is_ok()).collect();
            let inputs: Vec<(&str, &str)> = valid.iter().map(|d| (d.text.as_str(), language_of(d))).collect();
            let mut found = valid.iter().map(|d| d.id.as_str()).zip(service.entities(&inputs));
            to_json(collect(documents, |doc| {
                let entities = found
                    .find(|(id, _)| *id == doc.id)
                    .map(|(_, r)| r)
                    .ok_or_else(|| ServiceError::internal("missing entities"))??;
                let mapper = OffsetMapper::new(&doc.text, unit);
                Ok(EntityDocument {
                    id: doc.id.clone(),
                    entities: entities
                        .iter()
                        .map(|e| entity(&doc.text, &mapper, (e.start, e.end), e.category, e.subcategory, e.confidence))
                        .collect(),
                    warnings: Vec::new(),
                })
            }))
        }
        Kind::PiiEntityRecognition => to_json(collect(documents, |doc| {
            let found = service.pii(&doc.text, language_of(doc), options.pii_categories.as_deref())?;
            let mapper = OffsetMapper::new(&doc.text, unit);
            Ok(PiiDocument {
                id: doc.id.clone(),
                redacted_text: pii::redact(&doc.text, &found),
                entities: found
                    .iter()
                    .map(|e| {
                        let category = e.category.azure_name();
                        entity(&doc.text, &mapper, (e.start, e.end), category, e.subcategory, e.confidence)
                    })
                    .collect(),
                warnings: Vec::new(),
            })
        })),
        Kind::ExtractiveSummarization | Kind::CustomSingleLabelClassification => {
            Err(ApiError::new(Code::Internal, "this analysis needs the embedding worker"))
        }
    }
}

/// One entity of a response: its text, Azure offsets and a two-decimal confidence.
fn entity(
    text: &str,
    mapper: &OffsetMapper,
    (start, end): (usize, usize),
    category: &str,
    subcategory: Option<&str>,
    confidence: f64,
) -> Entity {
    let (offset, length) = mapper.span(start, end);
    Entity {
        text: text[start..end].to_string(),
        category: category.into(),
        subcategory: subcategory.map(str::to_string),
        offset,
        length,
        confidence_score: (confidence * 100.0).round() / 100.0,
    }
}

/// The kind's name in the response (`<Kind>Results`).
pub fn results_kind(kind: Kind) -> String {
    format!("{}Results", kind.name())
}
