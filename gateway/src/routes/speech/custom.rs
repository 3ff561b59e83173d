//! Customization from the user's data: custom speech models (a base Whisper model biased
//! towards a phrase list through its prompt, selected with Azure's `cid` or OpenAI's `model`)
//! and pronunciation lexicons (PLS documents that SSML `<lexicon uri>` refers to). Both belong
//! to the key that stored them (see [`crate::owners`]).

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::Code;
use cogway_speech::tts::lexicon::{self, Lexicon};
use serde::Deserialize;

use super::speech_service;
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::now;
use crate::errors::{ApiError, ApiResult};
use crate::owners::{Owner, Stored, Table, ensure_room};
use crate::routes::body::{check_resource_name, read_json, read_limited};

const MAX_PHRASES: usize = 500;
const MAX_PHRASE_CHARS: usize = 100;
/// Whisper's prompt holds 224 tokens; about 600 characters of phrases fit.
const MAX_PROMPT_CHARS: usize = 600;
const MAX_LEXICON_BYTES: usize = 1024 * 1024;

/// A saved custom speech model.
pub use crate::store::speech_customizations::CustomModel;
use crate::store::speech_customizations::SpeechCustomizations;

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

/// The custom model `name` of the owner `key_id`.
async fn owned_model(state: &AppState, key_id: &str, name: &str) -> ApiResult<Option<CustomModel>> {
    Ok(SpeechCustomizations::new(&state.db).model(key_id, name).await?)
}

/// The custom model `name` that `owner` reaches, if there is one.
pub async fn find_model(state: &AppState, owner: &Owner, name: &str) -> ApiResult<Option<CustomModel>> {
    let key_id = owner.resolve(&state.db, Table::SpeechModels, name).await?;
    owned_model(state, &key_id, name).await
}

/// The custom model `name` that `owner` reaches, or 404 (also when only another key has one).
pub async fn load_model(state: &AppState, owner: &Owner, name: &str) -> ApiResult<CustomModel> {
    find_model(state, owner, name).await?.ok_or_else(|| {
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
    caller: Caller,
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
    // A PUT always writes the caller's own model, whoever else has one of that name.
    let key_id = caller.key.id.as_str();
    let existed = owned_model(&state, key_id, &name).await?.is_some();
    if !existed {
        ensure_room(
            &state.db,
            Stored::Named(Table::SpeechModels),
            &caller.key,
            state.settings.limits.max_customizations_per_key,
        )
        .await?;
    }
    SpeechCustomizations::new(&state.db)
        .put_model(key_id, name.as_str(), &base_model, &phrases, &body.description, at)
        .await?;
    let model = owned_model(&state, key_id, &name).await?.ok_or_else(|| ApiError::new(Code::Internal, "model lost"))?;
    Ok(if existed { HttpResponse::Ok().json(model) } else { HttpResponse::Created().json(model) })
}

/// A custom speech model.
#[utoipa::path(get, path = "/speech/custom/models/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_model(caller: Caller, state: web::Data<AppState>, name: web::Path<String>) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let model = load_model(&state, &owner, &name).await?;
    Ok(HttpResponse::Ok().json(owner.listed(serde_json::json!(model), &model.key_id)))
}

/// The caller's custom speech models; every owner's, with their owner, for an admin key.
#[utoipa::path(get, path = "/speech/custom/models", tag = "Speech customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list_models(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let models: Vec<CustomModel> = SpeechCustomizations::new(&state.db).models(&owner.key_id, owner.is_admin).await?;
    let values: Vec<_> = models.iter().map(|m| owner.listed(serde_json::json!(m), &m.key_id)).collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "values": values })))
}

/// Delete a custom speech model.
#[utoipa::path(delete, path = "/speech/custom/models/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_model(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    delete_named(&state, &Owner::from(&caller.key), Table::SpeechModels, &name).await
}

/// Deletes the named row the caller reaches; 404 when there was none.
async fn delete_named(state: &AppState, owner: &Owner, table: Table, name: &str) -> ApiResult<HttpResponse> {
    if owner.delete(&state.db, table, name).await?.is_none() {
        let what = if table == Table::SpeechLexicons { "lexicon" } else { "custom speech model" };
        return Err(ApiError::new(Code::NotFound, format!("The {what} {name:?} does not exist.")));
    }
    Ok(HttpResponse::NoContent().finish())
}

/// Store a pronunciation lexicon (W3C PLS XML); SSML uses it with `<lexicon uri="lexicon:{name}"/>`.
#[utoipa::path(put, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), request_body(content = String, content_type = "application/pls+xml"),
    responses((status = 201), (status = 200), (status = 400)), security(("key" = []), ("bearer" = [])))]
pub async fn put_lexicon(
    caller: Caller,
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
    // A PUT always writes the caller's own lexicon, whoever else has one of that name.
    let key_id = caller.key.id.as_str();
    let existed = owned_lexicon(&state, key_id, &name).await?;
    if existed.is_none() {
        ensure_room(
            &state.db,
            Stored::Named(Table::SpeechLexicons),
            &caller.key,
            state.settings.limits.max_customizations_per_key,
        )
        .await?;
    }
    SpeechCustomizations::new(&state.db).put_lexicon(key_id, name.as_str(), text, now()).await?;
    let body = serde_json::json!({ "name": name.as_str(), "lexemes": parsed.lexemes.len(), "uri": format!("lexicon:{}", name.as_str()) });
    Ok(if existed.is_some() { HttpResponse::Ok().json(body) } else { HttpResponse::Created().json(body) })
}

/// The PLS document of the lexicon `name` of the owner `key_id`.
async fn owned_lexicon(state: &AppState, key_id: &str, name: &str) -> ApiResult<Option<String>> {
    Ok(SpeechCustomizations::new(&state.db).lexicon(key_id, name).await?)
}

/// The PLS document of the lexicon `name` that `owner` reaches, if there is one.
async fn find_lexicon(state: &AppState, owner: &Owner, name: &str) -> ApiResult<Option<String>> {
    let key_id = owner.resolve(&state.db, Table::SpeechLexicons, name).await?;
    owned_lexicon(state, &key_id, name).await
}

/// A stored lexicon (the PLS document).
#[utoipa::path(get, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 200), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn get_lexicon(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let pls = find_lexicon(&state, &Owner::from(&caller.key), &name).await?;
    let pls =
        pls.ok_or_else(|| ApiError::new(Code::NotFound, format!("The lexicon {:?} does not exist.", name.as_str())))?;
    Ok(HttpResponse::Ok().content_type("application/pls+xml").body(pls))
}

/// The names of the caller's lexicons. For an admin key, every owner's, and `owners`: one
/// `{name, owner}` per lexicon.
#[utoipa::path(get, path = "/speech/lexicons", tag = "Speech customization",
    responses((status = 200)), security(("key" = []), ("bearer" = [])))]
pub async fn list_lexicons(caller: Caller, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let owner = Owner::from(&caller.key);
    let rows = SpeechCustomizations::new(&state.db).lexicons(&owner.key_id, owner.is_admin).await?;
    let mut body = serde_json::json!({ "values": rows.iter().map(|(name, _)| name).collect::<Vec<_>>() });
    if owner.is_admin {
        body["owners"] =
            rows.iter().map(|(name, key_id)| owner.listed(serde_json::json!({ "name": name }), key_id)).collect();
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Delete a stored lexicon.
#[utoipa::path(delete, path = "/speech/lexicons/{name}", tag = "Speech customization",
    params(("name" = String, Path)), responses((status = 204), (status = 404)), security(("key" = []), ("bearer" = [])))]
pub async fn delete_lexicon(
    caller: Caller,
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> ApiResult<HttpResponse> {
    delete_named(&state, &Owner::from(&caller.key), Table::SpeechLexicons, &name).await
}

/// The stored lexicons an SSML document refers to, among those `owner` reaches. A `uri` names a
/// lexicon by its last path segment (`lexicon:names`, `https://host/lexicons/names.xml` -> `names`).
pub async fn lexicons_for(state: &AppState, owner: &Owner, uris: &[String]) -> ApiResult<Vec<Lexicon>> {
    let mut stored = Vec::new();
    for uri in uris {
        let last = uri.rsplit(['/', ':']).next().unwrap_or(uri);
        let name = last.trim_end_matches(".xml").trim_end_matches(".pls");
        let pls = find_lexicon(state, owner, name).await?.ok_or_else(|| {
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
