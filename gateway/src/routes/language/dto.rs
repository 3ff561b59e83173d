//! Request and response shapes of the Language routes, as Azure's 2023-04-01 and v3.1 APIs have them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One input document.
#[derive(Debug, Clone, Deserialize, serde::Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InputDocument {
    pub id: String,
    pub text: String,
    /// ISO 639-1 language of the text (default `en`); not used by LanguageDetection.
    #[serde(default)]
    pub language: Option<String>,
    /// ISO 3166-1 alpha-2 country hint, for LanguageDetection.
    #[serde(default)]
    pub country_hint: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AnalysisInput {
    #[serde(default)]
    pub documents: Vec<InputDocument>,
}

/// `POST /language/:analyze-text` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeTextRequest {
    /// LanguageDetection, SentimentAnalysis, KeyPhraseExtraction, EntityRecognition, PiiEntityRecognition,
    /// ExtractiveSummarization or CustomSingleLabelClassification.
    pub kind: String,
    #[serde(default)]
    pub parameters: serde_json::Value,
    pub analysis_input: AnalysisInput,
}

/// The v3.1 body: just the documents.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DocumentsRequest {
    #[serde(default)]
    pub documents: Vec<InputDocument>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InnerError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub innererror: Option<InnerError>,
}

/// A document that failed alone; the others in the request are still answered.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DocumentError {
    pub id: String,
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Warning {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DetectedLanguage {
    pub name: String,
    pub iso6391_name: String,
    pub confidence_score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LanguageDocument {
    pub id: String,
    pub detected_language: DetectedLanguage,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ConfidenceScores {
    pub positive: f64,
    pub neutral: f64,
    pub negative: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentenceSentiment {
    pub text: String,
    pub sentiment: String,
    pub confidence_scores: ConfidenceScores,
    pub offset: usize,
    pub length: usize,
    pub targets: Vec<serde_json::Value>,
    pub assessments: Vec<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentimentDocument {
    pub id: String,
    pub sentiment: String,
    pub confidence_scores: ConfidenceScores,
    pub sentences: Vec<SentenceSentiment>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyPhraseDocument {
    pub id: String,
    pub key_phrases: Vec<String>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entity {
    pub text: String,
    pub category: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subcategory: Option<String>,
    pub offset: usize,
    pub length: usize,
    pub confidence_score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntityDocument {
    pub id: String,
    pub entities: Vec<Entity>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PiiDocument {
    pub id: String,
    pub redacted_text: String,
    pub entities: Vec<Entity>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummarySentence {
    pub text: String,
    pub rank_score: f64,
    pub offset: usize,
    pub length: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SummaryDocument {
    pub id: String,
    pub sentences: Vec<SummarySentence>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassificationResult {
    pub category: String,
    pub confidence_score: f64,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClassificationDocument {
    pub id: String,
    pub class: Vec<ClassificationResult>,
    pub warnings: Vec<Warning>,
}

/// The results of one kind over a batch.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Results<T> {
    pub documents: Vec<T>,
    pub errors: Vec<DocumentError>,
    pub model_version: String,
}

/// `POST /v1/embeddings` (OpenAI-compatible) body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EmbeddingsRequest {
    /// One text or a list of texts.
    pub input: EmbeddingInput,
    #[serde(default)]
    pub model: Option<String>,
    /// `float` (default) or `base64`.
    #[serde(default)]
    pub encoding_format: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingInput {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmbeddingData {
    pub object: &'static str,
    pub index: usize,
    /// The vector (or its little-endian f32 bytes in base64 with `encoding_format=base64`).
    #[schema(schema_with = embedding_schema)]
    pub embedding: serde_json::Value,
}

/// An embedding: an array of numbers, or a base64 string.
fn embedding_schema() -> utoipa::openapi::schema::OneOfBuilder {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::Number)))
        .item(ObjectBuilder::new().schema_type(Type::String))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    pub object: &'static str,
    pub data: Vec<EmbeddingData>,
    pub model: String,
    pub usage: EmbeddingUsage,
}
