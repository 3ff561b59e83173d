//! Batch transcription of long audio, shaped like Azure's Speech-to-text REST API
//! (`/speechtotext/v3.2/transcriptions`), with the audio uploaded in the request instead of
//! fetched from `contentUrls` (this server makes no outbound requests):
//!
//! - `POST   /speechtotext/{v}/transcriptions` multipart: `audio` (the file) + `definition`
//!   (JSON: `locale`, `displayName`, `model`, `properties.wordLevelTimestampsEnabled`,
//!   `properties.profanityFilterMode`, `properties.phraseList`) -> 201 + `Location`
//! - `GET    /speechtotext/{v}/transcriptions[/{id}]`, `DELETE .../{id}`
//! - `GET    .../{id}/files` and `.../{id}/files/{file}`: the result, in Azure's transcription
//!   file format (recognized phrases with offsets, durations, N-best and word timings).
//!
//! The audio is checked and its duration charged when submitted; jobs persist in the database
//! (audio in the blob store) and run on the Whisper batch lane, split on silence by the VAD, on
//! whichever replica's job runner claims them ([`TranscriptionJobs`]).

use std::sync::atomic::Ordering;

use async_trait::async_trait;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use cogway_speech::Lane;
use cogway_speech::audio::{self, DecodeLimits};
use cogway_speech::stt::text_forms::{self, Profanity};
use cogway_speech::stt::{RecognitionRequest, Transcript, languages};
use serde::Deserialize;
use serde_json::{Value, json};

use super::recognition::ticks;
use super::{SERVICE, custom, speech_service, whisper_language};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::rfc3339;
use crate::errors::{ApiError, ApiResult};
use crate::jobs::{
    self, Claimed, JobContext, JobHandler, JobInput, JobKind, JobRow, JobStatus, NewJob, Outcome, blob_name,
};
use crate::owners::Owner;
use crate::routes::body::content_type;
use crate::routes::form::read_form;
use crate::settings::Settings;

const JOB_KIND: JobKind = JobKind::Transcription;

/// What a transcription job stores (the audio waits in the blob store).
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct TranscriptionInput {
    display_name: String,
    locale: String,
    /// Whisper's language code for the locale.
    language: Option<String>,
    /// The Whisper model that runs (a custom model's base model).
    model: String,
    /// The custom model asked for, as the client named it.
    custom_model: Option<String>,
    #[serde(default)]
    phrases: Vec<String>,
    word_level_timestamps: bool,
    /// `raw`, `masked` or `removed`.
    profanity: String,
    /// The uploaded file's name.
    source: Option<String>,
    duration_secs: f64,
}

impl JobInput for TranscriptionInput {
    const KIND: JobKind = JOB_KIND;
}
/// Transcriptions (and their audio) are kept for a week.
const JOB_TTL_SECS: i64 = 7 * 24 * 3600;
const RESULT_FILE: &str = "transcription.json";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Definition {
    #[serde(default)]
    locale: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    /// A custom speech model name or a base model name.
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    content_urls: Option<Vec<String>>,
    #[serde(default)]
    properties: Properties,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Properties {
    #[serde(default)]
    word_level_timestamps_enabled: Option<bool>,
    #[serde(default)]
    profanity_filter_mode: Option<String>,
    #[serde(default)]
    phrase_list: Vec<String>,
}

fn api_version_ok(version: &str) -> ApiResult<()> {
    if matches!(version, "v3.0" | "v3.1" | "v3.2") {
        Ok(())
    } else {
        Err(ApiError::new(Code::NotFound, format!("Unknown API version {version:?}; use v3.2.")))
    }
}

/// The API a request came in on: v3.x in the path (`/speechtotext/v3.2/transcriptions`), or
/// 2024-11-15 / 2025-10-15 in the query (`/speechtotext/transcriptions?api-version=`), with the
/// URLs answers link to.
struct Api {
    /// `http://host/speechtotext[/v3.2]/transcriptions`
    base: String,
    /// `?api-version=...` on the current API, empty on v3.
    suffix: String,
    /// The current API (durations in milliseconds, `timeToLiveHours`).
    current: bool,
}

impl Api {
    fn of(req: &HttpRequest) -> ApiResult<Self> {
        let info = req.connection_info();
        let (scheme, host) = (info.scheme(), info.host());
        match req.match_info().get("version") {
            Some(version) => {
                api_version_ok(version)?;
                Ok(Api {
                    base: format!("{scheme}://{host}/speechtotext/{version}/transcriptions"),
                    suffix: String::new(),
                    current: false,
                })
            }
            None => Ok(Api {
                base: format!("{scheme}://{host}/speechtotext/transcriptions"),
                suffix: format!("?api-version={}", super::current_api_version(req)?),
                current: true,
            }),
        }
    }

    /// The URL of `path` under the transcriptions (`/{id}`, `/{id}/files`), with the version.
    fn url(&self, path: &str) -> String {
        format!("{}{path}{}", self.base, self.suffix)
    }
}

/// A segment of the route's path (`id`, `file`).
fn segment(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// A transcription the caller may see.
async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<JobRow> {
    jobs::load(&state.db, JOB_KIND, id, &caller.key).await
}

/// Submit a batch transcription: multipart `audio` (the file) + `definition` (JSON).
#[utoipa::path(post, path = "/speechtotext/{version}/transcriptions", tag = "Batch transcription",
    params(("version" = String, Path, description = "v3.2 (v3.0 and v3.1 are accepted)")),
    request_body(content = String, content_type = "multipart/form-data"),
    responses((status = 201, description = "the transcription; Location header"), (status = 400), (status = 413), (status = 429)),
    security(("key" = []), ("bearer" = [])))]
pub async fn submit(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let api = Api::of(&req)?;
    let service = speech_service(&state)?;
    let is_json = content_type(&req).to_ascii_lowercase().contains("json");
    if is_json {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "contentUrls are not fetched by this server: POST multipart/form-data with the file in `audio` and the \
             JSON definition in `definition`.",
        ));
    }
    let form = read_form(&req, payload, state.settings.speech.batch_max_body_bytes, "audio").await?;
    let definition: Definition = super::form_definition(&form)?;
    if definition.content_urls.as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(ApiError::new(
            Code::InvalidRequest,
            "contentUrls are not fetched by this server: upload the audio.",
        ));
    }
    let locale = definition.locale.clone().unwrap_or_else(|| "en-US".into());
    let language = whisper_language(&locale)?;
    let profanity = definition.properties.profanity_filter_mode.as_deref().unwrap_or("Masked");
    let profanity = match profanity.to_ascii_lowercase().as_str() {
        "none" => "raw",
        "masked" => "masked",
        "removed" => "removed",
        _ => {
            return Err(ApiError::new(
                Code::InvalidParameterValue,
                "properties.profanityFilterMode must be None, Masked or Removed.",
            ));
        }
    };
    let model_name = match &definition.model {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => {
            o.get("self").and_then(Value::as_str).map(|s| s.rsplit('/').next().unwrap_or(s).to_string())
        }
        _ => None,
    };
    let custom_model = match &model_name {
        Some(name) => custom::find_model(&state, &Owner::from(&caller.key), name).await?,
        None => None,
    };
    let model =
        service.resolve_model(custom_model.as_ref().map_or(model_name.as_deref(), |m| Some(m.base_model.as_str())))?;
    let mut phrases = custom_model.map(|m| m.phrases).unwrap_or_default();
    phrases.extend(definition.properties.phrase_list.iter().cloned());

    let file = form.file.ok_or_else(|| {
        ApiError::new(Code::InvalidRequest, "The form has no `audio` field with the file to transcribe.")
    })?;
    let content_type = file.content_type.clone().filter(|ct| ct != "application/octet-stream");
    let bytes = file.bytes.clone();
    let max_secs = state.settings.speech.batch_max_secs;
    state.usage.ensure_audio_left(&caller.key).await?;
    let check_type = content_type.clone();
    let duration = web::block(move || {
        audio::decode::duration(&bytes, check_type.as_deref(), DecodeLimits { max_seconds: max_secs })
    })
    .await
    .map_err(|e| ApiError(ServiceError::internal(format!("decoding thread failed: {e}"))))?
    .map_err(|e| ApiError(e.into()))?;

    let id = uuid::Uuid::new_v4().to_string();
    let input = TranscriptionInput {
        display_name: definition
            .display_name
            .unwrap_or_else(|| file.filename.clone().unwrap_or_else(|| "transcription".into())),
        locale,
        language: Some(language.to_string()),
        model: model.to_string(),
        custom_model: model_name,
        phrases,
        word_level_timestamps: definition.properties.word_level_timestamps_enabled.unwrap_or(true),
        profanity: profanity.to_string(),
        source: file.filename.clone(),
        duration_secs: duration,
    };
    let job = NewJob::new(&id, &caller.key.id, &input, JOB_TTL_SECS)?.with_blob(
        file.bytes.as_ref(),
        content_type.as_deref(),
        file.filename.as_deref(),
    );
    let stored = serde_json::to_string(&input).map_err(|e| ApiError(ServiceError::internal(e.to_string())))?;
    let charge = state.usage.charge_audio(&caller.key, SERVICE, duration);
    let created = jobs::submit(&state.clone().into_inner(), job, charge, None).await?;
    let row = JobRow {
        id: id.clone(),
        key_id: caller.key.id.clone(),
        status: JobStatus::NotStarted,
        input: stored,
        result: None,
        error: None,
        created_at: created,
        updated_at: created,
        expires_at: created + JOB_TTL_SECS,
    };
    Ok(HttpResponse::Created().insert_header(("Location", api.url(&format!("/{id}")))).json(describe(&row, &api)?))
}

/// Azure's transcription object for a job row.
fn describe(row: &JobRow, api: &Api) -> ApiResult<Value> {
    let input: TranscriptionInput = row.input_as()?;
    let status = match row.status {
        JobStatus::Held | JobStatus::NotStarted => "NotStarted",
        JobStatus::Running => "Running",
        JobStatus::Succeeded => "Succeeded",
        _ => "Failed",
    };
    let mut properties = json!({
        "wordLevelTimestampsEnabled": input.word_level_timestamps,
        "profanityFilterMode": match input.profanity.as_str() { "raw" => "None", "removed" => "Removed", _ => "Masked" },
    });
    if api.current {
        properties["durationMilliseconds"] = json!(millis(input.duration_secs));
        properties["timeToLiveHours"] = json!((row.expires_at - row.created_at) / 3600);
    } else {
        properties["durationInTicks"] = json!(ticks(input.duration_secs));
    }
    if let Some(error) = row.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()) {
        properties["error"] = error;
    }
    let mut body = json!({
        "self": api.url(&format!("/{}", row.id)),
        "displayName": input.display_name,
        "locale": input.locale,
        "model": { "self": input.custom_model.unwrap_or(input.model) },
        "createdDateTime": rfc3339(row.created_at),
        "lastActionDateTime": rfc3339(row.updated_at),
        "status": status,
        "properties": properties,
        "links": { "files": api.url(&format!("/{}/files", row.id)) },
    });
    if status == "Succeeded" {
        body["links"]["result"] = json!(api.url(&format!("/{}/files/{RESULT_FILE}", row.id)));
    }
    Ok(body)
}

/// A transcription's status.
#[utoipa::path(get, path = "/speechtotext/{version}/transcriptions/{id}", tag = "Batch transcription",
    params(("version" = String, Path), ("id" = String, Path)),
    responses((status = 200, description = "NotStarted, Running, Succeeded or Failed"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn status(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let api = Api::of(&req)?;
    let row = load(&state, &caller, &segment(&req, "id")).await?;
    Ok(HttpResponse::Ok().json(describe(&row, &api)?))
}

/// The caller's transcriptions, newest first.
#[utoipa::path(get, path = "/speechtotext/{version}/transcriptions", tag = "Batch transcription",
    params(("version" = String, Path)), responses((status = 200, description = "values")),
    security(("key" = []), ("bearer" = [])))]
pub async fn list(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let api = Api::of(&req)?;
    let rows = jobs::list(&state.db, JOB_KIND, &caller.key, 100).await?;
    // A row that does not read (written by a newer version) is left out, not the whole list.
    let values: Vec<Value> = rows
        .iter()
        .filter_map(|r| {
            describe(r, &api)
                .inspect_err(|e| tracing::warn!(job = %r.id, error = %e.0, "unreadable transcription"))
                .ok()
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "values": values })))
}

/// Delete a transcription (a decode under way finishes; its result is dropped).
#[utoipa::path(delete, path = "/speechtotext/{version}/transcriptions/{id}", tag = "Batch transcription",
    params(("version" = String, Path), ("id" = String, Path)), responses((status = 204), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn delete(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    Api::of(&req)?;
    let id = segment(&req, "id");
    load(&state, &caller, &id).await?;
    // A runner working on it loses its lease at its next renewal and stops.
    jobs::delete(&state.db, &state.blobs, &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A transcription's result files.
#[utoipa::path(get, path = "/speechtotext/{version}/transcriptions/{id}/files", tag = "Batch transcription",
    params(("version" = String, Path), ("id" = String, Path)), responses((status = 200, description = "values with contentUrl")),
    security(("key" = []), ("bearer" = [])))]
pub async fn files(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    let api = Api::of(&req)?;
    let id = segment(&req, "id");
    let row = load(&state, &caller, &id).await?;
    let values = if row.status == JobStatus::Succeeded {
        let url = api.url(&format!("/{id}/files/{RESULT_FILE}"));
        vec![json!({
            "self": url,
            "name": RESULT_FILE,
            "kind": "Transcription",
            "createdDateTime": rfc3339(row.updated_at),
            "properties": { "size": row.result.as_ref().map_or(0, String::len) },
            "links": { "contentUrl": url },
        })]
    } else {
        Vec::new()
    };
    Ok(HttpResponse::Ok().json(json!({ "values": values })))
}

/// The transcription result (Azure's format: combinedRecognizedPhrases, recognizedPhrases with words).
#[utoipa::path(get, path = "/speechtotext/{version}/transcriptions/{id}/files/{file}", tag = "Batch transcription",
    params(("version" = String, Path), ("id" = String, Path), ("file" = String, Path, description = "transcription.json")),
    responses((status = 200, description = "the result"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn file(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
    Api::of(&req)?;
    let (id, file) = (segment(&req, "id"), segment(&req, "file"));
    let row = load(&state, &caller, &id).await?;
    match (file.as_str(), row.status, row.result) {
        (RESULT_FILE, JobStatus::Succeeded, Some(result)) => {
            Ok(HttpResponse::Ok().content_type("application/json").body(result))
        }
        (RESULT_FILE, _, _) => Err(ApiError::new(
            Code::NotFound,
            format!("The transcription {id} has no result yet (status {}).", row.status.public()),
        )),
        _ => Err(ApiError::new(Code::NotFound, format!("The transcription {id} has no file {file:?}."))),
    }
}

/// The same handlers on the current API (`?api-version=2024-11-15` or `2025-10-15`), declared
/// again only for the OpenAPI document.
pub mod current {
    use actix_web::{HttpRequest, HttpResponse, web};

    use crate::app::AppState;
    use crate::auth::Caller;
    use crate::errors::ApiResult;

    /// Submit a batch transcription: multipart `audio` + `definition`.
    #[utoipa::path(post, path = "/speechtotext/transcriptions:submit", tag = "Batch transcription",
        params(("api-version" = String, Query, description = "2024-11-15 or 2025-10-15")),
        request_body(content = String, content_type = "multipart/form-data"),
        responses((status = 201, description = "the transcription (durations in ms); Location header"), (status = 400), (status = 413), (status = 429)),
        security(("key" = []), ("bearer" = [])))]
    pub async fn submit(
        caller: Caller,
        state: web::Data<AppState>,
        req: HttpRequest,
        payload: web::Payload,
    ) -> ApiResult<HttpResponse> {
        super::submit(caller, state, req, payload).await
    }

    /// The caller's transcriptions, newest first.
    #[utoipa::path(get, path = "/speechtotext/transcriptions", tag = "Batch transcription",
        params(("api-version" = String, Query)), responses((status = 200, description = "values")),
        security(("key" = []), ("bearer" = [])))]
    pub async fn list(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
        super::list(caller, state, req).await
    }

    /// A transcription's status.
    #[utoipa::path(get, path = "/speechtotext/transcriptions/{id}", tag = "Batch transcription",
        params(("id" = String, Path), ("api-version" = String, Query)),
        responses((status = 200, description = "NotStarted, Running, Succeeded or Failed"), (status = 404)),
        security(("key" = []), ("bearer" = [])))]
    pub async fn status(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
        super::status(caller, state, req).await
    }

    /// Delete a transcription.
    #[utoipa::path(delete, path = "/speechtotext/transcriptions/{id}", tag = "Batch transcription",
        params(("id" = String, Path), ("api-version" = String, Query)), responses((status = 204), (status = 404)),
        security(("key" = []), ("bearer" = [])))]
    pub async fn delete(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
        super::delete(caller, state, req).await
    }

    /// A transcription's result files.
    #[utoipa::path(get, path = "/speechtotext/transcriptions/{id}/files", tag = "Batch transcription",
        params(("id" = String, Path), ("api-version" = String, Query)), responses((status = 200, description = "values with contentUrl")),
        security(("key" = []), ("bearer" = [])))]
    pub async fn files(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
        super::files(caller, state, req).await
    }

    /// The transcription result.
    #[utoipa::path(get, path = "/speechtotext/transcriptions/{id}/files/{file}", tag = "Batch transcription",
        params(("id" = String, Path), ("file" = String, Path, description = "transcription.json"), ("api-version" = String, Query)),
        responses((status = 200, description = "the result"), (status = 404)),
        security(("key" = []), ("bearer" = [])))]
    pub async fn file(caller: Caller, state: web::Data<AppState>, req: HttpRequest) -> ApiResult<HttpResponse> {
        super::file(caller, state, req).await
    }
}

/// Runs batch transcriptions: decodes the stored audio and recognizes it on the batch lane.
pub struct TranscriptionJobs;

#[async_trait]
impl JobHandler for TranscriptionJobs {
    fn kind(&self) -> JobKind {
        JOB_KIND
    }

    fn concurrency(&self, settings: &Settings) -> usize {
        settings.speech.batch_concurrency.max(1)
    }

    fn enabled(&self, settings: &Settings) -> bool {
        settings.services.speech
    }

    async fn run(&self, state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError> {
        run(state, job, ctx).await
    }
}

async fn run(state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError> {
    let service = crate::engines::wait_for(state, speech_service).await?;
    let input: TranscriptionInput = job.input_as()?;
    let data = state
        .blobs
        .get(&blob_name(&job.id))
        .await?
        .ok_or_else(|| ServiceError::internal("The transcription's audio was lost; submit it again."))?;
    // Each stage at info, so a job that takes too long shows where it is (the cluster test logs them).
    tracing::info!(job = %job.id, bytes = data.len(), "transcription audio read");
    let content_type = job.input_type.clone();
    let max_seconds = state.settings.speech.batch_max_secs;
    let pcm = tokio::task::spawn_blocking(move || {
        audio::decode_for_recognition(&data, content_type.as_deref(), DecodeLimits { max_seconds })
    })
    .await
    .map_err(|e| ServiceError::internal(format!("decoding thread failed: {e}")))??;

    tracing::info!(job = %job.id, seconds = pcm.samples.len() as f64 / 16_000.0, "transcription audio decoded");
    let mut request = RecognitionRequest::new(pcm.samples);
    request.language = input.language;
    request.prompt = custom::prompt_from_phrases(&input.phrases);
    request.word_timestamps = input.word_level_timestamps;
    request.split_on_silence = true;
    let cancel = ctx.cancel_flag();
    request.cancel = Some(cancel.clone());
    let transcript = service.recognize(&input.model, Lane::Batch, request).await;
    if cancel.load(Ordering::Relaxed) {
        return Ok(Outcome { status: JobStatus::Cancelled, result: Value::Null }); // deleted while running
    }
    let transcript = transcript?;
    tracing::info!(job = %job.id, segments = transcript.segments.len(), "transcription recognised");
    state.metrics.audio_seconds.with_label_values(&["recognized"]).inc_by(transcript.duration);
    let profanity = Profanity::parse(&input.profanity).unwrap_or(Profanity::Masked);
    Ok(Outcome::succeeded(result_file(&transcript, &input.locale, profanity, input.source.as_deref())))
}

/// ISO 8601 duration as Azure writes it (`PT1M2.34S`), to the hundredth of a second.
fn iso_duration(seconds: f64) -> String {
    let total_cs = (seconds.max(0.0) * 100.0).round() as u64;
    let (hours, minutes, cs) = (total_cs / 360_000, (total_cs / 6_000) % 60, total_cs % 6_000);
    let mut out = String::from("PT");
    if hours > 0 {
        out.push_str(&format!("{hours}H"));
    }
    if minutes > 0 {
        out.push_str(&format!("{minutes}M"));
    }
    let (secs, frac) = (cs / 100, cs % 100);
    match frac {
        0 => out.push_str(&format!("{secs}S")),
        f if f % 10 == 0 => out.push_str(&format!("{secs}.{}S", f / 10)),
        f => out.push_str(&format!("{secs}.{f:02}S")),
    }
    out
}

/// Seconds as whole milliseconds (the 2024-11-15 API's unit; v3's result files carry both).
fn millis(seconds: f64) -> i64 {
    (seconds.max(0.0) * 1000.0).round() as i64
}

/// Azure's transcription result file.
fn result_file(t: &Transcript, locale: &str, profanity: Profanity, source: Option<&str>) -> Value {
    let english = languages::whisper_code(locale) == Some("en");
    let forms = |text: &str| {
        let display = text_forms::filter_profanity(text.trim(), profanity);
        json!({
            "lexical": text_forms::lexical(&display, english),
            "itn": text_forms::itn(&display),
            "maskedITN": text_forms::itn(&text_forms::filter_profanity(text.trim(), Profanity::Masked)),
            "display": display,
        })
    };
    let phrases: Vec<Value> = t
        .segments
        .iter()
        .filter(|s| !s.text.trim().is_empty())
        .map(|s| {
            let mut best = forms(&s.text);
            best["confidence"] = json!((f64::from(s.avg_logprob.exp()) * 10_000.0).round() / 10_000.0);
            best["words"] = s
                .words
                .iter()
                .map(|w| {
                    json!({
                        "word": w.word,
                        "offset": iso_duration(w.start),
                        "duration": iso_duration(w.end - w.start),
                        "offsetInTicks": ticks(w.start),
                        "durationInTicks": ticks(w.end - w.start),
                        "offsetMilliseconds": millis(w.start),
                        "durationMilliseconds": millis(w.end - w.start),
                        "confidence": (f64::from(w.probability) * 10_000.0).round() / 10_000.0,
                    })
                })
                .collect();
            json!({
                "recognitionStatus": "Success",
                "channel": 0,
                "offset": iso_duration(s.start),
                "duration": iso_duration(s.end - s.start),
                "offsetInTicks": ticks(s.start),
                "durationInTicks": ticks(s.end - s.start),
                "offsetMilliseconds": millis(s.start),
                "durationMilliseconds": millis(s.end - s.start),
                "locale": locale,
                "nBest": [best],
            })
        })
        .collect();
    let mut combined = forms(&t.text());
    combined["channel"] = json!(0);
    json!({
        "source": source.unwrap_or("upload"),
        "timestamp": rfc3339(crate::db::now()),
        "durationInTicks": ticks(t.duration),
        "durationMilliseconds": millis(t.duration),
        "duration": iso_duration(t.duration),
        "combinedRecognizedPhrases": [combined],
        "recognizedPhrases": phrases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso_duration(0.5), "PT0.5S");
        assert_eq!(iso_duration(62.345), "PT1M2.35S");
        assert_eq!(iso_duration(3725.0), "PT1H2M5S");
        assert_eq!(iso_duration(0.07), "PT0.07S");
    }
}
