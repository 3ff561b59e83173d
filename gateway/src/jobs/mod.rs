//! Asynchronous jobs (analyze-text jobs, batch transcriptions, Read operations): one table, one
//! runner for every kind and every replica.
//!
//! A job is a row. Submitting stores it `held` (with its input in the blob store), charges the
//! key, then releases it to `notStarted`; a refused charge discards it, so no runner ever sees a
//! job that was not paid for. A runner claims the oldest waiting job of a kind with a lease
//! (`SELECT ... FOR UPDATE SKIP LOCKED` on Postgres; SQLite's single writer makes the same
//! statement atomic), renews the lease while it works, and writes the result only while it still
//! holds the lease. When a replica dies its leases run out and another replica takes the job
//! over; `jobs.max_attempts` claims at most, so a job that kills its runner is not retried
//! forever. A job is visible to the key that created it (and to admin keys) only.

mod runner;
mod store;

pub use runner::{JobContext, JobHandler, JobRunner, Outcome};
pub use store::{Backlog, Claimed, JobRow, NewJob, cancel, delete, list, load, status};

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use cogway_core::{Code, ServiceError};

use crate::app::AppState;
use crate::errors::{ApiError, ApiResult};

/// The kinds of job, each with its own runner loop and concurrency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// Language `analyze-text/jobs`.
    AnalyzeText,
    /// Speech-to-text batch transcriptions.
    Transcription,
    /// Vision Read v3.2 operations.
    Read,
    /// Document Intelligence analyses.
    Document,
}

impl JobKind {
    pub const ALL: [JobKind; 4] = [JobKind::AnalyzeText, JobKind::Transcription, JobKind::Read, JobKind::Document];

    /// The `kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::AnalyzeText => "analyze-text",
            JobKind::Transcription => "transcription",
            JobKind::Read => "vision-read",
            JobKind::Document => "document-analysis",
        }
    }
}

/// The input of one kind of job, stored as JSON in the `input` column (large uploads go to the
/// blob store instead). Fields added later need `#[serde(default)]`: rows written by an older
/// version must still read.
pub trait JobInput: serde::Serialize + serde::de::DeserializeOwned {
    const KIND: JobKind;
}

/// A job's status as stored. Clients see `Held` as `notStarted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Stored, its charge not yet accepted: no runner takes it.
    Held,
    NotStarted,
    Running,
    Succeeded,
    PartiallyCompleted,
    Failed,
    Cancelled,
}

impl JobStatus {
    /// The `status` column, in Azure's spelling (Language's camelCase).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Held => "held",
            JobStatus::NotStarted => "notStarted",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::PartiallyCompleted => "partiallyCompleted",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "held" => JobStatus::Held,
            "notStarted" => JobStatus::NotStarted,
            "running" => JobStatus::Running,
            "succeeded" => JobStatus::Succeeded,
            "partiallyCompleted" => JobStatus::PartiallyCompleted,
            "failed" => JobStatus::Failed,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }

    /// What clients are told.
    pub fn public(self) -> &'static str {
        match self {
            JobStatus::Held => JobStatus::NotStarted.as_str(),
            other => other.as_str(),
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::PartiallyCompleted | JobStatus::Failed | JobStatus::Cancelled)
    }
}

/// Stores a job (429 when the key's backlog is full), then charges it with `charge` (refused: the
/// job is discarded and the refusal returned), then lets runners take it: this replica at once
/// with `hint` when it has a free slot, else the first runner to look. Returns its creation time.
pub async fn submit(
    state: &Arc<AppState>,
    job: NewJob<'_>,
    charge: impl Future<Output = Result<(), ServiceError>>,
    hint: Option<Box<dyn Any + Send>>,
) -> ApiResult<i64> {
    let (kind, id) = (job.kind, job.id.to_string());
    let created = store::insert(&state.db, &state.blobs, job, state.backlog()).await?;
    if let Err(refused) = charge.await {
        store::discard(&state.db, &state.blobs, &id).await;
        return Err(refused.into());
    }
    store::release(&state.db, &id).await?;
    let started = match hint {
        Some(hint) => state.jobs.try_run_now(state, kind, &id, hint).await,
        None => false,
    };
    if !started {
        state.jobs.wake(kind);
    }
    Ok(created)
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::new(Code::NotFound, format!("The job '{id}' does not exist or has expired."))
}

/// The blob-store name of a job's input.
pub fn blob_name(id: &str) -> String {
    format!("jobs/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_held_looks_not_started() {
        for s in [
            JobStatus::Held,
            JobStatus::NotStarted,
            JobStatus::Running,
            JobStatus::Succeeded,
            JobStatus::PartiallyCompleted,
            JobStatus::Failed,
            JobStatus::Cancelled,
        ] {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::Held.public(), "notStarted");
        assert!(JobStatus::parse("done").is_none());
    }
}
