//! `/dictionary/lookup` and `/dictionary/examples`, on the Apertium pairs' dictionaries.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{
    BodyLimits, charge_texts, check_api_version, codes, error, language_param, metered, query, read_items,
    translation_service,
};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;

/// Azure's limits: 10 elements, 100 characters each.
const LIMITS: BodyLimits = BodyLimits { max_elements: 10, max_chars: 1_000, max_element_chars: Some(100) };

fn pair(pairs: &[(String, String)]) -> ApiResult<(String, String)> {
    let from = language_param(pairs, "from", codes::SOURCE_UNSUPPORTED)?;
    let to = language_param(pairs, "to", codes::TARGET_INVALID)?;
    Ok((from.to_string(), to.to_string()))
}

/// Translations of a word with parts of speech and back-translations.
#[utoipa::path(post, path = "/dictionary/lookup", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"), ("from" = String, Query), ("to" = String, Query)),
    request_body(content = Value, description = "[{\"Text\": \"house\"}]", content_type = "application/json"),
    responses((status = 200, description = "[{normalizedSource, displaySource, translations: [...]}]")),
    security(("key" = []), ("bearer" = [])))]
pub async fn lookup(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    let (from, to) = pair(&pairs)?;
    let service = translation_service(&state)?;
    if service.apertium().direction(&from, &to).is_none() {
        return Err(error(
            Code::InvalidParameterValue,
            codes::PAIR_UNSUPPORTED,
            format!("No dictionary for {from} -> {to}; see /languages?scope=dictionary."),
        ));
    }
    let items = read_items(&state, &req, payload, &LIMITS).await?;
    let characters = charge_texts(&state, &caller, items.iter().map(|i| i.text.as_str())).await?;
    let words: Vec<String> = items.into_iter().map(|i| i.text).collect();
    let results = web::block(move || {
        words.iter().map(|w| service.lookup(&from, &to, w).map(|t| (w.clone(), t))).collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| crate::errors::ApiError::new(Code::Internal, format!("dictionary: {e}")))??;
    let body: Vec<Value> = results
        .into_iter()
        .map(|(word, translations)| {
            let display = word.trim().to_string();
            json!({ "normalizedSource": display.to_lowercase(), "displaySource": display, "translations": translations })
        })
        .collect();
    Ok(metered(characters, &body))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ExampleItem {
    #[serde(rename = "Text", alias = "text")]
    text: String,
    #[serde(rename = "Translation", alias = "translation")]
    translation: String,
}

/// Usage examples of a translation pair. Apertium dictionaries carry no example sentences and no
/// parallel corpus ships in the registries, so the list is empty (documented), never invented.
#[utoipa::path(post, path = "/dictionary/examples", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"), ("from" = String, Query), ("to" = String, Query)),
    request_body(content = Value, description = "[{\"Text\": \"house\", \"Translation\": \"casa\"}]", content_type = "application/json"),
    responses((status = 200, description = "[{normalizedSource, normalizedTarget, examples: []}]")),
    security(("key" = []), ("bearer" = [])))]
pub async fn examples(
    state: web::Data<AppState>,
    _caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    let _ = pair(&pairs)?;
    let content_type = crate::routes::body::content_type(&req);
    if !content_type.starts_with("application/json") {
        return Err(error(Code::UnsupportedMediaType, codes::CONTENT_TYPE, "Send application/json."));
    }
    let bytes = crate::routes::body::read_limited(&req, payload, state.settings.translation.max_body_bytes).await?;
    let items: Vec<ExampleItem> = serde_json::from_slice(&bytes).map_err(|e| {
        error(Code::InvalidRequestBodyFormat, codes::BODY_NOT_JSON, format!("The body is not valid JSON: {e}"))
    })?;
    if items.len() > 10 {
        return Err(error(Code::InvalidRequest, codes::TOO_MANY_ELEMENTS, "At most 10 elements."));
    }
    let body: Vec<Value> = items
        .iter()
        .map(|i| {
            json!({
                "normalizedSource": i.text.trim().to_lowercase(),
                "normalizedTarget": i.translation.trim().to_lowercase(),
                "examples": [],
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
