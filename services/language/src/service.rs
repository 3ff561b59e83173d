//! The Language service: loads the models once and answers per-document analyses.

use std::path::PathBuf;
use std::sync::Arc;

use cogway_core::{Code, ModelStatus, ServiceError, Worker};

use crate::detect::{DetectedLanguage, Detector};
use crate::embeddings::{self, Embedder, EmbeddingModel};
use crate::entities::{NamedEntity, azure_category};
use crate::ner::{self, EntityRecognizer};
use crate::sentences::sentence_spans;
use crate::sentiment::{self, DocumentSentiment};
use crate::summarize::{self, RankedSentence, SortBy};
use crate::{keyphrases, pii};

/// Azure's limit on one document, in text elements (grapheme clusters).
pub const MAX_DOCUMENT_CHARS: usize = 5_120;

#[derive(Debug, Clone)]
pub struct LanguageConfig {
    /// Where the model store puts models (`<dir>/<model>/<file>`).
    pub models_dir: PathBuf,
    /// The ONNX Runtime shared library.
    pub onnxruntime: PathBuf,
    /// Intra-op threads of the embedding model.
    pub threads: usize,
    /// Waiting requests the embedding worker accepts before answering 503.
    pub queue_capacity: usize,
    /// Requests the embedding worker runs together.
    pub max_batch: usize,
    /// Load every lingua model at start (slower start, no slow first request).
    pub preload_detector: bool,
}

pub struct LanguageService {
    detector: Detector,
    embedder: Result<Embedder, ServiceError>,
    recognizer: Result<EntityRecognizer, ServiceError>,
}

impl LanguageService {
    /// Loads what it can. A missing embedding model leaves the other analyses working; the
    /// analyses that need it answer 503 and `/ready` says why.
    pub fn load(config: &LanguageConfig) -> Arc<Self> {
        let detector = Detector::new(config.preload_detector);
        let embedder =
            EmbeddingModel::load(&config.onnxruntime, &config.models_dir.join(embeddings::MODEL_NAME), config.threads)
                .and_then(|model| {
                    Worker::spawn(embeddings::MODEL_NAME, model, config.queue_capacity, config.max_batch)
                        .map_err(|e| ServiceError::internal(format!("cannot start the embedding worker: {e}")))
                });
        if let Err(e) = &embedder {
            tracing::warn!(error = %e, "embedding model not loaded");
        }
        let ner_dir = config.models_dir.join(ner::MODEL_NAME);
        let recognizer = if ner_dir.is_dir() {
            EntityRecognizer::load(&ner_dir)
                .map_err(|e| ServiceError::internal(format!("cannot load {}: {e}", ner::MODEL_NAME)))
        } else {
            Err(ServiceError::model_not_ready(ner::MODEL_NAME))
        };
        if let Err(e) = &recognizer {
            tracing::warn!(error = %e, "entity recognition model not loaded");
        }
        Arc::new(Self { detector, embedder, recognizer })
    }

    pub fn models(&self) -> Vec<ModelStatus> {
        vec![
            ModelStatus { name: "lingua", ready: true, detail: None },
            ModelStatus { name: "vader_sentiment", ready: true, detail: None },
            ModelStatus { name: "yake-rust", ready: true, detail: None },
            ModelStatus {
                name: embeddings::MODEL_NAME,
                ready: self.embedder.is_ok(),
                detail: self.embedder.as_ref().err().map(|e| e.message.clone()),
            },
            ModelStatus {
                name: ner::MODEL_NAME,
                ready: self.recognizer.is_ok(),
                detail: self.recognizer.as_ref().err().map(|e| e.message.clone()),
            },
        ]
    }

    /// The embedding worker, for queue metrics.
    pub fn embedder(&self) -> Option<&Embedder> {
        self.embedder.as_ref().ok()
    }

    pub fn detect_language(&self, text: &str, country_hint: Option<&str>) -> DetectedLanguage {
        self.detector.detect(text, country_hint)
    }

    pub fn sentiment(&self, text: &str, language: &str) -> Result<DocumentSentiment, ServiceError> {
        require_language(language, &["en"], "Sentiment analysis")?;
        Ok(sentiment::analyze(text))
    }

    pub fn key_phrases(&self, text: &str, language: &str) -> Result<Vec<String>, ServiceError> {
        keyphrases::extract(text, language, 20).ok_or_else(|| unsupported(language, "Key phrase extraction"))
    }

    pub fn pii(
        &self,
        text: &str,
        language: &str,
        only: Option<&[pii::PiiCategory]>,
    ) -> Result<Vec<pii::PiiEntity>, ServiceError> {
        // The rules are written for English-language formats (US phone numbers, SSNs, dates);
        // most also hold in other languages, so only the language code's shape is checked.
        if language.is_empty() || language.len() > 10 {
            return Err(unsupported(language, "PII recognition"));
        }
        // Names, organisations and the places that end an address come from the English NER
        // model; for other languages (or without the model) the rules stand alone.
        let names = match (&self.recognizer, require_language(language, &["en"], "")) {
            (Ok(recognizer), Ok(())) => recognizer.recognize_document(text),
            _ => Vec::new(),
        };
        Ok(pii::recognize_with_names(text, only, &names))
    }

    /// Whether named-entity recognition can run (its model is installed and loaded).
    /// spaCy's entity recognizer, when its model is installed.
    pub(crate) fn recognizer(&self) -> Option<&EntityRecognizer> {
        self.recognizer.as_ref().ok()
    }

    pub fn entities_ready(&self) -> Result<(), ServiceError> {
        self.recognizer.as_ref().map(|_| ()).map_err(|_| ServiceError::model_not_ready(ner::MODEL_NAME))
    }

    /// Named entities (Azure's `EntityRecognition`) of several documents, given as (text,
    /// language): spaCy's English model, OntoNotes labels mapped to Azure categories. The English
    /// documents go through the network as one batch; others get an unsupported-language error.
    pub fn entities(&self, documents: &[(&str, &str)]) -> Vec<Result<Vec<NamedEntity>, ServiceError>> {
        let recognizer = match &self.recognizer {
            Ok(r) => r,
            Err(_) => return documents.iter().map(|_| Err(ServiceError::model_not_ready(ner::MODEL_NAME))).collect(),
        };
        let checked: Vec<Result<(), ServiceError>> =
            documents.iter().map(|(_, language)| require_language(language, &["en"], "Entity recognition")).collect();
        let english: Vec<&str> =
            documents.iter().zip(&checked).filter(|(_, ok)| ok.is_ok()).map(|((text, _), _)| *text).collect();
        let mut found = recognizer.recognize_documents(&english).into_iter();
        documents
            .iter()
            .zip(checked)
            .map(|((text, _), ok)| {
                ok?;
                let entities = found.next().unwrap_or_default();
                Ok(entities
                    .into_iter()
                    .filter_map(|e| {
                        let (category, subcategory) = azure_category(&e.label, &text[e.start..e.end])?;
                        Some(NamedEntity {
                            start: e.start,
                            end: e.end,
                            category,
                            subcategory,
                            confidence: f64::from(e.confidence),
                        })
                    })
                    .collect())
            })
            .collect()
    }

    /// Embeds texts through the worker (batched with concurrent callers).
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ServiceError> {
        match &self.embedder {
            Ok(worker) => worker.call(texts).await,
            Err(_) => Err(ServiceError::model_not_ready(embeddings::MODEL_NAME)),
        }
    }

    /// Extractive summary: the `count` most central sentences, as byte ranges with rank scores.
    pub async fn summarize(
        &self,
        text: &str,
        count: usize,
        sort_by: SortBy,
    ) -> Result<Vec<((usize, usize), RankedSentence)>, ServiceError> {
        let spans = sentence_spans(text);
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        let sentences = spans.iter().map(|&(s, e)| text[s..e].to_string()).collect();
        let vectors = self.embed(sentences).await?;
        Ok(summarize::rank(&vectors, count, sort_by).into_iter().map(|r| (spans[r.index], r)).collect())
    }
}

fn require_language(language: &str, supported: &[&str], what: &str) -> Result<(), ServiceError> {
    let base = language.split(['-', '_']).next().unwrap_or(language).to_ascii_lowercase();
    if supported.contains(&base.as_str()) { Ok(()) } else { Err(unsupported(language, what)) }
}

fn unsupported(language: &str, what: &str) -> ServiceError {
    ServiceError::new(
        Code::UnsupportedLanguageCode,
        format!("Invalid language code '{language}'. {what} does not support this language."),
    )
}
