//! The long-running operations of the Language authoring APIs (question answering, conversational
//! language understanding), done before they answer: the job is recorded as `succeeded` and the
//! answer is 202 with an absolute `Operation-Location` carrying the api-version (the SDKs'
//! pollers follow it as given). Jobs are kept an hour.

use actix_web::{HttpRequest, HttpResponse};
use cogway_core::Code;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::{now, rfc3339};
use crate::errors::{ApiError, ApiResult};
use crate::store::authoring_jobs::{AuthoringJobs, Job, JobTable};

/// How long a finished job can be read.
const JOB_TTL_SECS: i64 = 3_600;

/// An absolute URL on this server for `path`.
pub fn absolute(req: &HttpRequest, path: &str) -> String {
    let info = req.connection_info();
    format!("{}://{}{path}", info.scheme(), info.host())
}

/// What a finished operation records.
pub struct Done<'a> {
    pub table: JobTable,
    pub project: &'a str,
    pub kind: &'a str,
    /// What the job made (an export), JSON.
    pub result: Option<String>,
    /// The api-version the job URL carries.
    pub version: &'a str,
}

/// Records a finished job and answers 202 with its `Operation-Location`, `location(job id)`.
pub async fn accepted(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    done: Done<'_>,
    location: impl FnOnce(&str) -> String,
) -> ApiResult<HttpResponse> {
    let at = now();
    let job = Job {
        id: uuid::Uuid::new_v4().to_string(),
        project: done.project.to_string(),
        kind: done.kind.to_string(),
        status: "succeeded".into(),
        errors: "[]".into(),
        result: done.result,
        created_at: at,
        expires_at: at + JOB_TTL_SECS,
    };
    AuthoringJobs::new(&state.db, done.table).insert(&caller.key.id, &job).await?;
    let url = absolute(req, &format!("{}?api-version={}", location(&job.id), done.version));
    Ok(HttpResponse::Accepted().insert_header(("Operation-Location", url)).finish())
}

/// The job JSON every authoring API answers.
pub fn job_json(job: &Job) -> Value {
    let errors: Value = serde_json::from_str(&job.errors).unwrap_or_else(|_| json!([]));
    json!({
        "jobId": job.id,
        "createdDateTime": rfc3339(job.created_at),
        "lastUpdatedDateTime": rfc3339(job.created_at),
        "expirationDateTime": rfc3339(job.expires_at),
        "status": job.status,
        "errors": errors,
        "warnings": [],
    })
}

/// The caller's unexpired job `id` of one of `kinds` (of `project` when given).
pub async fn find_job(
    state: &AppState,
    caller: &Caller,
    table: JobTable,
    id: &str,
    project: Option<&str>,
    kinds: &[&str],
) -> ApiResult<Job> {
    AuthoringJobs::new(&state.db, table)
        .get(&caller.key.id, id)
        .await?
        .filter(|j| project.is_none_or(|p| j.project == p) && kinds.contains(&j.kind.as_str()) && j.expires_at >= now())
        .ok_or_else(|| ApiError::new(Code::NotFound, format!("The job '{id}' does not exist.")))
}
