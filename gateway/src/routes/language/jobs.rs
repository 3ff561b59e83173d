//! The asynchronous analyze-text jobs API (Azure Language 2023-04-01):
//!
//! - `POST /language/analyze-text/jobs` -> 202 + `Operation-Location`
//! - `GET  /language/analyze-text/jobs/{jobId}` -> status and, when done, each task's results
//! - `POST /language/analyze-text/jobs/{jobId}:cancel` -> 202
//!
//! Jobs are rows of the `jobs` table (see `crate::jobs`): the input is stored before the 202 is
//! sent, and whichever replica's job runner claims the job runs [`AnalyzeTextJobs`]. A job is
//! visible to the key that created it (and to admin keys) only.

use async_trait::async_trait;

use actix_web::{HttpRequest, HttpResponse, web};
use cogway_core::{Code, ServiceError};
use serde::Deserialize;
use serde_json::{Value, json};

use super::documents::{self, Kind, Options};
use super::dto::InputDocument;
use super::{check_api_version, language_service};
use crate::app::AppState;
use crate::auth::Caller;
use crate::db::rfc3339;
use crate::errors::{ApiError, ApiResult};
use crate::jobs::{self, Claimed, JobContext, JobHandler, JobInput, JobKind, JobStatus, NewJob, Outcome};
use crate::owners::Owner;
use crate::routes::body::read_json;
use crate::settings::Settings;

/// Documents per job (Azure's limit for asynchronous requests).
const MAX_JOB_DOCUMENTS: usize = 25;
/// Tasks per job.
const MAX_TASKS: usize = 20;
/// Jobs one replica runs at once; the others wait their turn (their status stays `notStarted`).
const CONCURRENCY: usize = 2;
/// How long a finished job's results are kept.
const JOB_TTL_SECS: i64 = 24 * 3600;
const JOB_KIND: JobKind = JobKind::AnalyzeText;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobRequest {
    #[serde(default)]
    display_name: Option<String>,
    analysis_input: super::dto::AnalysisInput,
    #[serde(default)]
    tasks: Vec<TaskRequest>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskRequest {
    kind: String,
    #[serde(default)]
    task_name: Option<String>,
    #[serde(default)]
    parameters: Value,
}

/// What an analyze-text job stores.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AnalyzeTextInput {
    #[serde(default)]
    display_name: Option<String>,
    documents: Vec<InputDocument>,
    tasks: Vec<TaskRequest>,
}

impl JobInput for AnalyzeTextInput {
    const KIND: JobKind = JOB_KIND;
}

/// Submit an analyze-text job.
#[utoipa::path(post, path = "/language/analyze-text/jobs", tag = "Language",
    params(("api-version" = String, Query, description = "2023-04-01")),
    responses((status = 202, description = "Accepted; poll the Operation-Location header"),
              (status = 400, description = "Bad tasks or documents")),
    security(("key" = []), ("bearer" = [])))]
pub async fn submit(
    caller: Caller,
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_api_version(&req)?;
    crate::engines::enabled(&state, crate::service::Service::Language)?;
    let body: JobRequest = read_json(&req, payload, state.settings.limits.language_max_body_bytes).await?;
    if body.tasks.is_empty() || body.tasks.len() > MAX_TASKS {
        return Err(ApiError::new(Code::InvalidParameterValue, format!("A job needs 1 to {MAX_TASKS} tasks.")));
    }
    for task in &body.tasks {
        Kind::require(&task.kind)?;
        Options::from_parameters(&task.parameters)?;
    }
    documents::validate_batch(&body.analysis_input.documents, MAX_JOB_DOCUMENTS)?;
    let characters = documents::characters(&body.analysis_input.documents) * body.tasks.len() as u64;

    let id = uuid::Uuid::new_v4().to_string();
    let input = AnalyzeTextInput {
        display_name: body.display_name,
        documents: body.analysis_input.documents,
        tasks: body.tasks,
    };
    let job = NewJob::new(&id, &caller.key.id, &input, JOB_TTL_SECS)?;
    let charge = state.usage.charge(&caller.key, crate::service::Service::Language, characters);
    jobs::submit(&state.clone().into_inner(), job, charge, None).await?;

    let info = req.connection_info();
    let location =
        format!("{}://{}/language/analyze-text/jobs/{id}?api-version=2023-04-01", info.scheme(), info.host());
    Ok(HttpResponse::Accepted().insert_header(("Operation-Location", location)).finish())
}

/// The state of a job and, when it has finished, its results.
#[utoipa::path(get, path = "/language/analyze-text/jobs/{jobId}", tag = "Language",
    params(("jobId" = String, Path), ("api-version" = String, Query)),
    responses((status = 200, description = "Job state and task results"), (status = 404)),
    security(("key" = []), ("bearer" = [])))]
pub async fn status(caller: Caller, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let row = jobs::load(&state.db, JOB_KIND, &id, &caller.key).await?;
    let AnalyzeTextInput { display_name, tasks, .. } = row.input_as()?;
    let results: Vec<Value> = row.result.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    let finished = row.status.is_finished();
    let items: Vec<Value> = results
        .iter()
        .zip(&tasks)
        .map(|(r, t)| {
            let kind = Kind::parse(&t.kind).map_or(t.kind.clone(), |k| format!("{}LROResults", k.name()));
            let mut item = json!({
                "kind": kind,
                "lastUpdateDateTime": rfc3339(row.updated_at),
                "status": if r.get("error").is_some() { "failed" } else { "succeeded" },
            });
            if let Some(name) = &t.task_name {
                item["taskName"] = json!(name);
            }
            if let Some(results) = r.get("results") {
                item["results"] = results.clone();
            }
            item
        })
        .collect();
    let failed = results.iter().filter(|r| r.get("error").is_some()).count();
    let mut errors: Vec<Value> = results.iter().filter_map(|r| r.get("error").cloned()).collect();
    errors.extend(row.error.as_deref().and_then(|e| serde_json::from_str::<Value>(e).ok()));
    let mut body = json!({
        "jobId": id.as_str(),
        "createdDateTime": rfc3339(row.created_at),
        "lastUpdatedDateTime": rfc3339(row.updated_at),
        "expirationDateTime": rfc3339(row.expires_at),
        "status": row.status.public(),
        "errors": errors,
        "tasks": {
            "completed": items.len() - failed,
            "failed": failed,
            "inProgress": if finished { 0 } else { tasks.len() - items.len() },
            "total": tasks.len(),
            "items": items,
        },
    });
    if let Some(name) = display_name {
        body["displayName"] = json!(name);
    }
    Ok(HttpResponse::Ok().json(body))
}

/// Cancel a job that has not finished.
#[utoipa::path(post, path = "/language/analyze-text/jobs/{jobId}:cancel", tag = "Language",
    params(("jobId" = String, Path)), responses((status = 202), (status = 404)), security(("key" = [])))]
pub async fn cancel(caller: Caller, state: web::Data<AppState>, id: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = id.trim_end_matches(":cancel").to_string();
    jobs::load(&state.db, JOB_KIND, &id, &caller.key).await?;
    jobs::cancel(&state.db, &id).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Runs analyze-text jobs: each task over the job's documents, for the key that submitted it.
pub struct AnalyzeTextJobs;

#[async_trait]
impl JobHandler for AnalyzeTextJobs {
    fn kind(&self) -> JobKind {
        JOB_KIND
    }

    fn concurrency(&self, _settings: &Settings) -> usize {
        CONCURRENCY
    }

    fn enabled(&self, settings: &Settings) -> bool {
        settings.services.language
    }

    async fn run(&self, state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError> {
        run_job(state, job, ctx).await
    }

    fn failure_code(&self, _e: &ServiceError) -> &'static str {
        "InternalServerError"
    }
}

async fn run_job(state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError> {
    let service = crate::engines::wait_for(state, language_service).await?;
    let dberr = |e: sqlx::Error| ServiceError::internal(format!("database: {e}"));
    let key_id = job.key_id.clone();
    // The job runs for the key that submitted it: its classification projects, or every owner's
    // if it is an admin key (a key revoked since then keeps only its own).
    let is_admin = state.keys.by_id(&key_id).await?.is_some_and(|k| k.is_admin);
    let owner = Owner { key_id, is_admin };
    let AnalyzeTextInput { documents, tasks, .. } = job.input_as()?;
    let mut results = Vec::new();
    for task in &tasks {
        let status = jobs::status(&state.db, &job.id).await.map_err(dberr)?;
        if ctx.is_cancelled() || status != Some(JobStatus::Running) {
            // Cancelled (or deleted) while running: skip the remaining tasks.
            return Ok(Outcome { status: JobStatus::Cancelled, result: Value::Null });
        }
        let outcome = match (Kind::require(&task.kind), Options::from_parameters(&task.parameters)) {
            (Ok(kind), Ok(options)) => documents::analyze(state, &service, &owner, kind, &documents, &options).await,
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        results.push(match outcome {
            Ok(r) => json!({ "results": r }),
            Err(ApiError(e)) => json!({ "error": { "code": e.code.azure_codes().0, "message": e.message } }),
        });
    }
    let failed = results.iter().filter(|r| r.get("error").is_some()).count();
    let status = match failed {
        0 => JobStatus::Succeeded,
        n if n == results.len() => JobStatus::Failed,
        _ => JobStatus::PartiallyCompleted,
    };
    Ok(Outcome { status, result: Value::Array(results) })
}
