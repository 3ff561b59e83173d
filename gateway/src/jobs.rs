//! The `jobs` table shared by every asynchronous API (analyze-text jobs, batch transcription):
//! a job is stored before the client hears of it, claimed by one runner, finished or failed, and
//! run again at start-up when a stop left it unfinished. A job is visible to the key that
//! created it (and to admin keys) only.

use serde_json::Value;

use crate::db::{Db, now};
use crate::errors::{ApiError, ApiResult};
use crate::keys::KeyInfo;
use cogway_core::Code;

#[derive(Debug, sqlx::FromRow)]
pub struct JobRow {
    pub id: String,
    pub key_id: String,
    pub status: String,
    pub input: String,
    pub result: Option<String>,
    pub error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub expires_at: i64,
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The job '{id}' does not exist or has expired."))
}

/// How much one key may have waiting: unfinished jobs of every kind and the bytes of their
/// uploaded inputs (`limits.max_pending_jobs_per_key`, `limits.max_pending_job_bytes_per_key`).
#[derive(Debug, Clone, Copy)]
pub struct Backlog {
    pub max_jobs: u32,
    pub max_bytes: u64,
}

/// A job's uploaded input (audio, an image), kept in `job_blobs` until the job is done.
pub struct Blob<'a> {
    pub content_type: Option<&'a str>,
    pub filename: Option<&'a str>,
    pub data: &'a [u8],
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

/// Stores a new job (status `notStarted`) with its input blob, unless the key's backlog is full
/// (429 + Retry-After); returns its creation time. The check and the insert are one statement
/// inside one write transaction, so concurrent submissions cannot pass the bound together.
#[allow(clippy::too_many_arguments)]
pub async fn insert(
    db: &Db,
    id: &str,
    kind: &str,
    key_id: &str,
    input: &Value,
    ttl_secs: i64,
    backlog: Backlog,
    blob: Option<Blob<'_>>,
) -> ApiResult<i64> {
    let created = now();
    let blob_len = blob.as_ref().map_or(0, |b| b.data.len() as u64);
    if blob_len > backlog.max_bytes {
        return Err(backlog_full(backlog));
    }
    let mut tx = db.begin().await?;
    let inserted = sqlx::query(
        "INSERT INTO jobs (id, kind, key_id, status, input, created_at, updated_at, expires_at) \
         SELECT ?, ?, ?, 'notStarted', ?, ?, ?, ? \
         WHERE (SELECT COUNT(*) FROM jobs WHERE key_id = ? AND status IN ('notStarted', 'running') \
                AND expires_at > ?) < ? \
           AND (SELECT COALESCE(SUM(LENGTH(b.data)), 0) FROM job_blobs b JOIN jobs j ON j.id = b.job_id \
                WHERE j.key_id = ? AND j.status IN ('notStarted', 'running') AND j.expires_at > ?) + ? <= ?",
    )
    .bind(id)
    .bind(kind)
    .bind(key_id)
    .bind(input.to_string())
    .bind(created)
    .bind(created)
    .bind(created + ttl_secs)
    .bind(key_id)
    .bind(created)
    .bind(i64::from(backlog.max_jobs))
    .bind(key_id)
    .bind(created)
    .bind(i64::try_from(blob_len).unwrap_or(i64::MAX))
    .bind(i64::try_from(backlog.max_bytes).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Err(backlog_full(backlog));
    }
    if let Some(blob) = blob {
        sqlx::query("INSERT INTO job_blobs (job_id, content_type, filename, data) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(blob.content_type)
            .bind(blob.filename)
            .bind(blob.data)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(created)
}

/// Removes a job that was stored but must not run (its charge was refused).
pub async fn discard(db: &Db, id: &str) {
    if let Err(e) = sqlx::query("DELETE FROM jobs WHERE id = ?").bind(id).execute(db).await {
        tracing::warn!(error = %e, job = id, "could not discard a refused job");
    }
}

/// A live job of `kind` that `key` may see.
pub async fn load(db: &Db, kind: &str, id: &str, key: &KeyInfo) -> ApiResult<JobRow> {
    let row: Option<JobRow> = sqlx::query_as(
        "SELECT id, key_id, status, input, result, error, created_at, updated_at, expires_at FROM jobs \
         WHERE id = ? AND kind = ? AND expires_at > ?",
    )
    .bind(id)
    .bind(kind)
    .bind(now())
    .fetch_optional(db)
    .await?;
    match row {
        Some(row) if row.key_id == key.id || key.is_admin => Ok(row),
        _ => Err(not_found(id)),
    }
}

/// The live jobs of `kind` that `key` may see, newest first.
pub async fn list(db: &Db, kind: &str, key: &KeyInfo, limit: i64) -> ApiResult<Vec<JobRow>> {
    Ok(sqlx::query_as(
        "SELECT id, key_id, status, input, result, error, created_at, updated_at, expires_at FROM jobs \
         WHERE kind = ? AND expires_at > ? AND (key_id = ? OR ?) ORDER BY created_at DESC LIMIT ?",
    )
    .bind(kind)
    .bind(now())
    .bind(&key.id)
    .bind(key.is_admin)
    .bind(limit)
    .fetch_all(db)
    .await?)
}

/// Marks a job running; false when it was cancelled, deleted or finished meanwhile.
pub async fn claim(db: &Db, id: &str) -> Result<bool, sqlx::Error> {
    let claimed = sqlx::query(
        "UPDATE jobs SET status = 'running', updated_at = ? WHERE id = ? AND status IN ('notStarted', 'running')",
    )
    .bind(now())
    .bind(id)
    .execute(db)
    .await?;
    Ok(claimed.rows_affected() > 0)
}

/// The job's status now (`None` once deleted).
pub async fn status(db: &Db, id: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT status FROM jobs WHERE id = ?").bind(id).fetch_optional(db).await
}

/// Stores the result of a running job.
pub async fn finish(db: &Db, id: &str, status: &str, result: &Value) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE jobs SET status = ?, result = ?, updated_at = ? WHERE id = ? AND status = 'running'")
        .bind(status)
        .bind(result.to_string())
        .bind(now())
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Marks a job failed with an Azure-shaped error.
pub async fn fail(db: &Db, id: &str, code: &str, message: &str) {
    let error = serde_json::json!({ "code": code, "message": message });
    let _ = sqlx::query("UPDATE jobs SET status = 'failed', error = ?, updated_at = ? WHERE id = ?")
        .bind(error.to_string())
        .bind(now())
        .bind(id)
        .execute(db)
        .await;
}

/// At start-up: drops expired jobs and returns the ids of `kind` a stop left unfinished.
pub async fn unfinished(db: &Db, kind: &str) -> Vec<String> {
    let _ = sqlx::query("DELETE FROM jobs WHERE expires_at <= ?").bind(now()).execute(db).await;
    sqlx::query_scalar("SELECT id FROM jobs WHERE kind = ? AND status IN ('notStarted', 'running') ORDER BY created_at")
        .bind(kind)
        .fetch_all(db)
        .await
        .unwrap_or_default()
}
