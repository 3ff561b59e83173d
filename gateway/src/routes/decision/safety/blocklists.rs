//! `/contentsafety/text/blocklists`: create or update (PATCH, merge-patch JSON), get, list and
//! delete lists; add or update, remove, list and get items.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{error, invalid_body, not_found};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::now;
use crate::errors::ApiResult;
use crate::routes::body::read_limited;
use crate::store::safety_blocklists::{BlocklistItem, SafetyBlocklists};

const MAX_NAME_CHARS: usize = 64;
const MAX_DESCRIPTION_CHARS: usize = 1024;
const MAX_ITEM_CHARS: usize = 128;
/// Items per add or remove request, and per list (Azure's limits).
const MAX_ITEMS_PER_CALL: usize = 100;
const MAX_ITEMS_PER_LIST: i64 = 10_000;
/// Items per page when the client asks for none.
const DEFAULT_PAGE: i64 = 100;
const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextBlocklist {
    blocklist_name: String,
    description: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TextBlocklistItem {
    blocklist_item_id: String,
    text: String,
    description: String,
}

impl From<BlocklistItem> for TextBlocklistItem {
    fn from(i: BlocklistItem) -> Self {
        Self { blocklist_item_id: i.item_id, text: i.text, description: i.description }
    }
}

#[derive(Deserialize)]
struct PatchBody {
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewItem {
    text: String,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AddItems {
    blocklist_items: Vec<NewItem>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RemoveItems {
    blocklist_item_ids: Vec<String>,
}

#[derive(Deserialize)]
pub struct Page {
    top: Option<i64>,
    skip: Option<i64>,
    maxpagesize: Option<i64>,
}

fn enabled(state: &AppState) -> ApiResult<()> {
    crate::engines::enabled(state, super::super::SERVICE)
}

/// Whether a blocklist name is 1 to 64 of `0-9A-Za-z._~-`.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
}

async fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> ApiResult<Result<T, HttpResponse>> {
    let body = read_limited(req, payload, MAX_BODY_BYTES).await?;
    Ok(serde_json::from_slice(&body).map_err(|e| invalid_body(&format!("The request body is not valid: {e}."))))
}

macro_rules! try_answer {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(answer) => return Ok(answer),
        }
    };
}

/// Create a blocklist (201) or update its description (200).
#[utoipa::path(patch, path = "/contentsafety/text/blocklists/{blocklistName}", tag = "Content Safety",
    params(("blocklistName" = String, Path)),
    request_body(content = serde_json::Value, content_type = "application/merge-patch+json", description = "{blocklistName, description}"),
    responses((status = 200, body = TextBlocklist), (status = 201, body = TextBlocklist),
              (status = 400, description = "InvalidResourceName, InvalidRequestBody, too many blocklists")),
    security(("key" = []), ("bearer" = [])))]
pub async fn create_or_update(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    if !valid_name(&name) {
        return Ok(error(
            actix_web::http::StatusCode::BAD_REQUEST,
            "InvalidResourceName",
            "A blocklist name is 1 to 64 characters of letters, digits, '.', '_', '~' and '-'.",
        ));
    }
    let body: PatchBody = try_answer!(json_body(&req, payload).await?);
    if body.description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
        return Ok(invalid_body("A description is at most 1,024 characters."));
    }
    let store = SafetyBlocklists::new(&state.db);
    let limit = i64::from(state.settings.limits.max_customizations_per_key);
    if !caller.key.is_admin
        && store.get(&caller.key.id, &name).await?.is_none()
        && store.count(&caller.key.id).await? >= limit
    {
        return Ok(invalid_body(&format!(
            "This key has {limit} blocklists, the most it may have (limits.max_customizations_per_key)."
        )));
    }
    let created = store.upsert(&caller.key.id, &name, body.description.as_deref(), now()).await?;
    let list = store.get(&caller.key.id, &name).await?.unwrap_or_else(|| crate::store::safety_blocklists::Blocklist {
        name: name.to_string(),
        description: String::new(),
    });
    let answer = TextBlocklist { blocklist_name: list.name, description: list.description };
    Ok(if created { HttpResponse::Created().json(answer) } else { HttpResponse::Ok().json(answer) })
}

/// A blocklist.
#[utoipa::path(get, path = "/contentsafety/text/blocklists/{blocklistName}", tag = "Content Safety",
    params(("blocklistName" = String, Path)),
    responses((status = 200, body = TextBlocklist), (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn get(caller: Caller, state: web::Data<AppState>, name: web::Path<String>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    match SafetyBlocklists::new(&state.db).get(&caller.key.id, &name).await? {
        Some(list) => {
            Ok(HttpResponse::Ok().json(TextBlocklist { blocklist_name: list.name, description: list.description }))
        }
        None => Ok(not_found(&format!("The blocklist '{name}' was not found."))),
    }
}

/// Every blocklist of the key.
#[utoipa::path(get, path = "/contentsafety/text/blocklists", tag = "Content Safety",
    responses((status = 200, body = serde_json::Value, description = "{value: [TextBlocklist]}")),
    security(("key" = []), ("bearer" = [])))]
pub async fn list(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let lists = SafetyBlocklists::new(&state.db).list(&caller.key.id).await?;
    let value: Vec<TextBlocklist> =
        lists.into_iter().map(|l| TextBlocklist { blocklist_name: l.name, description: l.description }).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "value": value })))
}

/// Delete a blocklist and its items.
#[utoipa::path(delete, path = "/contentsafety/text/blocklists/{blocklistName}", tag = "Content Safety",
    params(("blocklistName" = String, Path)),
    responses((status = 204, description = "deleted"), (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn delete(caller: Caller, state: web::Data<AppState>, name: web::Path<String>) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    if SafetyBlocklists::new(&state.db).delete(&caller.key.id, &name).await? {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Ok(not_found(&format!("The blocklist '{name}' was not found.")))
    }
}

/// Add items (or update the description of items with the same text).
#[utoipa::path(post, path = "/contentsafety/text/blocklists/{blocklistName}:addOrUpdateBlocklistItems", tag = "Content Safety",
    params(("blocklistName" = String, Path)),
    request_body(content = serde_json::Value, description = "{blocklistItems: [{text, description}]} (1 to 100 items of up to 128 characters)"),
    responses((status = 200, body = serde_json::Value, description = "{blocklistItems: [TextBlocklistItem]}"),
              (status = 400, description = "InvalidRequestBody"), (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn add_items(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let body: AddItems = try_answer!(json_body(&req, payload).await?);
    if body.blocklist_items.is_empty() || body.blocklist_items.len() > MAX_ITEMS_PER_CALL {
        return Ok(invalid_body("Send 1 to 100 blocklist items."));
    }
    if let Some(bad) = body.blocklist_items.iter().find(|i| {
        let n = i.text.trim().chars().count();
        n == 0 || n > MAX_ITEM_CHARS || i.description.chars().count() > MAX_DESCRIPTION_CHARS
    }) {
        return Ok(invalid_body(&format!(
            "Item '{}' is not valid: an item's text is 1 to 128 characters and its description at most 1,024.",
            bad.text.chars().take(40).collect::<String>()
        )));
    }
    let store = SafetyBlocklists::new(&state.db);
    if store.get(&caller.key.id, &name).await?.is_none() {
        return Ok(not_found(&format!("The blocklist '{name}' was not found.")));
    }
    if store.count_items(&caller.key.id, &name).await? + body.blocklist_items.len() as i64 > MAX_ITEMS_PER_LIST {
        return Ok(invalid_body(&format!("A blocklist holds at most {MAX_ITEMS_PER_LIST} items.")));
    }
    let time = now();
    let mut added = Vec::with_capacity(body.blocklist_items.len());
    for item in &body.blocklist_items {
        let stored = store.add_or_update_item(&caller.key.id, &name, item.text.trim(), &item.description, time).await?;
        added.push(TextBlocklistItem::from(stored));
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "blocklistItems": added })))
}

/// Remove items by id (unknown ids are ignored).
#[utoipa::path(post, path = "/contentsafety/text/blocklists/{blocklistName}:removeBlocklistItems", tag = "Content Safety",
    params(("blocklistName" = String, Path)),
    request_body(content = serde_json::Value, description = "{blocklistItemIds: [...]} (1 to 100)"),
    responses((status = 204, description = "removed"), (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn remove_items(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let body: RemoveItems = try_answer!(json_body(&req, payload).await?);
    if body.blocklist_item_ids.is_empty() || body.blocklist_item_ids.len() > MAX_ITEMS_PER_CALL {
        return Ok(invalid_body("Send 1 to 100 blocklist item ids."));
    }
    let store = SafetyBlocklists::new(&state.db);
    if store.get(&caller.key.id, &name).await?.is_none() {
        return Ok(not_found(&format!("The blocklist '{name}' was not found.")));
    }
    for id in &body.blocklist_item_ids {
        store.remove_item(&caller.key.id, &name, id).await?;
    }
    Ok(HttpResponse::NoContent().finish())
}

/// A page of a blocklist's items (`top`, `skip`, `maxpagesize`).
#[utoipa::path(get, path = "/contentsafety/text/blocklists/{blocklistName}/blocklistItems", tag = "Content Safety",
    params(("blocklistName" = String, Path), ("top" = Option<i64>, Query), ("skip" = Option<i64>, Query),
           ("maxpagesize" = Option<i64>, Query)),
    responses((status = 200, body = serde_json::Value, description = "{value: [TextBlocklistItem], nextLink?}"),
              (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn list_items(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    page: web::Query<Page>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let store = SafetyBlocklists::new(&state.db);
    if store.get(&caller.key.id, &name).await?.is_none() {
        return Ok(not_found(&format!("The blocklist '{name}' was not found.")));
    }
    let skip = page.skip.unwrap_or(0).max(0);
    let size = page.maxpagesize.unwrap_or(DEFAULT_PAGE).clamp(1, 1000);
    let wanted = page.top.unwrap_or(i64::MAX).max(0);
    let take = wanted.min(size);
    let items = store.items(&caller.key.id, &name, skip, take).await?;
    let mut answer = serde_json::json!({
        "value": items.into_iter().map(TextBlocklistItem::from).collect::<Vec<_>>()
    });
    let returned = answer["value"].as_array().map_or(0, Vec::len) as i64;
    let remaining_wanted = wanted.saturating_sub(returned);
    if returned == take && remaining_wanted > 0 && store.count_items(&caller.key.id, &name).await? > skip + returned {
        let mut next = format!(
            "{}://{}{}?skip={}&maxpagesize={size}",
            req.connection_info().scheme(),
            req.connection_info().host(),
            req.path(),
            skip + returned
        );
        if page.top.is_some() {
            next.push_str(&format!("&top={remaining_wanted}"));
        }
        if let Some(version) = req.query_string().split('&').find(|p| p.starts_with("api-version=")) {
            next.push('&');
            next.push_str(version);
        }
        answer["nextLink"] = serde_json::Value::String(next);
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// One blocklist item.
#[utoipa::path(get, path = "/contentsafety/text/blocklists/{blocklistName}/blocklistItems/{blocklistItemId}", tag = "Content Safety",
    params(("blocklistName" = String, Path), ("blocklistItemId" = String, Path)),
    responses((status = 200, body = TextBlocklistItem), (status = 404, description = "ResourceNotFound")),
    security(("key" = []), ("bearer" = [])))]
pub async fn get_item(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    enabled(&state)?;
    let (name, item_id) = path.into_inner();
    match SafetyBlocklists::new(&state.db).item(&caller.key.id, &name, &item_id).await? {
        Some(item) => Ok(HttpResponse::Ok().json(TextBlocklistItem::from(item))),
        None => Ok(not_found(&format!("The item '{item_id}' of blocklist '{name}' was not found."))),
    }
}
