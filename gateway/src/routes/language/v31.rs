//! The Text Analytics v3.1 routes: `{"documents": [...]}` in, the same document shapes out.

use actix_web::{HttpRequest, HttpResponse, web};

use super::documents::{self, Kind, Options};
use super::dto::DocumentsRequest;
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::routes::body::read_json;

async fn run(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    kind: Kind,
) -> ApiResult<HttpResponse> {
    let body: DocumentsRequest = read_json(&req, payload, state.settings.limits.language_max_body_bytes).await?;
    let query = web::Query::<Vec<(String, String)>>::from_query(req.query_string()).map(|q| q.0).unwrap_or_default();
    let param = |name: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
    let mut options = Options::default();
    if let Some(t) = param("stringIndexType") {
        options.string_index_type = documents::parse_index_type(t)?;
    }
    if let Some(list) = param("piiCategories") {
        let names: Vec<&str> = list.split(',').map(str::trim).collect();
        options.pii_categories = Some(documents::parse_pii_categories(&names)?);
    }
    let results = documents::run_batch(&state, &caller.key, kind, &body.documents, &options).await?;
    Ok(HttpResponse::Ok().json(results))
}

/// Detect language (v3.1).
#[utoipa::path(post, path = "/text/analytics/v3.1/languages", tag = "Language (v3.1)", request_body = DocumentsRequest,
    responses((status = 200, description = "documents, errors, modelVersion")), security(("key" = [])))]
pub async fn languages(c: Caller, s: web::Data<AppState>, r: HttpRequest, p: web::Payload) -> ApiResult<HttpResponse> {
    run(c, s, r, p, Kind::LanguageDetection).await
}

/// Sentiment (v3.1).
#[utoipa::path(post, path = "/text/analytics/v3.1/sentiment", tag = "Language (v3.1)", request_body = DocumentsRequest,
    responses((status = 200, description = "documents, errors, modelVersion")), security(("key" = [])))]
pub async fn sentiment(c: Caller, s: web::Data<AppState>, r: HttpRequest, p: web::Payload) -> ApiResult<HttpResponse> {
    run(c, s, r, p, Kind::SentimentAnalysis).await
}

/// Key phrases (v3.1).
#[utoipa::path(post, path = "/text/analytics/v3.1/keyPhrases", tag = "Language (v3.1)", request_body = DocumentsRequest,
    responses((status = 200, description = "documents, errors, modelVersion")), security(("key" = [])))]
pub async fn key_phrases(
    c: Caller,
    s: web::Data<AppState>,
    r: HttpRequest,
    p: web::Payload,
) -> ApiResult<HttpResponse> {
    run(c, s, r, p, Kind::KeyPhraseExtraction).await
}

/// Named entities (v3.1).
#[utoipa::path(post, path = "/text/analytics/v3.1/entities/recognition/general", tag = "Language (v3.1)",
    request_body = DocumentsRequest, responses((status = 200, description = "documents, errors, modelVersion")),
    security(("key" = [])))]
pub async fn entities(c: Caller, s: web::Data<AppState>, r: HttpRequest, p: web::Payload) -> ApiResult<HttpResponse> {
    run(c, s, r, p, Kind::EntityRecognition).await
}

/// PII entities (v3.1).
#[utoipa::path(post, path = "/text/analytics/v3.1/entities/recognition/pii", tag = "Language (v3.1)",
    request_body = DocumentsRequest, responses((status = 200, description = "documents, errors, modelVersion")),
    security(("key" = [])))]
pub async fn pii(c: Caller, s: web::Data<AppState>, r: HttpRequest, p: web::Payload) -> ApiResult<HttpResponse> {
    run(c, s, r, p, Kind::PiiEntityRecognition).await
}
