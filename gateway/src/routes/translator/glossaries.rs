//! Glossaries: a user's term list for one language pair (CSV or TSV upload), stored in the
//! database and applied to `/translate?category=<name>` so each term comes out as given. A
//! glossary belongs to the key that stored it (see [`crate::owners`]).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_translation::PairGlossary;
use cogway_translation::glossary::{self, Glossary};
use dashmap::DashMap;
use serde::Serialize;
use serde_json::json;

use super::{codes, error, language_param, query};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{Db, now};
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Owner, Stored, Table, ensure_room};
use crate::routes::body::{check_resource_name, read_limited};
use crate::store::glossaries::{Glossaries, Glossary as StoredGlossary};

const MAX_GLOSSARY_BYTES: usize = 2 * 1024 * 1024;

/// Most compiled glossaries kept in memory (up to 10,000 terms each; a glossary compiled again
/// after being dropped costs milliseconds). Past it, an arbitrary entry makes room.
const MAX_CACHED: usize = 256;

/// Compiled glossaries by (owner key id, name), with the `updated_at` they were compiled from:
/// each use checks that version in the database (one indexed read), so a glossary replaced or
/// deleted through another replica is not used stale. At most [`MAX_CACHED`] are kept.
#[derive(Default)]
pub struct GlossaryCache {
    compiled: DashMap<(String, String), (i64, Arc<PairGlossary>)>,
}

impl GlossaryCache {
    /// The glossary called `name` that `owner` reaches, compiled, if there is one.
    pub async fn get(&self, db: &Db, owner: &Owner, name: &str) -> ApiResult<Option<Arc<PairGlossary>>> {
        let key_id = owner.resolve(db, Table::Glossaries, name).await?;
        let cache_key = (key_id, name.to_string());
        let store = Glossaries::new(db);
        let Some(version) = store.version(&cache_key.0, name).await? else {
            self.compiled.remove(&cache_key);
            return Ok(None);
        };
        if let Some(found) = self.compiled.get(&cache_key)
            && found.0 == version
        {
            return Ok(Some(found.1.clone()));
        }
        let Some(row) = store.get(&cache_key.0, name).await? else { return Ok(None) };
        let glossary = compile(row.entries).await?.map_err(|e| ApiError::new(Code::Internal, e))?;
        let compiled = Arc::new(PairGlossary { from: row.from_lang, to: row.to_lang, glossary });
        if self.compiled.len() >= MAX_CACHED {
            let victim = self.compiled.iter().next().map(|entry| entry.key().clone());
            if let Some(victim) = victim {
                self.compiled.remove(&victim);
            }
        }
        self.compiled.insert(cache_key, (row.updated_at, compiled.clone()));
        Ok(Some(compiled))
    }

    fn forget(&self, key_id: &str, name: &str) {
        self.compiled.remove(&(key_id.to_string(), name.to_string()));
    }
}

/// Builds a glossary's matcher on the blocking pool (up to a second for 10,000 long terms).
async fn compile(entries: Vec<(String, String)>) -> ApiResult<Result<Glossary, String>> {
    web::block(move || Glossary::new(&entries))
        .await
        .map_err(|e| ApiError::new(Code::Internal, format!("compiling the glossary: {e}")))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    name: String,
    from: String,
    to: String,
    entries: usize,
    created_at: i64,
    updated_at: i64,
}

impl From<&StoredGlossary> for Summary {
    fn from(r: &StoredGlossary) -> Self {
        Self {
            name: r.name.clone(),
            from: r.from_lang.clone(),
            to: r.to_lang.clone(),
            entries: r.entries.len(),
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn valid_name(name: &str) -> ApiResult<()> {
    check_resource_name(name, 64, "Glossary names are 1 to 64 characters of letters, digits, '-', '_' and '.'.")
}

/// Create or replace a glossary: `PUT /translator/glossaries/{name}?from=en&to=es` with a CSV or
/// TSV body (source term, target term per line).
#[utoipa::path(put, path = "/translator/glossaries/{name}", tag = "Translator customization",
    params(("name" = String, Path), ("from" = String, Query), ("to" = String, Query)),
    request_body(content = String, description = "CSV or TSV: source term, target term", content_type = "text/csv"),
    responses((status = 201, description = "created"), (status = 200, description = "replaced"), (status = 400)),
    security(("key" = []), ("bearer" = [])))]
pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    name: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let name = name.into_inner();
    valid_name(&name)?;
    let pairs = query(&req);
    let from = language_param(&pairs, "from", codes::SOURCE_UNSUPPORTED)?;
    let to = language_param(&pairs, "to", codes::TARGET_INVALID)?;
    let content_type = crate::routes::body::content_type(&req);
    if !["text/csv", "text/tab-separated-values", "text/plain", "application/csv"]
        .iter()
        .any(|t| content_type.starts_with(t))
    {
        return Err(error(
            Code::UnsupportedMediaType,
            codes::CONTENT_TYPE,
            format!("The Content-Type {content_type:?} is not supported; send text/csv or text/tab-separated-values."),
        ));
    }
    let bytes = read_limited(&req, payload, MAX_GLOSSARY_BYTES).await?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| error(Code::InvalidRequest, codes::BAD_PARAMETER, "The glossary is not UTF-8 text."))?;
    let entries = glossary::parse(text, from, to)
        .map_err(|e| error(Code::InvalidRequest, codes::BAD_PARAMETER, format!("The glossary is not valid: {e}.")))?;
    compile(entries.clone()).await?.map_err(|e| error(Code::InvalidRequest, codes::BAD_PARAMETER, e))?;
    let json = serde_json::to_string(&entries).map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    let t = now();
    // A PUT always writes the caller's own glossary, whoever else has one of that name.
    let key_id = caller.key.id.as_str();
    let store = Glossaries::new(&state.db);
    let existed = store.version(key_id, &name).await?.is_some();
    if !existed {
        ensure_room(
            &state.db,
            Stored::Named(Table::Glossaries),
            &caller.key,
            state.settings.limits.max_customizations_per_key,
        )
        .await?;
    }
    store.put(key_id, &name, from, to, &json, t).await?;
    state.glossaries.forget(key_id, &name);
    let body = json!({ "name": name, "from": from, "to": to, "entries": entries.len() });
    Ok(if existed { HttpResponse::Ok().json(body) } else { HttpResponse::Created().json(body) })
}

fn not_found(name: &str) -> ApiError {
    ApiError(ServiceError::new(Code::NotFound, format!("The glossary {name:?} does not exist.")))
}

/// The glossary `name` the caller reaches, or 404 (also when only another key has one).
async fn row(state: &AppState, owner: &Owner, name: &str) -> ApiResult<StoredGlossary> {
    let key_id = owner.resolve(&state.db, Table::Glossaries, name).await?;
    Glossaries::new(&state.db).get(&key_id, name).await?.ok_or_else(|| not_found(name))
}

/// A glossary with its entries.
#[utoipa::path(get, path = "/translator/glossaries/{name}", tag = "Translator customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get(state: web::Data<AppState>, caller: Caller, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let row = row(&state, &owner, &name).await?;
    let mut body = owner.listed(json!(Summary::from(&row)), &row.key_id);
    body["terms"] = json!(row.entries.iter().map(|(s, t)| json!({ "source": s, "target": t })).collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(body))
}

/// The caller's glossaries (without their terms); every owner's, with their owner, for an admin key.
#[utoipa::path(get, path = "/translator/glossaries", tag = "Translator customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let rows = Glossaries::new(&state.db).list(&owner.key_id, owner.is_admin).await?;
    let value: Vec<_> = rows.iter().map(|r| owner.listed(json!(Summary::from(r)), &r.key_id)).collect();
    Ok(HttpResponse::Ok().json(json!({ "value": value })))
}

/// Delete a glossary.
#[utoipa::path(delete, path = "/translator/glossaries/{name}", tag = "Translator customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete(state: web::Data<AppState>, caller: Caller, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let key_id =
        Owner::from(&caller.key).delete(&state.db, Table::Glossaries, &name).await?.ok_or_else(|| not_found(&name))?;
    state.glossaries.forget(&key_id, &name);
    Ok(HttpResponse::NoContent().finish())
}
