//! The Translator routes: Azure Translator v3.0 (at the root, as Azure's global endpoint serves
//! it, and under `/translator/text/v3.0/`, as regional resources do), glossaries and neural model
//! management.
//!
//! Translator answers errors with six-digit numeric codes (`{"error":{"code":400036,...}}`), not
//! the string codes of the other Azure APIs, so these routes wear a middleware that rewrites any
//! error (from auth, limits or the handler) into that shape.

pub mod dictionary;
pub mod glossaries;
pub mod languages;
pub mod libretranslate;
pub mod models;
pub mod text;
pub mod translate;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, RETRY_AFTER};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::auth::ServiceName;
pub use crate::engines::translation as translation_service;
use crate::errors::{ApiError, ApiResult};
pub use crate::routes::query::query_values;
use crate::routes::query::{query_pairs, query_param};

pub const SERVICE: crate::service::Service = crate::service::Service::Translation;

/// Azure's Translator error codes used here.
pub mod codes {
    pub const BAD_API_VERSION: u32 = 400021;
    pub const SOURCE_UNSUPPORTED: u32 = 400035;
    pub const TARGET_INVALID: u32 = 400036;
    pub const PAIR_UNSUPPORTED: u32 = 400019;
    pub const TEXT_TOO_LONG: u32 = 400050;
    pub const TOO_MANY_ELEMENTS: u32 = 400072;
    pub const SCRIPT_INVALID: u32 = 400073;
    pub const BODY_NOT_JSON: u32 = 400074;
    pub const CATEGORY_INVALID: u32 = 400075;
    pub const PROFANITY_INVALID: u32 = 400060;
    pub const TEXT_TYPE_INVALID: u32 = 400064;
    pub const BAD_PARAMETER: u32 = 400000;
    pub const CONTENT_TYPE: u32 = 415000;
}

/// Registers the v3.0 routes under `prefix`.
fn v3_routes(cfg: &mut web::ServiceConfig, prefix: &str) {
    let resource = |path: &str| {
        web::resource(format!("{prefix}{path}")).app_data(ServiceName(SERVICE)).wrap(from_fn(translator_errors))
    };
    cfg.service(resource("/translate").route(web::post().to(translate::translate)))
        .service(resource("/detect").route(web::post().to(text::detect)))
        .service(resource("/breaksentence").route(web::post().to(text::break_sentence)))
        .service(resource("/transliterate").route(web::post().to(text::transliterate)))
        .service(resource("/dictionary/lookup").route(web::post().to(dictionary::lookup)))
        .service(resource("/dictionary/examples").route(web::post().to(dictionary::examples)))
        .service(
            web::resource(format!("{prefix}/languages"))
                .wrap(from_fn(translator_errors))
                .route(web::get().to(languages::languages)),
        );
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    v3_routes(cfg, "");
    v3_routes(cfg, "/translator/text/v3.0");
    libretranslate::configure(cfg);
    cfg.service(
        web::scope("/translator")
            .app_data(ServiceName(SERVICE))
            .wrap(from_fn(translator_errors))
            .route("/glossaries", web::get().to(glossaries::list))
            .route("/glossaries/{name}", web::put().to(glossaries::put))
            .route("/glossaries/{name}", web::get().to(glossaries::get))
            .route("/glossaries/{name}", web::delete().to(glossaries::delete))
            .route("/models", web::get().to(models::list))
            .route("/models/{name}", web::put().to(models::put)),
    );
}

/// The Translator error body of an error.
pub fn error_body(err: &ServiceError) -> serde_json::Value {
    let code = err.subcode.unwrap_or_else(|| match err.code {
        Code::RateLimited => 429000,
        Code::QuotaExceeded => 429001,
        Code::UnsupportedMediaType => codes::CONTENT_TYPE,
        Code::InvalidRequestBodyFormat => codes::BODY_NOT_JSON,
        Code::InvalidApiVersion => codes::BAD_API_VERSION,
        other => u32::from(other.http_status()) * 1000,
    });
    json!({ "error": { "code": code, "message": err.message } })
}

/// Replaces an error response of a route family by that API's own error shape: `render` gives
/// the status and body of the error; `Retry-After` is kept. (`X-RequestId` is added afterwards by
/// the outer `observe` middleware.) While the Translation service is switched off
/// (`services.translation = false`) every route of the family answers 404 before anything runs.
pub async fn rewrite_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    render: fn(&ServiceError) -> (StatusCode, serde_json::Value),
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if req.app_data::<web::Data<AppState>>().is_some_and(|state| !state.settings.services.translation) {
        let (status, body) = render(&disabled());
        return Ok(req.into_response(HttpResponse::build(status).json(body)));
    }
    let res = next.call(req).await?;
    let rewritten = res.response().error().and_then(|e| e.as_error::<ApiError>()).map(|api| {
        let (status, body) = render(&api.0);
        let mut response = HttpResponse::build(status);
        if let Some(seconds) = api.0.retry_after {
            response.insert_header((RETRY_AFTER, HeaderValue::from(seconds)));
        }
        response.json(body)
    });
    Ok(match rewritten {
        Some(body) => ServiceResponse::new(res.into_parts().0, body),
        None => res.map_into_boxed_body(),
    })
}

/// Rewrites error responses of the Translator routes into Translator's error shape.
async fn translator_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    rewrite_errors(req, next, |err| {
        let status = StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, error_body(err))
    })
    .await
}

/// An error with a Translator code.
pub fn error(code: Code, subcode: u32, message: impl Into<String>) -> ApiError {
    ApiError(ServiceError::new(code, message).with_subcode(subcode))
}

fn disabled() -> ServiceError {
    ServiceError::new(Code::NotFound, "The Translation service is disabled on this server.")
}

/// Checks `api-version=3.0`.
pub fn check_api_version(pairs: &[(String, String)]) -> ApiResult<()> {
    match query_param(pairs, "api-version") {
        Some("3.0") => Ok(()),
        Some(other) => Err(error(
            Code::InvalidApiVersion,
            codes::BAD_API_VERSION,
            format!("The API version {other:?} is not supported; use api-version=3.0."),
        )),
        None => Err(error(Code::InvalidApiVersion, codes::BAD_API_VERSION, "The api-version parameter is missing.")),
    }
}

/// One element of a Translator request body.
#[derive(Debug, Deserialize)]
pub struct TextItem {
    #[serde(alias = "text")]
    #[serde(rename = "Text")]
    pub text: String,
}

/// Limits of one route: elements per request and characters in all.
pub struct BodyLimits {
    pub max_elements: usize,
    pub max_chars: usize,
    /// Characters per element, where the route has such a limit.
    pub max_element_chars: Option<usize>,
}

/// The request body as elements, with Azure's checks and codes: `application/json` (415000),
/// valid JSON array of `{"Text": ...}` (400074), not too many (400072) or too long (400050).
pub async fn read_items(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
    limits: &BodyLimits,
) -> ApiResult<Vec<TextItem>> {
    let content_type = crate::routes::body::content_type(req);
    if !content_type.starts_with("application/json") {
        return Err(error(
            Code::UnsupportedMediaType,
            codes::CONTENT_TYPE,
            format!("The Content-Type {content_type:?} is not supported; send application/json."),
        ));
    }
    let bytes = crate::routes::body::read_limited(req, payload, state.settings.translation.max_body_bytes).await?;
    let items: Vec<TextItem> = serde_json::from_slice(&bytes).map_err(|e| {
        error(
            Code::InvalidRequestBodyFormat,
            codes::BODY_NOT_JSON,
            format!("The body of the request is not valid JSON (an array of {{\"Text\": \"...\"}}): {e}"),
        )
    })?;
    if items.len() > limits.max_elements {
        return Err(error(
            Code::InvalidRequest,
            codes::TOO_MANY_ELEMENTS,
            format!(
                "The number of elements in the array ({}) exceeds the maximum of {}.",
                items.len(),
                limits.max_elements
            ),
        ));
    }
    if items.is_empty() {
        return Err(error(Code::InvalidRequest, codes::BODY_NOT_JSON, "The request body has no elements."));
    }
    let total = chars_of(items.iter().map(|i| i.text.as_str()));
    if total > limits.max_chars {
        return Err(error(
            Code::InvalidRequest,
            codes::TEXT_TOO_LONG,
            format!("The input text is too long: {total} characters, at most {} per request.", limits.max_chars),
        ));
    }
    if let Some(max) = limits.max_element_chars
        && let Some(long) = items.iter().find(|i| i.text.chars().count() > max)
    {
        return Err(error(
            Code::InvalidRequest,
            codes::TEXT_TOO_LONG,
            format!("An element is too long: {} characters, at most {max}.", long.text.chars().count()),
        ));
    }
    Ok(items)
}

/// A language query parameter in its canonical code, or the Translator error `subcode`.
pub fn language_param(pairs: &[(String, String)], name: &str, subcode: u32) -> ApiResult<&'static str> {
    query_param(pairs, name).and_then(cogway_translation::languages::canonical).ok_or_else(|| {
        error(
            Code::InvalidParameterValue,
            subcode,
            format!("The {name} parameter is missing or not a supported language."),
        )
    })
}

/// The characters of texts, as Translator counts and charges them: every Unicode scalar value,
/// markup included.
pub fn chars_of<'a>(texts: impl IntoIterator<Item = &'a str>) -> usize {
    texts.into_iter().map(|t| t.chars().count()).sum()
}

/// Charges the characters of `texts` to the caller's hourly quota; returns how many.
pub async fn charge_texts<'a>(
    state: &AppState,
    caller: &crate::auth::Caller,
    texts: impl IntoIterator<Item = &'a str>,
) -> ApiResult<usize> {
    let characters = chars_of(texts);
    state.usage.charge(&caller.key, SERVICE, characters as u64).await?;
    Ok(characters)
}

/// A 200 JSON answer with Translator's `X-metered-usage` header.
pub fn metered(characters: usize, body: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header(("X-metered-usage", characters.to_string())).json(body)
}

/// The query of a request, as pairs.
pub fn query(req: &HttpRequest) -> Vec<(String, String)> {
    query_pairs(req)
}
