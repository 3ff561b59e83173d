//! Customization from the user's data: custom speech models (a base Whisper model biased
//! towards a phrase list through its prompt, selected with Azure's `cid` or OpenAI's `model`)
//! and pronunciation lexicons (PLS documents that SSML `<lexicon uri>` refers to).

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::tts::lexicon::{self, Lexicon};
use serde::{Deserialize, Serialize};

use super::speech_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::now;
use crate::errors::{ApiError, ApiResult};
use crate::routes::body::{check_resource_name, read_json, read_limited};

const MAX_PHRASES: usize = 500;
const MAX_PHRASE_CHARS: usize = 100;
/// Whisper's prompt holds 224 tokens; about 600 characters of phrases fit.
const MAX_PROMPT_CHARS: usize = 600;
const MAX_LEXICON_BYTES: usize = 1024 * 1024;

/// A saved custom speech model.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[serde(rename_all = "camelCase")]
pub struct CustomModel {
    pub name: String,
    pub base_model: String,
    #[sqlx(json)]
    pub phrases: Vec<String>,
    pub description: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRequest {
    #[serde(default)]
    pub base_model: Option<String>,
    pub phrases: Vec<String>,
    #[serde(default)]
    pub description: String,
}

fn valid_name(name: &str) -> ApiResult<()> {
    check_resource_name(name, 64, "Names are 1 to 64 characters of letters, digits, '-', '_' and '.'.")
}

/// The Whisper prompt for a phrase list: the phrases as a comma-separated glossary, as much as fits.
pub fn prompt_from_phrases(phrases: &[String]) -> Option<String> {
    let mut prompt = String::new();
    for phrase in phrases {
        if prompt.len() + phrase.len() + 2 > MAX_PROMPT_CHARS {
            break;
        }
        if !prompt.is_empty() {
            prompt.push_str(", ");
        }
        prompt.push_str(phrase);
    }
    (!prompt.is_empty()).then(|| format!("{prompt}."))
}

/// A custom model by name, if it exists.
pub async fn find_model(state: &AppState, name: &str) -> ApiResult<Option<CustomModel>> {
    Ok(sqlx::query_as("SELECT * FROM speech_models WHERE name = ?").bind(name).fetch_optional(&state.db).await?)
}

/// A custom model by name, or 404.
pub async fn load_model(state: &AppState, name: &str) -> ApiResult<CustomModel> {
    find_model(state, name).await?.ok_or_else(|| {
        ApiError::new(
            Code::NotFound,
            format!("The custom speech model {name:?} does not exist (PUT /speech/custom/models/{name})."),
        )
    })
}

/// Create or replace a custom speech model: {baseModel?, phrases[], description?}.
#[utoipa::path(put, path = "/speech/custom/models/{name}", tag = "Speech customization",
    params(("name" = String, Path)), request_body(content = String, content_type = "application/json"),
    responses((status = 201), (status = 200), (status = 400)), security(("key" = []), ("bearer" = [])))]
pub async fn put_model(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let service = speech_service(&state)?;
    valid_name(&name)?;
    let body: ModelRequest = read_json(&req, payload, 256 * 1024).await?;
    if body.phrases.is_empty() || body.phrases.len() > MAX_PHRASES {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("phrases must hold 1 to {MAX_PHRASES} entries."),
        ));
    }
    let phrases: Vec<String> = body.phrases.iter().map(|p| p.trim().to_string()).collect();
    if phrases.iter().any(|p| p.is_empty() || p.chars().count() > MAX_PHRASE_CHARS) {
        return Err(ApiError::new(
            Code::InvalidParameterValue,
            format!("Every phrase must have 1 to {MAX_PHRASE_CHARS} characters."),
        ));
    }
    let base_model = service.resolve_model(body.base_model.as_deref())?.to_string();
    let at = now();
    let existed = find_model(&state, &name).await?.is_some();
    sqlx::query(
        "INSERT INTO speech_models (name, base_model, phrases, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET base_model = excluded.base_model, phrases = excluded.phrases, \
         description = excluded.description, updated_at = excluded.updated_at",
    )
    .bind(name.as_str())
    .bind(&base_model)
    .bind(serde_json::to_string(&phrases).unwrap_or_else(|_| "[]".into()))
    .bind(&body.description)
    .bind(at)
    .bind(at)
    .execute(&state.db)
    .await?;
    let model = load_model(&state, &name).await?;
    Ok(if existed { HttpResponse::Ok().json(model) } else { HttpResponse::Created().json(model) })
}

/// A custom speech model.
#[utoipa::path(get, path = "/speech/custom/models/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_model(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(load_model(&state, &name).await?))
}

/// The custom speech models.
#[utoipa::path(get, path = "/speech/custom/models", tag = "Speech customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list_models(_caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let models: Vec<CustomModel> =
        sqlx::query_as("SELECT * FROM speech_models ORDER BY name LIMIT 1000").fetch_all(&state.db).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "values": models })))
}

/// Delete a custom speech model.
#[utoipa::path(delete, path = "/speech/custom/models/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_model(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    delete_named(&state, Table::Models, &name).await
}

/// The two tables of named customizations.
#[derive(Clone, Copy)]
enum Table {
    Models,
    Lexicons,
}

/// Deletes a named row; 404 when there was none.
async fn delete_named(state: &AppState, table: Table, name: &str) -> ApiResult<HttpResponse> {
    let (sql, what) = match table {
        Table::Models => ("DELETE FROM speech_models WHERE name = ?", "custom speech model"),
        Table::Lexicons => ("DELETE FROM speech_lexicons WHERE name = ?", "lexicon"),
    };
    let done = sqlx::query(sql).bind(name).execute(&state.db).await?;
    if done.rows_affected() == 0 {
        return Err(ApiError::new(Code::NotFound, format!("The {what} {name:?} does not exist.")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Store a pronunciation lexicon (W3C PLS XML); SSML uses it with `<lexicon uri="lexicon:{name}"/>`.
#[utoipa::path(put, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), request_body(content = String, content_type = "application/pls+xml"),
    responses((status = 201), (status = 200), (status = 400)), security(("key" = []), ("bearer" = [])))]
pub async fn put_lexicon(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    valid_name(&name)?;
    let body = read_limited(&req, payload, MAX_LEXICON_BYTES).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(Code::InvalidRequestBodyFormat, "The lexicon is not UTF-8 text."))?;
    let parsed = lexicon::parse(text).map_err(|e| ApiError::new(Code::InvalidRequestBodyFormat, e.to_string()))?;
    let existed: Option<String> = sqlx::query_scalar("SELECT name FROM speech_lexicons WHERE name = ?")
        .bind(name.as_str())
        .fetch_optional(&state.db)
        .await?;
    sqlx::query(
        "INSERT INTO speech_lexicons (name, pls, created_at) VALUES (?, ?, ?) \
         ON CONFLICT (name) DO UPDATE SET pls = excluded.pls",
    )
    .bind(name.as_str())
    .bind(text)
    .bind(now())
    .execute(&state.db)
    .await?;
    let body = serde_json::json!({ "name": name.as_str(), "lexemes": parsed.lexemes.len(), "uri": format!("lexicon:{}", name.as_str()) });
    Ok(if existed.is_some() { HttpResponse::Ok().json(body) } else { HttpResponse::Created().json(body) })
}

/// A stored lexicon (the PLS document).
#[utoipa::path(get, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_lexicon(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let pls: Option<String> = sqlx::query_scalar("SELECT pls FROM speech_lexicons WHERE name = ?")
        .bind(name.as_str())
        .fetch_optional(&state.db)
        .await?;
    let pls =
        pls.ok_or_else(|| ApiError::new(Code::NotFound, format!("The lexicon {:?} does not exist.", name.as_str())))?;
    Ok(HttpResponse::Ok().content_type("application/pls+xml").body(pls))
}

/// The stored lexicons.
#[utoipa::path(get, path = "/speech/lexicons", tag = "Speech customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list_lexicons(_caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT name FROM speech_lexicons ORDER BY name LIMIT 1000").fetch_all(&state.db).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "values": names })))
}

/// Delete a stored lexicon.
#[utoipa::path(delete, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_lexicon(
    _caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    delete_named(&state, Table::Lexicons, &name).await
}

/// The stored lexicons an SSML document refers to. A `uri` names a lexicon by its last path
/// segment (`lexicon:names`, `https://host/lexicons/names.xml` -> `names`).
pub async fn lexicons_for(state: &AppState, uris: &[String]) -> ApiResult<Vec<Lexicon>> {
    let mut stored = Vec::new();
    for uri in uris {
        let last = uri.rsplit(['/', ':']).next().unwrap_or(uri);
        let name = last.trim_end_matches(".xml").trim_end_matches(".pls");
        let pls: Option<String> = sqlx::query_scalar("SELECT pls FROM speech_lexicons WHERE name = ?")
            .bind(name)
            .fetch_optional(&state.db)
            .await?;
        let pls = pls.ok_or_else(|| {
            ApiError::new(
                Code::InvalidParameterValue,
                format!("The lexicon {uri:?} is not stored here: upload it with PUT /speech/lexicons/{name}."),
            )
        })?;
        stored.push((name.to_string(), pls));
    }
    if stored.is_empty() {
        return Ok(Vec::new());
    }
    // Each distinct lexicon once (ssml::parse keeps only distinct URIs, at most ssml::MAX_LEXICONS),
    // parsed on the blocking pool.
    web::block(move || {
        stored
            .iter()
            .map(|(name, pls)| {
                lexicon::parse(pls).map_err(|e| ApiError::new(Code::Internal, format!("stored lexicon {name}: {e}")))
            })
            .collect::<ApiResult<Vec<Lexicon>>>()
    })
    .await
    .map_err(|e| ApiError::new(Code::Internal, format!("lexicon thread failed: {e}")))?
}
