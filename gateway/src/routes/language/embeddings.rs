//! `POST /v1/embeddings` (OpenAI-compatible) and `POST /language/embeddings`: MiniLM sentence vectors.

use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use cogway_core::Code;
use cogway_language::embeddings::MODEL_NAME;
use cogway_language::units::grapheme_len;

use super::dto::{EmbeddingData, EmbeddingInput, EmbeddingUsage, EmbeddingsRequest, EmbeddingsResponse};
use super::language_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::read_json;

/// Most texts in one request (OpenAI's limit).
const MAX_INPUTS: usize = 2048;

/// Embeddings: 384-d L2-normalised vectors from all-MiniLM-L6-v2 (OpenAI request and response shape).
/// Also served at `POST /language/embeddings`.
#[utoipa::path(
    post,
    path = "/v1/embeddings",
    tag = "Language",
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, body = EmbeddingsResponse),
        (status = 400, description = "Empty input, too many inputs, unknown model"),
        (status = 503, description = "Embedding model not loaded or busy (Retry-After)"),
    ),
    security(("key" = []), ("bearer" = []))
)]
pub async fn embeddings(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let body: EmbeddingsRequest = read_json(&req, payload, state.settings.limits.language_max_body_bytes).await?;
    if let Some(model) = body.model.as_deref()
        && !model.is_empty()
        && !model.eq_ignore_ascii_case(MODEL_NAME)
        && !model.eq_ignore_ascii_case("all-MiniLM-L6-v2")
        && !model.eq_ignore_ascii_case("sentence-transformers/all-MiniLM-L6-v2")
    {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("Unknown embedding model '{model}'. Available: {MODEL_NAME}."),
        ));
    }
    let base64 = match body.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                format!("encoding_format must be float or base64, not '{other}'."),
            ));
        }
    };
    let texts = match body.input {
        EmbeddingInput::One(text) => vec![text],
        EmbeddingInput::Many(texts) => texts,
    };
    if texts.is_empty() || texts.iter().any(|t| t.is_empty()) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            "input must be a non-empty string or list of non-empty strings.",
        ));
    }
    if texts.len() > MAX_INPUTS {
        return Err(ApiError::new(
            Code::InvalidDocumentBatch,
            format!("input has {} texts; at most {MAX_INPUTS} are allowed.", texts.len()),
        ));
    }
    let service = language_service(&state)?;
    let characters: u64 = texts.iter().map(|t| grapheme_len(t) as u64).sum();
    state.usage.charge(&caller.key, crate::service::Service::Language, characters).await?;
    // Word-ish token count for `usage` (the model truncates each text at 256 word pieces).
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    let vectors = service.embed(texts).await?;
    let data = vectors
        .into_iter()
        .enumerate()
        .map(|(index, v)| EmbeddingData {
            object: "embedding",
            index,
            embedding: if base64 {
                let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                serde_json::Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                serde_json::json!(v)
            },
        })
        .collect();
    Ok(HttpResponse::Ok().json(EmbeddingsResponse {
        object: "list",
        data,
        model: MODEL_NAME.into(),
        usage: EmbeddingUsage { prompt_tokens: tokens, total_tokens: tokens },
    }))
}
