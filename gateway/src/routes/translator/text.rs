//! `/detect`, `/breaksentence` and `/transliterate`.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_translation::{languages, sentences, transliterate};
use serde_json::{Value, json};

use super::translate::detect_all;
use super::{
    BodyLimits, charge_texts, check_api_version, codes, error, language_param, metered, query, read_items,
    translation_service,
};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::routes::query::query_param;

const DETECT_LIMITS: BodyLimits = BodyLimits { max_elements: 100, max_chars: 50_000, max_element_chars: None };
const TRANSLITERATE_LIMITS: BodyLimits = BodyLimits { max_elements: 10, max_chars: 5_000, max_element_chars: None };

/// Detect the language of each element.
#[utoipa::path(post, path = "/detect", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0")),
    request_body(content = Value, description = "[{\"Text\": \"...\"}]", content_type = "application/json"),
    responses((status = 200, description = "[{language, score, isTranslationSupported, isTransliterationSupported}]")),
    security(("key" = []), ("bearer" = [])))]
pub async fn detect(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    let items = read_items(&state, &req, payload, &DETECT_LIMITS).await?;
    let service = translation_service(&state)?;
    let texts: Vec<String> = items.into_iter().map(|i| i.text).collect();
    let characters = charge_texts(&state, &caller, texts.iter().map(String::as_str)).await?;
    let detected = detect_all(&state, &texts).await?;
    let pairs = service.pairs();
    let body: Vec<Value> = detected
        .into_iter()
        .map(|(language, score)| {
            json!({
                "language": language,
                "score": score,
                "isTranslationSupported": pairs.keys().any(|(f, _)| *f == language),
                "isTransliterationSupported": !transliterate::scripts_of(&language).is_empty(),
            })
        })
        .collect();
    Ok(metered(characters, &body))
}

/// Sentence boundaries of each element (lengths in characters).
#[utoipa::path(post, path = "/breaksentence", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"),
           ("language" = Option<String>, Query, description = "detected when absent")),
    request_body(content = Value, description = "[{\"Text\": \"...\"}]", content_type = "application/json"),
    responses((status = 200, description = "[{sentLen: [...], detectedLanguage?}]")),
    security(("key" = []), ("bearer" = [])))]
pub async fn break_sentence(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    if let Some(language) = query_param(&pairs, "language")
        && languages::canonical(language).is_none()
    {
        return Err(error(
            Code::InvalidParameterValue,
            codes::SOURCE_UNSUPPORTED,
            format!("The language {language:?} is not valid."),
        ));
    }
    let items = read_items(&state, &req, payload, &DETECT_LIMITS).await?;
    let texts: Vec<String> = items.into_iter().map(|i| i.text).collect();
    let characters = charge_texts(&state, &caller, texts.iter().map(String::as_str)).await?;
    let detected = match query_param(&pairs, "language") {
        Some(_) => None,
        None => Some(detect_all(&state, &texts).await?),
    };
    let body: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let mut element = json!({ "sentLen": sentences::lengths(text) });
            if let Some(d) = &detected {
                element["detectedLanguage"] = json!({ "language": d[i].0, "score": d[i].1 });
            }
            element
        })
        .collect();
    Ok(metered(characters, &body))
}

/// Convert text to Latin script.
#[utoipa::path(post, path = "/transliterate", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"),
           ("language" = String, Query), ("fromScript" = String, Query), ("toScript" = String, Query, description = "Latn")),
    request_body(content = Value, description = "[{\"Text\": \"...\"}]", content_type = "application/json"),
    responses((status = 200, description = "[{text, script}]"), (status = 400, description = "400073: unsupported script")),
    security(("key" = []), ("bearer" = [])))]
pub async fn transliterate(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    let language = language_param(&pairs, "language", codes::SOURCE_UNSUPPORTED)?;
    let scripts = transliterate::scripts_of(language);
    let from_script = query_param(&pairs, "fromScript").unwrap_or("");
    if !scripts.iter().any(|s| s.eq_ignore_ascii_case(from_script)) {
        return Err(error(
            Code::InvalidParameterValue,
            codes::SCRIPT_INVALID,
            format!("The fromScript {from_script:?} is not supported for {language}; supported: {scripts:?}."),
        ));
    }
    let to_script = query_param(&pairs, "toScript").unwrap_or("");
    if !to_script.eq_ignore_ascii_case("Latn") {
        return Err(error(
            Code::InvalidParameterValue,
            codes::SCRIPT_INVALID,
            format!("The toScript {to_script:?} is not supported; Cogway transliterates into Latn."),
        ));
    }
    let items = read_items(&state, &req, payload, &TRANSLITERATE_LIMITS).await?;
    let characters = charge_texts(&state, &caller, items.iter().map(|i| i.text.as_str())).await?;
    let body: Vec<Value> =
        items.iter().map(|i| json!({ "text": transliterate::to_latin(&i.text), "script": "Latn" })).collect();
    Ok(metered(characters, &body))
}
