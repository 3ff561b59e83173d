//! LibreTranslate-compatible routes under `/libretranslate/`: `POST /translate`, `POST /detect`,
//! `GET /languages`, so apps written for LibreTranslate can point at Cogway.
//!
//! Requests are JSON or form-encoded with `q`, `source` (`auto` detects), `target`, `format`
//! (`text` or `html`) and `api_key` (a Cogway key; the usual key headers work too). Errors are
//! LibreTranslate's `{"error": "..."}` with its statuses (400, 403, 429, 500, 503).

use std::collections::BTreeSet;

use actix_web::body::BoxBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_translation::{languages, pieces};
use serde::Deserialize;
use serde_json::{Value, json};

use super::translate::{Ask, Prepared, TextType, charge_and_prepare, detect_all, run};
use super::{SERVICE, chars_of, translation_service};
use crate::app::AppState;
use crate::auth::{ServiceName, caller_with_key};
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{content_type, read_limited};

/// Characters per request (LibreTranslate's default `--char-limit` is unlimited; Azure's 50,000
/// is used here too).
const MAX_CHARS: usize = 50_000;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/libretranslate")
            .app_data(ServiceName(SERVICE))
            .wrap(from_fn(libre_errors))
            .route("/translate", web::post().to(translate))
            .route("/detect", web::post().to(detect))
            .route("/languages", web::get().to(languages)),
    );
}

/// Rewrites errors into `{"error": "message"}`.
async fn libre_errors(
    req: ServiceRequest,
    next: Next<impl actix_web::body::MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    super::rewrite_errors(req, next, |err| {
        let status = match err.code {
            // LibreTranslate answers a bad or missing key with 403.
            Code::Unauthorized => StatusCode::FORBIDDEN,
            code => StatusCode::from_u16(code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        };
        (status, json!({ "error": err.message }))
    })
    .await
}

/// `q` is one text or a list of texts.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Texts {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
pub(crate) struct LibreRequest {
    q: Option<Texts>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    api_key: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(Code::InvalidParameterValue, message)
}

/// The request from a JSON or form body.
async fn read_request(state: &AppState, req: &HttpRequest, payload: web::Payload) -> ApiResult<LibreRequest> {
    let bytes = read_limited(req, payload, state.settings.translation.max_body_bytes).await?;
    let ct = content_type(req);
    if ct.starts_with("application/x-www-form-urlencoded") {
        // A form body is a query string.
        let text = std::str::from_utf8(&bytes).map_err(|_| bad("Invalid form body: not UTF-8"))?;
        let pairs: Vec<(String, String)> = web::Query::<Vec<(String, String)>>::from_query(text)
            .map_err(|e| bad(format!("Invalid form body: {e}")))?
            .into_inner();
        let get = |name: &str| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        return Ok(LibreRequest {
            q: get("q").map(Texts::One),
            source: get("source"),
            target: get("target"),
            format: get("format"),
            api_key: get("api_key").filter(|k| !k.is_empty()),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| bad(format!("Invalid request: the body is not valid JSON: {e}")))
}

pub(crate) fn texts(request: &LibreRequest) -> ApiResult<(Vec<String>, bool)> {
    match &request.q {
        Some(Texts::One(t)) => Ok((vec![t.clone()], false)),
        Some(Texts::Many(list)) if !list.is_empty() => Ok((list.clone(), true)),
        _ => Err(bad("Invalid request: missing q parameter")),
    }
}

/// Translate text (LibreTranslate).
pub async fn translate(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let request = read_request(&state, &req, payload).await?;
    let caller = caller_with_key(&req, request.api_key.as_deref()).await?;
    let (texts, batch) = texts(&request)?;
    let target = request
        .target
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| bad("Invalid request: missing target parameter"))?;
    let target = languages::canonical(target).ok_or_else(|| bad(format!("{target} is not supported")))?.to_string();
    let text_type = match request.format.as_deref().unwrap_or("text") {
        "text" => TextType::Plain,
        "html" => TextType::Html,
        other => return Err(bad(format!("Invalid request: format {other:?} is not text or html"))),
    };
    // Every character of the input is charged and counts toward the limit, markup included (as
    // LibreTranslate's own `--char-limit` and Azure count).
    let characters = chars_of(texts.iter().map(String::as_str));
    if characters > MAX_CHARS {
        return Err(bad(format!("Invalid request: request ({characters}) exceeds text limit ({MAX_CHARS})")));
    }
    translation_service(&state)?;
    let source = match request.source.as_deref().unwrap_or("auto") {
        "auto" => None,
        code => Some(languages::canonical(code).ok_or_else(|| bad(format!("{code} is not supported")))?),
    };
    let targets = [target];
    let ask = Ask { from: source, to: &targets, category: None, text_type };
    let Prepared { segments, detected, plans } =
        charge_and_prepare(&state, &caller.key, characters, texts, &ask).await?;
    let Some(plan) = plans.first() else { return Err(ApiError::new(Code::Internal, "no plan for the target")) };
    let translated = run(&state, plan, &segments).await?;
    let rendered: Vec<String> = translated
        .segments
        .iter()
        .map(|s| match text_type {
            TextType::Plain => pieces::render(s),
            TextType::Html => cogway_translation::markup::render_html(s),
        })
        .collect();
    let detected_json =
        |(code, score): &(String, f64)| json!({ "language": code, "confidence": (score * 100.0).round() });
    let body = if batch {
        let mut body = json!({ "translatedText": rendered });
        if let Some(d) = &detected {
            body["detectedLanguage"] = Value::Array(d.iter().map(detected_json).collect());
        }
        body
    } else {
        let mut body = json!({ "translatedText": rendered.first().cloned().unwrap_or_default() });
        if let Some(d) = detected.as_ref().and_then(|d| d.first()) {
            body["detectedLanguage"] = detected_json(d);
        }
        body
    };
    Ok(HttpResponse::Ok().json(body))
}

/// Detect the language of a text (LibreTranslate).
pub async fn detect(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    let request = read_request(&state, &req, payload).await?;
    let caller = caller_with_key(&req, request.api_key.as_deref()).await?;
    let (texts, _) = texts(&request)?;
    super::charge_texts(&state, &caller, texts.iter().map(String::as_str)).await?;
    let joined = texts.join("\n");
    let detected = detect_all(&state, &[joined]).await?;
    let body: Vec<Value> = detected
        .iter()
        .map(|(code, score)| json!({ "language": code, "confidence": (score * 100.0).round() }))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// The languages and the targets each reaches (directly or by pivot). No key needed.
pub async fn languages(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let service = translation_service(&state)?;
    let mut targets: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for (from, to) in service.pairs().into_keys() {
        targets.entry(to.clone()).or_default();
        targets.entry(from).or_default().insert(to);
    }
    let body: Vec<Value> = targets
        .into_iter()
        .map(|(code, to)| {
            let name = languages::find(&code).map_or(code.clone(), |l| l.name.to_string());
            json!({ "code": code, "name": name, "targets": to })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
