//! The `jobs` table: every statement the job runner and the job routes run. The SQL is the same
//! on SQLite and Postgres except for the row lock of [`claim_next`].

use serde_json::Value;

use super::{JobInput, JobKind, JobStatus, blob_name, not_found};
use crate::blobs::BlobStore;
use crate::db::{Db, Engine, engine, now};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use cogway_core::{Code, ServiceError};

/// A job as the routes show it.
#[derive(Debug)]
pub struct JobRow {
    pub id: String,
    pub key_id: String,
    pub status: JobStatus,
    pub input: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
}

#[derive(sqlx::FromRow)]
struct RawRow {
    id: String,
    key_id: String,
    status: String,
    input: String,
    result: Option<String>,
    error: Option<String>,
    created_at: i64,
    updated_at: i64,
    expires_at: i64,
}

impl From<RawRow> for JobRow {
    fn from(r: RawRow) -> Self {
        JobRow {
            // An unknown status (a newer version's) reads as failed rather than breaking the route.
            status: JobStatus::parse(&r.status).unwrap_or(JobStatus::Failed),
            id: r.id,
            key_id: r.key_id,
            input: r.input,
            result: r.result,
            error: r.error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            expires_at: r.expires_at,
        }
    }
}

/// The columns of [`RawRow`] (a macro, so that queries stay `&'static str` through `concat!`).
macro_rules! row_columns {
    () => {
        "id, key_id, status, input, result, error, created_at, updated_at, expires_at"
    };
}

/// A job a runner holds the lease of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: String,
    pub key_id: String,
    pub input: String,
    pub input_type: Option<String>,
    pub input_name: Option<String>,
    pub input_bytes: i64,
    pub attempts: i64,
}

macro_rules! claimed_columns {
    () => {
        "id, key_id, input, input_type, input_name, input_bytes, attempts"
    };
}

/// The claim statement, with the row lock Postgres needs (`$lock`).
macro_rules! claim_next_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
                             updated_at = $3 \
             WHERE id = (SELECT id FROM jobs WHERE kind = $4 AND expires_at > $3 AND attempts < $5 \
                         AND (status = 'notStarted' OR (status = 'running' AND lease_until < $3)) \
                         ORDER BY created_at, id LIMIT 1 ",
            $lock,
            ") RETURNING ",
            claimed_columns!()
        )
    };
}

/// How much one key may have waiting: unfinished jobs of every kind and the bytes of their
/// uploaded inputs (`limits.max_pending_jobs_per_key`, `limits.max_pending_job_bytes_per_key`).
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    pub max_jobs: u32,
    pub max_bytes: u64,
}

/// A job to store.
pub struct NewJob<'a> {
    pub id: &'a str,
    pub kind: JobKind,
    pub key_id: &'a str,
    /// The kind's [`JobInput`] as JSON.
    input: String,
    pub ttl_secs: i64,
    /// The uploaded input (audio, an image), kept in the blob store until the job is done.
    pub blob: Option<&'a [u8]>,
    pub blob_type: Option<&'a str>,
    pub blob_name: Option<&'a str>,
}

impl<'a> NewJob<'a> {
    /// A job of `I`'s kind with `input`, kept `ttl_secs` after it was created.
    pub fn new<I: JobInput>(id: &'a str, key_id: &'a str, input: &I, ttl_secs: i64) -> Result<Self, ServiceError> {
        let input = serde_json::to_string(input)
            .map_err(|e| ServiceError::internal(format!("storing the input of a {} job: {e}", I::KIND.as_str())))?;
        Ok(NewJob { id, kind: I::KIND, key_id, input, ttl_secs, blob: None, blob_type: None, blob_name: None })
    }

    /// The job with an uploaded input (audio, an image) for the blob store.
    pub fn with_blob(self, data: &'a [u8], content_type: Option<&'a str>, name: Option<&'a str>) -> Self {
        NewJob { blob: Some(data), blob_type: content_type, blob_name: name, ..self }
    }
}

/// The stored input of a job, typed.
fn parse_input<I: JobInput>(json: &str) -> Result<I, ServiceError> {
    serde_json::from_str(json)
        .map_err(|e| ServiceError::internal(format!("the stored input of a {} job: {e}", I::KIND.as_str())))
}

impl JobRow {
    pub fn input_as<I: JobInput>(&self) -> Result<I, ServiceError> {
        parse_input(&self.input)
    }
}

impl Claimed {
    pub fn input_as<I: JobInput>(&self) -> Result<I, ServiceError> {
        parse_input(&self.input)
    }
}

fn backlog_full(backlog: Backlog) -> ApiError {
    ApiError(
        cogway_core::ServiceError::new(
            Code::RateLimited,
            format!(
                "This key has too many unfinished jobs (at most {} jobs holding {} MB of input may wait at once). \
                 Retry when some have finished, or delete finished ones.",
                backlog.max_jobs,
                backlog.max_bytes / (1024 * 1024)
            ),
        )
        .with_retry_after(10),
    )
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Stores a new job, `held`, with its input blob, unless the key's backlog is full (429 +
/// Retry-After); returns its creation time. The backlog check and the insert are one statement,
/// so concurrent submissions cannot pass the bound together (Postgres: a transaction-level
/// advisory lock on the key serializes them; SQLite has one writer).
pub async fn insert(db: &Db, blobs: &BlobStore, job: NewJob<'_>, backlog: Backlog) -> ApiResult<i64> {
    let created = now();
    let blob_len = job.blob.map_or(0, |b| b.len() as u64);
    if blob_len > backlog.max_bytes {
        return Err(backlog_full(backlog));
    }
    let mut tx = db.begin().await?;
    if engine(db) == Engine::Postgres {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))").bind(job.key_id).execute(&mut *tx).await?;
    }
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, key_id, status, input, created_at, updated_at, expires_at, \
                           input_bytes, input_type, input_name, attempts) \
         SELECT $1, $2, $3, 'held', $4, $5, $5, $6, $7, $8, $9, 0 \
         WHERE (SELECT COUNT(*) FROM jobs WHERE key_id = $3 AND status IN ('held', 'notStarted', 'running') \
                AND expires_at > $5) < $10 \
           AND (SELECT COALESCE(CAST(SUM(input_bytes) AS BIGINT), 0) FROM jobs WHERE key_id = $3 \
                AND status IN ('held', 'notStarted', 'running') AND expires_at > $5) + $7 <= $11",
    )
    .bind(job.id)
    .bind(job.kind.as_str())
    .bind(job.key_id)
    .bind(job.input)
    .bind(created)
    .bind(created + job.ttl_secs)
    .bind(to_i64(blob_len))
    .bind(job.blob_type)
    .bind(job.blob_name)
    .bind(i64::from(backlog.max_jobs))
    .bind(to_i64(backlog.max_bytes))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if inserted.rows_affected() == 0 {
        return Err(backlog_full(backlog));
    }
    if let Some(data) = job.blob
        && let Err(e) = blobs.put(&blob_name(job.id), data).await
    {
        discard(db, blobs, job.id).await;
        return Err(e.into());
    }
    Ok(created)
}

/// Lets runners take a held job (its charge was accepted).
pub async fn release(db: &Db, id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET status = 'notStarted', updated_at = $1 WHERE id = $2 AND status = 'held'")
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Removes a job that was stored but must not run (its charge was refused), with its input.
pub async fn discard(db: &Db, blobs: &BlobStore, id: &str) {
    if let Err(e) = sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(db).await {
        tracing::warn!(error = %e, job = id, "could not discard a refused job");
    }
    blobs.delete(&blob_name(id)).await;
}

/// Deletes a job and its input (a runner working on it loses its lease and stops).
pub async fn delete(db: &Db, blobs: &BlobStore, id: &str) -> ApiResult<()> {
    sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(db).await?;
    blobs.delete(&blob_name(id)).await;
    Ok(())
}

/// Cancels a job that has not finished (its runner stops at its next lease renewal).
pub async fn cancel(db: &Db, id: &str) -> ApiResult<()> {
    sqlx::query(
        "UPDATE jobs SET status = 'cancelled', updated_at = $1, lease_owner = NULL \
         WHERE id = $2 AND status IN ('held', 'notStarted', 'running')",
    )
    .bind(now())
    .bind(id)
    .execute(db)
    .await?;
    Ok(())
}

/// A live job of `kind` that `key` may see.
pub async fn load(db: &Db, kind: JobKind, id: &str, key: &KeyInfo) -> ApiResult<JobRow> {
    let row: Option<RawRow> = sqlx::query_as(concat!(
        "SELECT ",
        row_columns!(),
        " FROM jobs WHERE id = $1 AND kind = $2 AND expires_at > $3"
    ))
    .bind(id)
    .bind(kind.as_str())
    .bind(now())
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) if row.key_id == key.id || key.is_admin => Ok(row.into()),
        _ => Err(not_found(id)),
    }
}

/// The live jobs of `kind` that `key` may see, newest first.
pub async fn list(db: &Db, kind: JobKind, key: &KeyInfo, limit: i64) -> ApiResult<Vec<JobRow>> {
    let rows: Vec<RawRow> = sqlx::query_as(concat!(
        "SELECT ",
        row_columns!(),
        " FROM jobs WHERE kind = $1 AND expires_at > $2 AND (key_id = $3 OR $4) \
         ORDER BY created_at DESC, id LIMIT $5"
    ))
    .bind(kind.as_str())
    .bind(now())
    .bind(&key.id)
    .bind(key.is_admin)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(JobRow::from).collect())
}

/// The job's status now (`None` once deleted).
pub async fn status(db: &Db, id: &str) -> Result<Option<JobStatus>, sqlx::Error> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1").bind(id).fetch_optional(db).await?;
    Ok(status.and_then(|s| JobStatus::parse(&s)))
}

/// Takes the oldest waiting job of `kind` (or one whose runner's lease ran out) for `replica`.
pub(super) async fn claim_next(
    db: &Db,
    kind: JobKind,
    replica: &str,
    lease_secs: i64,
    max_attempts: i64,
) -> Result<Option<Claimed>, sqlx::Error> {
    let sql = match engine(db) {
        Engine::Postgres => claim_next_sql!("FOR UPDATE SKIP LOCKED"),
        Engine::Sqlite => claim_next_sql!(""),
    };
    let now = now();
    sqlx::query_as(sql)
        .bind(replica)
        .bind(now + lease_secs)
        .bind(now)
        .bind(kind.as_str())
        .bind(max_attempts)
        .fetch_optional(db)
        .await
}

/// Takes the waiting job `id` for `replica` (a submission that found a free slot).
pub(super) async fn claim(db: &Db, id: &str, replica: &str, lease_secs: i64) -> Result<Option<Claimed>, sqlx::Error> {
    let now = now();
    sqlx::query_as(concat!(
        "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, \
                         updated_at = $3 \
         WHERE id = $4 AND status = 'notStarted' RETURNING ",
        claimed_columns!()
    ))
    .bind(replica)
    .bind(now + lease_secs)
    .bind(now)
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Extends `replica`'s lease on a running job; false when the job was cancelled, deleted or
/// taken over (the runner must stop).
pub(super) async fn renew(db: &Db, id: &str, replica: &str, lease_secs: i64) -> Result<bool, sqlx::Error> {
    let renewed =
        sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND status = 'running'")
            .bind(now() + lease_secs)
            .bind(id)
            .bind(replica)
            .execute(db)
            .await?;
    Ok(renewed.rows_affected() > 0)
}

/// Stores the result of a job `replica` still holds; false when it no longer does.
pub(super) async fn finish(
    db: &Db,
    id: &str,
    replica: &str,
    status: JobStatus,
    result: &Value,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE jobs SET status = $1, result = $2, updated_at = $3, lease_owner = NULL, lease_until = NULL \
         WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(result.to_string())
    .bind(now())
    .bind(id)
    .bind(replica)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Marks a job `replica` holds failed with an Azure-shaped error; false when it no longer holds it.
pub(super) async fn fail(db: &Db, id: &str, replica: &str, code: &str, message: &str) -> Result<bool, sqlx::Error> {
    let error = serde_json::json!({ "code": code, "message": message });
    let done = sqlx::query(
        "UPDATE jobs SET status = 'failed', error = $1, updated_at = $2, lease_owner = NULL, lease_until = NULL \
         WHERE id = $3 AND lease_owner = $4 AND status = 'running'",
    )
    .bind(error.to_string())
    .bind(now())
    .bind(id)
    .bind(replica)
    .execute(db)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Lets every running job be taken at once (a single SQLite process starting: whoever ran them
/// is gone).
pub(super) async fn expire_all_leases(db: &Db) -> Result<u64, sqlx::Error> {
    Ok(sqlx::query("UPDATE jobs SET lease_until = 0 WHERE status = 'running'").execute(db).await?.rows_affected())
}

/// Housekeeping: fails jobs that used up their attempts, drops jobs held longer than
/// `held_grace_secs` (their submission died before it finished) and expired jobs. Returns the
/// ids whose inputs may be deleted.
pub(super) async fn sweep(db: &Db, max_attempts: i64, held_grace_secs: i64) -> Result<Vec<String>, sqlx::Error> {
    let now = now();
    let exhausted = serde_json::json!({
        "code": "InternalServerError",
        "message": format!("The job stopped its runner {max_attempts} times and was given up."),
    });
    let mut gone: Vec<String> = sqlx::query_scalar(
        "UPDATE jobs SET status = 'failed', error = $1, updated_at = $2, lease_owner = NULL, lease_until = NULL \
         WHERE status = 'running' AND lease_until < $2 AND attempts >= $3 RETURNING id",
    )
    .bind(exhausted.to_string())
    .bind(now)
    .bind(max_attempts)
    .fetch_all(db)
    .await?;
    let dropped: Vec<String> = sqlx::query_scalar(
        "DELETE FROM jobs WHERE (status = 'held' AND created_at < $1) OR expires_at <= $2 RETURNING id",
    )
    .bind(now - held_grace_secs)
    .bind(now)
    .fetch_all(db)
    .await?;
    gone.extend(dropped);
    Ok(gone)
}
