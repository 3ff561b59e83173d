//! Glossaries: a user's term list for one language pair (CSV or TSV upload), stored in the
//! database and applied to `/translate?category=<name>` so each term comes out as given.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_translation::glossary::{self, Glossary};
use dashmap::DashMap;
use serde::Serialize;
use serde_json::json;

use super::{codes, error, language_param, query};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{Db, now};
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{check_resource_name, read_limited};

const MAX_GLOSSARY_BYTES: usize = 2 * 1024 * 1024;

/// A compiled glossary and its pair.
pub struct Compiled {
    pub from: String,
    pub to: String,
    pub glossary: Glossary,
}

/// Compiled glossaries by name; entries are dropped when a glossary is replaced or deleted.
#[derive(Default)]
pub struct GlossaryCache {
    compiled: DashMap<String, Arc<Compiled>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    name: String,
    from_lang: String,
    to_lang: String,
    #[sqlx(json)]
    entries: Vec<(String, String)>,
    created_at: i64,
    updated_at: i64,
}

impl GlossaryCache {
    /// The glossary called `name`, compiled, if it exists.
    pub async fn get(&self, db: &Db, name: &str) -> ApiResult<Option<Arc<Compiled>>> {
        if let Some(found) = self.compiled.get(name) {
            return Ok(Some(found.clone()));
        }
        let row: Option<Row> =
            sqlx::query_as("SELECT * FROM glossaries WHERE name = ?").bind(name).fetch_optional(db).await?;
        let Some(row) = row else { return Ok(None) };
        let glossary = compile(row.entries).await?.map_err(|e| ApiError::new(Code::Internal, e))?;
        let compiled = Arc::new(Compiled { from: row.from_lang, to: row.to_lang, glossary });
        self.compiled.insert(name.to_string(), compiled.clone());
        Ok(Some(compiled))
    }

    fn forget(&self, name: &str) {
        self.compiled.remove(name);
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

impl From<&Row> for Summary {
    fn from(r: &Row) -> Self {
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
    _caller: Caller,
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
    let existed =
        sqlx::query("SELECT 1 FROM glossaries WHERE name = ?").bind(&name).fetch_optional(&state.db).await?.is_some();
    sqlx::query(
        "INSERT INTO glossaries (name, from_lang, to_lang, entries, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET from_lang = excluded.from_lang, to_lang = excluded.to_lang, \
         entries = excluded.entries, updated_at = excluded.updated_at",
    )
    .bind(&name)
    .bind(from)
    .bind(to)
    .bind(json)
    .bind(t)
    .bind(t)
    .execute(&state.db)
    .await?;
    state.glossaries.forget(&name);
    let body = json!({ "name": name, "from": from, "to": to, "entries": entries.len() });
    Ok(if existed { HttpResponse::Ok().json(body) } else { HttpResponse::Created().json(body) })
}

async fn row(state: &AppState, name: &str) -> ApiResult<Row> {
    let row: Option<Row> =
        sqlx::query_as("SELECT * FROM glossaries WHERE name = ?").bind(name).fetch_optional(&state.db).await?;
    row.ok_or_else(|| ApiError(ServiceError::new(Code::NotFound, format!("The glossary {name:?} does not exist."))))
}

/// A glossary with its entries.
#[utoipa::path(get, path = "/translator/glossaries/{name}", tag = "Translator customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get(state: web::Data<AppState>, _caller: Caller, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = row(&state, &name).await?;
    let mut body = json!(Summary::from(&row));
    body["terms"] = json!(row.entries.iter().map(|(s, t)| json!({ "source": s, "target": t })).collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(body))
}

/// All glossaries (without their terms).
#[utoipa::path(get, path = "/translator/glossaries", tag = "Translator customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list(state: web::Data<AppState>, _caller: Caller) -> ApiResult<HttpResponse> {
    let rows: Vec<Row> = sqlx::query_as("SELECT * FROM glossaries ORDER BY name").fetch_all(&state.db).await?;
    Ok(HttpResponse::Ok().json(json!({ "value": rows.iter().map(Summary::from).collect::<Vec<_>>() })))
}

/// Delete a glossary.
#[utoipa::path(delete, path = "/translator/glossaries/{name}", tag = "Translator customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete(state: web::Data<AppState>, _caller: Caller, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let done = sqlx::query("DELETE FROM glossaries WHERE name = ?").bind(name.as_str()).execute(&state.db).await?;
    state.glossaries.forget(&name);
    if done.rows_affected() == 0 {
        return Err(ApiError::new(Code::NotFound, format!("The glossary {:?} does not exist.", name.as_str())));
    }
    Ok(HttpResponse::NoContent().finish())
}
