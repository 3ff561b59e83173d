//! Question answering's runtime: answers from a deployed project (`:query-knowledgebases`) or
//! from documents sent with the question (`:query-text`).

use std::sync::{Arc, LazyLock};

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_language::qna::knowledge_base::KnowledgeBase;
use cogway_language::qna::search::{Filters, Index, Logic, MAX_TOP, Query, Ranker};
use cogway_language::qna::{SpanRequest, TextRecord};
use cogway_language::units::{OffsetMapper, StringIndexType};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api_version;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_json;
use crate::routes::language::deployment_cache::DeploymentCache;
use crate::routes::language::documents::parse_index_type;
use crate::routes::language::language_service;
use crate::routes::query::{query_pairs, query_param};
use crate::store::qna_projects::QnaProjects;

/// Longest question, in characters.
const MAX_QUESTION_CHARS: usize = 1_000;
/// Most documents of `:query-text`, and the longest one, in characters.
const MAX_RECORDS: usize = 5;
const MAX_RECORD_CHARS: usize = 5_120;
/// Answers `:query-text` gives, the best first.
const TEXT_ANSWERS: usize = 3;
/// Deployed knowledge bases kept ready in memory (each with its vectors).
const CACHED_INDEXES: usize = 32;

static INDEXES: LazyLock<DeploymentCache<Index>> = LazyLock::new(|| DeploymentCache::new(CACHED_INDEXES));

/// The deployment's index: from the cache when it is current, else built from the database.
async fn index(state: &AppState, key_id: &str, project: &str, deployment: &str) -> ApiResult<Arc<Index>> {
    let store = QnaProjects::new(&state.db);
    let missing = || {
        ApiError::new(
            Code::NotFound,
            format!(
                "The project '{project}' has no deployment '{deployment}' (deploy it with PUT .../deployments/{deployment})."
            ),
        )
    };
    let deployed_at = store.deployed_at(key_id, project, deployment).await?.ok_or_else(missing)?;
    if let Some(index) = INDEXES.get(key_id, project, deployment, deployed_at) {
        return Ok(index);
    }
    let (kb, vectors, deployed_at) = store.deployment(key_id, project, deployment).await?.ok_or_else(missing)?;
    let built = web::block(move || -> Result<Index, String> {
        let kb: KnowledgeBase = serde_json::from_str(&kb).map_err(|e| e.to_string())?;
        let dims = cogway_language::embeddings::DIMENSIONS;
        let floats: Vec<f32> = vectors.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        Index::new(kb, floats.chunks(dims).map(<[f32]>::to_vec).collect())
    })
    .await
    .map_err(|e| ApiError(ServiceError::internal(format!("index thread failed: {e}"))))?
    .map_err(|e| ApiError(ServiceError::internal(format!("the deployment cannot be read: {e}"))))?;
    let index = Arc::new(built);
    INDEXES.insert(key_id, project, deployment, deployed_at, index.clone());
    Ok(index)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KbQuery {
    question: Option<String>,
    qna_id: Option<i64>,
    top: Option<i64>,
    confidence_score_threshold: Option<f32>,
    context: Option<KbContext>,
    ranker_type: Option<String>,
    filters: Option<KbFilters>,
    answer_span_request: Option<SpanOptions>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KbContext {
    previous_qna_id: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KbFilters {
    metadata_filter: Option<MetadataFilter>,
    #[serde(default)]
    source_filter: Vec<String>,
    logical_operation: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetadataFilter {
    #[serde(default)]
    metadata: Vec<MetadataPair>,
    logical_operation: Option<String>,
}

#[derive(Deserialize)]
struct MetadataPair {
    key: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpanOptions {
    #[serde(default)]
    enable: bool,
    confidence_score_threshold: Option<f32>,
    top_answers_with_span: Option<i64>,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

fn logic(value: Option<&str>) -> ApiResult<Logic> {
    match value.map(str::to_ascii_uppercase).as_deref() {
        None | Some("AND") => Ok(Logic::And),
        Some("OR") => Ok(Logic::Or),
        Some(other) => Err(invalid(format!("logicalOperation must be AND or OR, not {other:?}."))),
    }
}

fn threshold(value: Option<f32>, name: &str) -> ApiResult<Option<f32>> {
    match value {
        Some(t) if !(0.0..=1.0).contains(&t) => Err(invalid(format!("{name} must be between 0 and 1."))),
        other => Ok(other),
    }
}

fn check_question(question: &str) -> ApiResult<()> {
    if question.trim().is_empty() || question.chars().count() > MAX_QUESTION_CHARS {
        return Err(invalid(format!("The question must have 1 to {MAX_QUESTION_CHARS} characters.")));
    }
    Ok(())
}

impl KbQuery {
    fn filters(&self) -> ApiResult<Filters> {
        let Some(f) = &self.filters else { return Ok(Filters::default()) };
        let (metadata, metadata_logic) = match &f.metadata_filter {
            Some(m) => (
                m.metadata.iter().map(|p| (p.key.trim().to_string(), p.value.trim().to_string())).collect(),
                logic(m.logical_operation.as_deref())?,
            ),
            None => (Vec::new(), Logic::And),
        };
        Ok(Filters {
            metadata,
            metadata_logic,
            sources: f.source_filter.clone(),
            logic: logic(f.logical_operation.as_deref())?,
        })
    }
}

fn qna_answer(qna: &cogway_language::qna::knowledge_base::Qna, confidence: f32) -> Value {
    json!({
        "questions": qna.questions,
        "answer": qna.answer,
        "confidenceScore": confidence,
        "id": qna.id,
        "source": qna.source,
        "metadata": qna.metadata,
        "dialog": qna.dialog,
    })
}

/// Answer a question from a deployed project.
#[utoipa::path(post, path = "/language/:query-knowledgebases", tag = "Question answering",
    params(("projectName" = String, Query), ("deploymentName" = String, Query), ("api-version" = String, Query, description = "2021-10-01 or 2023-04-01")),
    request_body(content = Object, description = "{\"question\" | \"qnaId\", \"top\", \"confidenceScoreThreshold\", \"context\": {\"previousQnaId\"}, \"rankerType\": \"Default\"|\"QuestionOnly\", \"filters\": {\"metadataFilter\": {\"metadata\": [{\"key\",\"value\"}], \"logicalOperation\"}, \"sourceFilter\", \"logicalOperation\"}, \"answerSpanRequest\": {\"enable\", \"confidenceScoreThreshold\", \"topAnswersWithSpan\"}}"),
    responses((status = 200, description = "{\"answers\": [{\"questions\", \"answer\", \"confidenceScore\", \"id\", \"source\", \"metadata\", \"dialog\", \"answerSpan\"}]}: the default answer (id -1, confidence 0) when nothing matches"),
              (status = 400), (status = 404, description = "no such project or deployment")),
    security(("key" = []), ("bearer" = [])))]
pub async fn query_knowledge_base(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let service = language_service(&state)?;
    let pairs = query_pairs(&req);
    let param = |name: &str| {
        query_param(&pairs, name)
            .map(str::to_string)
            .ok_or_else(|| invalid(format!("The query parameter {name} is required.")))
    };
    let (project, deployment) = (param("projectName")?, param("deploymentName")?);
    let body: KbQuery = read_json(&req, payload, 64 * 1024).await?;
    let index = index(&state, &caller.key.id, &project, &deployment).await?;
    let kb = &index.kb;
    let default_answer = json!({
        "questions": [], "answer": kb.default_answer(), "confidenceScore": 0.0, "id": -1, "metadata": {},
        "dialog": { "isContextOnly": false, "prompts": [] },
    });
    match (&body.question, body.qna_id) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid("Give either a question or a qnaId."));
        }
        (None, Some(id)) => {
            let answer = index.position(id).map(|i| qna_answer(&kb.qnas[i], 1.0)).unwrap_or(default_answer);
            return Ok(HttpResponse::Ok().json(json!({ "answers": [answer] })));
        }
        (Some(question), None) => check_question(question)?,
    }
    let question = body.question.clone().unwrap_or_default();
    let top = match body.top {
        Some(t) if t < 1 || t as usize > MAX_TOP => {
            return Err(invalid(format!("top must be between 1 and {MAX_TOP}.")));
        }
        Some(t) => t as usize,
        None => 3,
    };
    let ranker = match body.ranker_type.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("default") => Ranker::Default,
        Some("questiononly") => Ranker::QuestionOnly,
        Some(other) => return Err(invalid(format!("rankerType must be Default or QuestionOnly, not {other:?}."))),
    };
    let short = match &body.answer_span_request {
        Some(s) if s.enable => Some(SpanRequest {
            threshold: threshold(s.confidence_score_threshold, "answerSpanRequest.confidenceScoreThreshold")?
                .unwrap_or(0.0),
            top: match s.top_answers_with_span {
                Some(t) if !(1..=10).contains(&t) => {
                    return Err(invalid("topAnswersWithSpan must be between 1 and 10."));
                }
                Some(t) => t as usize,
                None => 1,
            },
        }),
        _ => None,
    };
    let query = Query {
        question: question.clone(),
        vector: Vec::new(),
        top,
        threshold: threshold(body.confidence_score_threshold, "confidenceScoreThreshold")?,
        ranker,
        filters: body.filters()?,
        previous_qna: body.context.as_ref().and_then(|c| c.previous_qna_id),
    };
    state.usage.charge(&caller.key, crate::service::Service::Language, question.chars().count() as u64).await?;
    let found = service.answer_from_knowledge_base(&index, query, short).await?;
    let answers: Vec<Value> = found
        .iter()
        .map(|a| {
            let qna = &kb.qnas[a.found.index];
            let mut answer = qna_answer(qna, a.found.confidence);
            if let Some(span) = &a.span {
                let (offset, length) =
                    OffsetMapper::new(&qna.answer, StringIndexType::UnicodeCodePoint).span(span.range.0, span.range.1);
                answer["answerSpan"] = json!({
                    "text": &qna.answer[span.range.0..span.range.1], "confidenceScore": span.confidence,
                    "offset": offset, "length": length,
                });
            }
            answer
        })
        .collect();
    let answers = if answers.is_empty() { vec![default_answer] } else { answers };
    Ok(HttpResponse::Ok().json(json!({ "answers": answers })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TextQuery {
    question: String,
    records: Vec<TextRecordInput>,
    language: Option<String>,
    string_index_type: Option<String>,
}

#[derive(Deserialize)]
struct TextRecordInput {
    id: String,
    text: String,
}

/// Answer a question from documents sent with it.
#[utoipa::path(post, path = "/language/:query-text", tag = "Question answering",
    params(("api-version" = String, Query, description = "2021-10-01 or 2023-04-01")),
    request_body(content = Object, description = "{\"question\", \"records\": [{\"id\", \"text\"}] (1 to 5, each at most 5120 characters), \"language\", \"stringIndexType\"}"),
    responses((status = 200, description = "{\"answers\": [{\"answer\", \"confidenceScore\", \"id\", \"offset\", \"length\", \"answerSpan\": {\"text\", \"confidenceScore\", \"offset\", \"length\"}}]}: up to 3 sentences of the documents, the best first"),
              (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn query_text(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    api_version(&req)?;
    let service = language_service(&state)?;
    let body: TextQuery = read_json(&req, payload, 256 * 1024).await?;
    check_question(&body.question)?;
    if body.records.is_empty() || body.records.len() > MAX_RECORDS {
        return Err(invalid(format!("Send 1 to {MAX_RECORDS} records.")));
    }
    if body.records.iter().any(|r| r.text.trim().is_empty() || r.text.chars().count() > MAX_RECORD_CHARS) {
        return Err(invalid(format!("A record's text has 1 to {MAX_RECORD_CHARS} characters.")));
    }
    let unit = match body.string_index_type.as_deref() {
        Some(name) => parse_index_type(name)?,
        None => StringIndexType::TextElementsV8,
    };
    let language = body.language.as_deref().unwrap_or("en");
    let records: Vec<TextRecord> = body.records.into_iter().map(|r| TextRecord { id: r.id, text: r.text }).collect();
    let characters: usize =
        records.iter().map(|r| r.text.chars().count()).sum::<usize>() + body.question.chars().count();
    state.usage.charge(&caller.key, crate::service::Service::Language, characters as u64).await?;
    let found = service.answer_from_text(&body.question, &records, language, TEXT_ANSWERS).await?;
    let answers: Vec<Value> = found
        .iter()
        .map(|a| {
            let text = &records[a.record].text;
            let mapper = OffsetMapper::new(text, unit);
            let (offset, length) = mapper.span(a.range.0, a.range.1);
            let mut answer = json!({
                "answer": &text[a.range.0..a.range.1], "confidenceScore": a.confidence,
                "id": records[a.record].id, "offset": offset, "length": length,
            });
            if let Some(span) = &a.span {
                // The span's offset counts from the start of the answer.
                let sentence = &text[a.range.0..a.range.1];
                let (start, end) = (span.range.0 - a.range.0, span.range.1 - a.range.0);
                let (offset, length) = OffsetMapper::new(sentence, unit).span(start, end);
                answer["answerSpan"] = json!({
                    "text": &sentence[start..end], "confidenceScore": span.confidence, "offset": offset, "length": length,
                });
            }
            answer
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "answers": answers })))
}
