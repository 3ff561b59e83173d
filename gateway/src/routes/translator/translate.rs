//! `POST /translate`: Azure Translator v3.0 text translation.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_translation::pieces::{self, Piece, Segment};
use cogway_translation::{Category, Plan, PlanError, PlanOutput, UNDETERMINED, languages, markup, sentences};
use serde::Serialize;
use serde_json::json;

use super::{
    BodyLimits, chars_of, check_api_version, codes, error, query, query_values, read_items, translation_service,
};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use crate::owners::Owner;
use crate::routes::query::query_param;

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
pub fn segment_of(text: &str, text_type: TextType) -> Result<Segment, markup::MarkupError> {
    let segment = markup::dynamic_dictionary(text);
    match text_type {
        TextType::Plain => Ok(segment),
        TextType::Html => markup::html(segment),
    }
}

/// The texts of a request as pieces, on the blocking pool: the scan is linear, but 50,000
/// characters of markup still take milliseconds (tens in an unoptimised build). HTML that leaves
/// too many untranslatable elements open is a 400000.
async fn segments_of(texts: Vec<String>, text_type: TextType) -> ApiResult<Vec<Segment>> {
    web::block(move || texts.iter().map(|t| segment_of(t, text_type)).collect::<Result<Vec<_>, _>>())
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("reading the markup: {e}")))?
        .map_err(|e| error(Code::InvalidRequest, codes::BAD_PARAMETER, e.to_string()))
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

/// Detects each element's language with the Language service's detector, on the blocking pool
/// (lingua costs a few ms per text). A language Translator has no code for keeps the detector's
/// ISO 639-1 code (its pairs then fail with 400019); text with no detectable language is
/// [`UNDETERMINED`] with score 0.
pub async fn detect_all(state: &AppState, texts: &[String]) -> ApiResult<Vec<(String, f64)>> {
    let language = crate::engines::language(state)?;
    let texts = texts.to_vec();
    web::block(move || {
        texts
            .iter()
            .map(|t| {
                let d = language.detect_language(t, None);
                match languages::canonical(&d.iso6391_name) {
                    Some(code) => (code.to_string(), d.confidence),
                    None if d.confidence > 0.0 => (d.iso6391_name, d.confidence),
                    None => (UNDETERMINED.to_string(), 0.0),
                }
            })
            .collect()
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("language detection: {e}")))
}

/// A plan that cannot be made, with its Translator code (400019 or 400075).
fn plan_error(e: PlanError) -> ApiError {
    let subcode = match e {
        PlanError::PairUnsupported { .. } => codes::PAIR_UNSUPPORTED,
        PlanError::CategoryInvalid { .. } => codes::CATEGORY_INVALID,
    };
    error(Code::InvalidParameterValue, subcode, e.to_string())
}

/// Runs a plan of the translation service over the request's segments.
pub async fn run(state: &AppState, plan: &Plan, segments: &[Segment]) -> ApiResult<PlanOutput> {
    Ok(translation_service(state)?.run_plan(plan, segments).await?)
}

/// What a translation request asks for.
pub struct Ask<'a> {
    /// The source language; detected per text when absent.
    pub from: Option<&'a str>,
    pub to: &'a [String],
    pub category: Option<&'a str>,
    pub text_type: TextType,
}

/// A request's texts read and planned.
pub struct Prepared {
    pub segments: Vec<Segment>,
    /// The detected language of each text, when no source was given.
    pub detected: Option<Vec<(String, f64)>>,
    /// A plan per target, in the order of `Ask::to`.
    pub plans: Vec<Plan>,
}

/// Charges `characters` to the key, then reads the texts' markup, detects their languages and
/// plans every target. The charge comes before the markup is read, languages detected or
/// anything translated; only with a source language are the pairs planned before it, so that a
/// refused pair (400019, 400075) costs nothing. Without one, the pairs depend on the detection.
pub async fn charge_and_prepare(
    state: &AppState,
    key: &KeyInfo,
    characters: usize,
    texts: Vec<String>,
    ask: &Ask<'_>,
) -> ApiResult<Prepared> {
    let owner = Owner::from(key);
    let given_plans = match ask.from {
        Some(from) => Some(plans(state, &vec![from.to_string(); texts.len()], ask, &owner).await?),
        None => None,
    };
    state.usage.charge(key, super::SERVICE, characters as u64).await?;
    let segments = segments_of(texts, ask.text_type).await?;
    let (detected, plans) = match given_plans {
        Some(plans) => (None, plans),
        None => {
            let detected = detect_all(state, &segments.iter().map(|s| visible_text(s)).collect::<Vec<_>>()).await?;
            let sources: Vec<String> = detected.iter().map(|(code, _)| code.clone()).collect();
            let plans = plans(state, &sources, ask, &owner).await?;
            (Some(detected), plans)
        }
    };
    Ok(Prepared { segments, detected, plans })
}

/// A plan per target language; a category is looked up among the glossaries `owner` reaches.
async fn plans(state: &AppState, sources: &[String], ask: &Ask<'_>, owner: &Owner) -> ApiResult<Vec<Plan>> {
    let service = translation_service(state)?;
    let glossary = match ask.category {
        Some(name) => state.glossaries.get(&state.db, owner, name).await?,
        None => None,
    };
    let category = ask.category.map(|name| Category { name, glossary: glossary.as_deref() });
    ask.to.iter().map(|to| service.plan(sources, to, category).map_err(plan_error)).collect()
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
    responses((status = 200, description = "translations; headers X-mt-system, X-metered-usage (every input character, markup included, times the targets), X-Cogway-Route"),
              (status = 400, description = "Translator error codes 400000 (HTML with over 100 unclosed untranslatable elements), 400019, 400035, 400036, 400050, 400072, 400074, 400075"),
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
    let texts: Vec<String> = items.into_iter().map(|i| i.text).collect();
    // Azure charges every character of the input, markup included, once per target.
    let characters = chars_of(texts.iter().map(String::as_str)) * opts.to.len();
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
    let ask =
        Ask { from: opts.from.as_deref(), to: &opts.to, category: opts.category.as_deref(), text_type: opts.text_type };
    let Prepared { segments, detected, plans } =
        charge_and_prepare(&state, &caller.key, characters, texts, &ask).await?;

    let mut per_target = Vec::with_capacity(opts.to.len());
    let mut systems = Vec::new();
    for (to, plan) in opts.to.iter().zip(&plans) {
        let out = run(&state, plan, &segments).await?;
        systems.extend(out.systems);
        per_target.push((to.clone(), out.segments));
    }
    let mut body = Vec::with_capacity(segments.len());
    for (i, source) in segments.iter().enumerate() {
        let mut translations = Vec::with_capacity(opts.to.len());
        for (to, translated) in &per_target {
            let text = render(&opts.profanity.apply(translated[i].clone(), to), opts.text_type);
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
