//! `POST /contentsafety/text:analyze`: harm severities from `cogway_decision::safety::lexicon`,
//! and matches of the caller's blocklists.

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_decision::safety::blocklist::{self, Item};
use cogway_decision::safety::{Category, OutputType, lexicon};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{invalid_body, not_found};
use crate::app::AppState;
use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::routes::body::read_limited;
use crate::store::safety_blocklists::SafetyBlocklists;

/// Longest text, in code points (Azure's limit).
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Most blocklists one request may name.
const MAX_BLOCKLISTS: usize = 10;
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeTextOptions {
    /// Up to 10,000 characters.
    text: String,
    /// Hate, SelfHarm, Sexual, Violence (default: all four).
    #[serde(default)]
    categories: Option<Vec<String>>,
    #[serde(default)]
    blocklist_names: Vec<String>,
    #[serde(default)]
    halt_on_blocklist_hit: bool,
    /// FourSeverityLevels (default) or EightSeverityLevels.
    #[serde(default)]
    output_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextBlocklistMatch {
    blocklist_name: String,
    blocklist_item_id: String,
    blocklist_item_text: String,
}

#[derive(Serialize, ToSchema)]
pub struct TextCategoriesAnalysis {
    category: String,
    severity: u8,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeTextResult {
    blocklists_match: Vec<TextBlocklistMatch>,
    categories_analysis: Vec<TextCategoriesAnalysis>,
}

/// The categories asked for, in Azure's order, or the message of a 400.
pub fn categories(names: Option<&[String]>) -> Result<Vec<Category>, String> {
    let Some(names) = names.filter(|n| !n.is_empty()) else { return Ok(Category::ALL.to_vec()) };
    let mut out = Vec::new();
    for name in names {
        let category = Category::parse(name).ok_or_else(|| {
            format!("Unknown category '{name}': the categories are Hate, SelfHarm, Sexual and Violence.")
        })?;
        if !out.contains(&category) {
            out.push(category);
        }
    }
    out.sort();
    Ok(out)
}

/// Analyse text for harm.
#[utoipa::path(post, path = "/contentsafety/text:analyze", tag = "Content Safety",
    params(("api-version" = String, Query, description = "2023-10-01 or 2024-09-01")),
    request_body = AnalyzeTextOptions,
    responses((status = 200, body = AnalyzeTextResult),
              (status = 400, description = "InvalidRequestBody (empty or too long text, unknown category or output type)"),
              (status = 404, description = "ResourceNotFound (an unknown blocklist)")),
    security(("key" = []), ("bearer" = [])))]
pub async fn analyze(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    crate::engines::enabled(&state, super::super::SERVICE)?;
    let body = read_limited(&req, payload, MAX_BODY_BYTES).await?;
    let options: AnalyzeTextOptions = match serde_json::from_slice(&body) {
        Ok(options) => options,
        Err(e) => return Ok(invalid_body(&format!("The request body is not valid: {e}."))),
    };
    let length = options.text.chars().count();
    if length == 0 || length > MAX_TEXT_CHARS {
        return Ok(invalid_body(&format!("The text must be 1 to {MAX_TEXT_CHARS} characters; it has {length}.")));
    }
    let wanted = match categories(options.categories.as_deref()) {
        Ok(wanted) => wanted,
        Err(message) => return Ok(invalid_body(&message)),
    };
    let output = match options.output_type.as_deref() {
        None => OutputType::default(),
        Some(name) => match OutputType::parse(name) {
            Some(output) => output,
            None => {
                return Ok(invalid_body("outputType must be FourSeverityLevels or EightSeverityLevels."));
            }
        },
    };
    if options.blocklist_names.len() > MAX_BLOCKLISTS {
        return Ok(invalid_body(&format!("At most {MAX_BLOCKLISTS} blocklists may be named.")));
    }
    let store = SafetyBlocklists::new(&state.db);
    let mut items = Vec::new();
    for name in &options.blocklist_names {
        if store.get(&caller.key.id, name).await?.is_none() {
            return Ok(not_found(&format!("The blocklist '{name}' was not found.")));
        }
        items.extend(store.all_items(&caller.key.id, name).await?.into_iter().map(|i| Item {
            blocklist: i.blocklist,
            id: i.item_id,
            text: i.text,
        }));
    }
    // Matching up to 100,000 items and the lexicons run on the blocking pool.
    let halt = options.halt_on_blocklist_hit;
    let (hits, severities) = web::block(move || {
        let hits = blocklist::matches(&options.text, &items);
        // With haltOnBlocklistHit and a match, no category is analysed.
        let severities = (hits.is_empty() || !halt).then(|| lexicon::severities(&options.text));
        (hits, severities)
    })
    .await
    .map_err(|e| crate::errors::ApiError(cogway_core::ServiceError::internal(e.to_string())))?;
    let blocklists_match: Vec<TextBlocklistMatch> = hits
        .into_iter()
        .map(|h| TextBlocklistMatch {
            blocklist_name: h.blocklist,
            blocklist_item_id: h.id,
            blocklist_item_text: h.text,
        })
        .collect();
    let categories_analysis = severities
        .map(|severities| {
            severities
                .into_iter()
                .filter(|(c, _)| wanted.contains(c))
                .map(|(c, s)| TextCategoriesAnalysis { category: c.name().into(), severity: output.report(s) })
                .collect()
        })
        .unwrap_or_default();
    Ok(HttpResponse::Ok().json(AnalyzeTextResult { blocklists_match, categories_analysis }))
}
