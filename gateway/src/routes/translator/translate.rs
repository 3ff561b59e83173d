//! `POST /translate`: Azure Translator v3.0 text translation.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_translation::glossary::Glossary;
use cogway_translation::pieces::{self, Piece, Segment};
use cogway_translation::{Route, languages, markup, sentences};
use serde::Serialize;
use serde_json::json;

use super::{BodyLimits, check_api_version, codes, error, query, query_values, read_items, translation_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::routes::speech::query_param;

/// Azure's limits: 1,000 elements, 50,000 characters (times the number of targets).
const LIMITS: BodyLimits = BodyLimits { max_elements: 1_000, max_chars: 50_000, max_element_chars: None };

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextType {
    Plain,
    Html,
}

/// What the handler needs from the query, checked.
pub struct Options {
    pub from: Option<String>,
    pub to: Vec<String>,
    pub text_type: TextType,
    pub category: Option<String>,
    pub sentence_length: bool,
    pub profanity: cogway_translation::profanity::Action,
}

fn language(code: &str, subcode: u32, what: &str) -> ApiResult<String> {
    languages::canonical(code).map(str::to_string).ok_or_else(|| {
        error(Code::InvalidParameterValue, subcode, format!("The {what} language {code:?} is not valid."))
    })
}

fn flag(pairs: &[(String, String)], name: &str) -> bool {
    query_param(pairs, name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

pub fn options(pairs: &[(String, String)]) -> ApiResult<Options> {
    let to = query_values(pairs, "to");
    if to.is_empty() {
        return Err(error(
            Code::InvalidParameterValue,
            codes::TARGET_INVALID,
            "The target language (\"to\" parameter) is missing.",
        ));
    }
    let to = to.iter().map(|t| language(t, codes::TARGET_INVALID, "target")).collect::<ApiResult<Vec<_>>>()?;
    let from = match query_param(pairs, "from").filter(|f| !f.is_empty()) {
        Some(f) => Some(language(f, codes::SOURCE_UNSUPPORTED, "source")?),
        None => None,
    };
    let text_type = match query_param(pairs, "textType").map(str::to_ascii_lowercase).as_deref() {
        None | Some("plain") => TextType::Plain,
        Some("html") => TextType::Html,
        Some(other) => {
            return Err(error(
                Code::InvalidParameterValue,
                codes::TEXT_TYPE_INVALID,
                format!("The textType {other:?} is not valid; use plain or html."),
            ));
        }
    };
    let category = query_param(pairs, "category").filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("general"));
    let profanity = cogway_translation::profanity::Action::parse(
        query_param(pairs, "profanityAction"),
        query_param(pairs, "profanityMarker"),
    )
    .map_err(|m| error(Code::InvalidParameterValue, codes::PROFANITY_INVALID, m))?;
    Ok(Options {
        from,
        to,
        text_type,
        category: category.map(str::to_string),
        sentence_length: flag(pairs, "includeSentenceLength"),
        profanity,
    })
}

/// The text of an element as pieces: dynamic-dictionary markup and HTML tags kept.
pub fn segment_of(text: &str, text_type: TextType) -> Segment {
    let segment = markup::dynamic_dictionary(text);
    match text_type {
        TextType::Plain => segment,
        TextType::Html => markup::html(segment),
    }
}

fn render(segment: &[Piece], text_type: TextType) -> String {
    match text_type {
        TextType::Plain => pieces::render(segment),
        TextType::Html => markup::render_html(segment),
    }
}

/// The visible text of a segment (for detection and sentence lengths).
fn visible_text(segment: &[Piece]) -> String {
    segment.iter().filter_map(|p| if let Piece::Text(t) = p { Some(t.as_str()) } else { None }).collect()
}

#[derive(Serialize)]
struct Detected {
    language: String,
    score: f64,
}

/// Detects each element's language with the Language service's detector.
pub fn detect_all(state: &AppState, texts: &[String]) -> ApiResult<Vec<(String, f64)>> {
    let language = crate::routes::language::language_service(state)?;
    Ok(texts
        .iter()
        .map(|t| {
            let d = language.detect_language(t, None);
            let code = languages::canonical(&d.iso6391_name).unwrap_or("en").to_string();
            (code, d.confidence)
        })
        .collect())
}

/// A glossary named by `category`, when there is one for this pair.
async fn glossary_for(state: &AppState, category: &str, from: &str, to: &str) -> ApiResult<Option<Glossary>> {
    Ok(state
        .glossaries
        .get(&state.db, category)
        .await?
        .and_then(|g| (g.from == from && g.to == to).then(|| g.glossary.clone())))
}

/// Translates every element into one target; elements grouped by source language.
pub async fn translate_into(
    state: &AppState,
    sources: &[String],
    segments: &[Segment],
    to: &str,
    category: Option<&str>,
) -> ApiResult<(Vec<Segment>, Vec<String>)> {
    let service = translation_service(state)?;
    let mut out: Vec<Segment> = segments.to_vec();
    let mut systems = Vec::new();
    let mut groups: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, from) in sources.iter().enumerate() {
        groups.entry(from.as_str()).or_default().push(i);
    }
    for (from, indices) in groups {
        if from == to {
            continue; // already in the target language: returned as is, as Azure does
        }
        let glossary = match category {
            Some(c) => glossary_for(state, c, from, to).await?,
            None => None,
        };
        // A category that is a glossary uses the default engines; otherwise it names a model.
        let model_category = if glossary.is_some() { None } else { category };
        let route: Route = service.route(from, to, model_category).ok_or_else(|| match category {
            Some(c) if glossary.is_none() => error(
                Code::InvalidParameterValue,
                codes::CATEGORY_INVALID,
                format!("The category {c:?} is neither a glossary nor a model for {from} -> {to}."),
            ),
            _ => error(
                Code::InvalidParameterValue,
                codes::PAIR_UNSUPPORTED,
                format!(
                    "Translation from {from} into {to} is not supported (no engine, directly or through one pivot)."
                ),
            ),
        })?;
        let input: Vec<Segment> = indices
            .iter()
            .map(|&i| match &glossary {
                Some(g) => g.apply(segments[i].clone()),
                None => segments[i].clone(),
            })
            .collect();
        let translated = service.translate(&route, input).await?;
        for (&i, segment) in indices.iter().zip(translated.segments) {
            out[i] = segment;
        }
        let mut system = translated.systems.join(">");
        if let Some(pivot) = &translated.pivot {
            system = format!("{system} (pivot {pivot})");
        }
        systems.push(format!("{from}-{to}={system}"));
    }
    Ok((out, systems))
}

/// Translate text into one or more languages.
#[utoipa::path(post, path = "/translate", tag = "Translator",
    params(("api-version" = String, Query, description = "3.0"),
           ("to" = Vec<String>, Query, description = "target languages (repeat or comma-separate)"),
           ("from" = Option<String>, Query, description = "source language; detected when absent"),
           ("textType" = Option<String>, Query, description = "plain (default) or html"),
           ("category" = Option<String>, Query, description = "a glossary name or a neural model name"),
           ("includeSentenceLength" = Option<bool>, Query),
           ("profanityAction" = Option<String>, Query, description = "NoAction, Marked or Deleted"),
           ("profanityMarker" = Option<String>, Query, description = "Asterisk or Tag")),
    request_body(content = Value, description = "[{\"Text\": \"...\"}]", content_type = "application/json"),
    responses((status = 200, description = "translations; headers X-mt-system, X-metered-usage, X-Cogway-Route"),
              (status = 400, description = "Translator error codes 400019, 400035, 400036, 400050, 400072, 400074, 400075"),
              (status = 415, description = "415000: not application/json")),
    security(("key" = []), ("bearer" = [])))]
pub async fn translate(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let pairs = query(&req);
    check_api_version(&pairs)?;
    let opts = options(&pairs)?;
    let items = read_items(&state, &req, payload, &LIMITS).await?;
    let segments: Vec<Segment> = items.iter().map(|i| segment_of(&i.text, opts.text_type)).collect();
    let characters: usize = segments.iter().map(|s| pieces::text_chars(s)).sum::<usize>() * opts.to.len();
    if characters > LIMITS.max_chars {
        return Err(error(
            Code::InvalidRequest,
            codes::TEXT_TOO_LONG,
            format!(
                "The input text is too long: {characters} characters counting every target language, at most {}.",
                LIMITS.max_chars
            ),
        ));
    }
    translation_service(&state)?;
    let detected = match &opts.from {
        Some(_) => None,
        None => Some(detect_all(&state, &segments.iter().map(|s| visible_text(s)).collect::<Vec<_>>())?),
    };
    let sources: Vec<String> = match (&opts.from, &detected) {
        (Some(from), _) => vec![from.clone(); segments.len()],
        (None, Some(d)) => d.iter().map(|(code, _)| code.clone()).collect(),
        (None, None) => Vec::new(),
    };
    state.usage.charge(&caller.key, super::SERVICE, characters as u64).await?;

    let mut per_target = Vec::with_capacity(opts.to.len());
    let mut systems = Vec::new();
    for to in &opts.to {
        let (translated, used) = translate_into(&state, &sources, &segments, to, opts.category.as_deref()).await?;
        systems.extend(used);
        per_target.push((to.clone(), translated));
    }
    let mut body = Vec::with_capacity(segments.len());
    for (i, source) in segments.iter().enumerate() {
        let mut translations = Vec::with_capacity(opts.to.len());
        for (to, translated) in &per_target {
            let mut text = render(&translated[i], opts.text_type);
            text = opts.profanity.apply(&text, to);
            let mut t = json!({ "text": text, "to": to });
            if opts.sentence_length {
                t["sentLen"] = json!({
                    "srcSentLen": sentences::lengths(&visible_text(source)),
                    "transSentLen": sentences::lengths(&visible_text(&translated[i])),
                });
            }
            translations.push(t);
        }
        let mut element = json!({ "translations": translations });
        if let Some(d) = &detected {
            element["detectedLanguage"] = json!(Detected { language: d[i].0.clone(), score: d[i].1 });
        }
        body.push(element);
    }
    let mut response = HttpResponse::Ok();
    response.insert_header(("X-metered-usage", characters.to_string()));
    let system = if systems.is_empty() { "none (source = target)".to_string() } else { systems.join(", ") };
    let mt_system = if systems.iter().any(|s| s.contains("neural:")) { "Neural" } else { "RuleBased" };
    response.insert_header(("X-mt-system", mt_system));
    response.insert_header(("X-Cogway-Route", system));
    Ok(response.json(body))
}
