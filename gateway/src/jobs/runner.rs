//! The job runner: per kind, a loop that takes a slot (the kind's concurrency on this replica),
//! claims the oldest waiting job with a lease, and runs it on the kind's [`JobHandler`] while a
//! heartbeat renews the lease. Losing the lease (the job was cancelled, deleted, or taken over
//! after this replica stalled) raises the job's cancel flag; the result is written only while
//! the lease is held, so a job finishes once.

use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use cogway_core::ServiceError;
use serde_json::Value;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::store::{self, Claimed};
use super::{JobKind, JobStatus, blob_name};
use crate::app::AppState;
use crate::db::{Engine, engine};
use crate::settings::Settings;

/// What a finished job stores.
pub struct Outcome {
    pub status: JobStatus,
    pub result: Value,
}

impl Outcome {
    pub fn succeeded(result: Value) -> Self {
        Outcome { status: JobStatus::Succeeded, result }
    }
}

/// What a running job can see besides its row.
pub struct JobContext {
    cancelled: Arc<AtomicBool>,
    hint: Mutex<Option<Box<dyn Any + Send>>>,
}

impl JobContext {
    /// True once the job was cancelled, deleted or taken over: stop and return anything.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// The flag itself, for model calls that poll one.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }

    /// What the submitting request left for the job when it ran it at once on this replica
    /// (e.g. the image it already decoded); `None` when the job came from the queue.
    pub fn take_hint<T: Any + Send>(&self) -> Option<T> {
        let hint = self.hint.lock().ok()?.take()?;
        hint.downcast::<T>().ok().map(|boxed| *boxed)
    }
}

/// One kind of job.
#[async_trait]
pub trait JobHandler: Send + Sync {
    fn kind(&self) -> JobKind;
    /// Jobs of this kind one replica runs at once.
    fn concurrency(&self, settings: &Settings) -> usize;
    /// Whether this replica takes jobs of this kind (its service is on).
    fn enabled(&self, settings: &Settings) -> bool;
    /// Runs a claimed job. An `Err` fails the job with [`JobHandler::failure_code`].
    async fn run(&self, state: &AppState, job: &Claimed, ctx: &JobContext) -> Result<Outcome, ServiceError>;
    /// The job error code of a failure (Azure's per-API names).
    fn failure_code(&self, e: &ServiceError) -> &'static str {
        if e.code.http_status() < 500 { "InvalidData" } else { "InternalServerError" }
    }
}

struct Lane {
    handler: Arc<dyn JobHandler>,
    slots: Arc<Semaphore>,
    wake: Arc<Notify>,
}

pub struct JobRunner {
    replica: String,
    lease_secs: i64,
    poll: Duration,
    max_attempts: i64,
    lanes: HashMap<JobKind, Lane>,
}

impl JobRunner {
    pub fn new(settings: &Settings, replica: &str, handlers: Vec<Arc<dyn JobHandler>>) -> Self {
        let lanes = handlers
            .into_iter()
            .map(|handler| {
                let slots = Arc::new(Semaphore::new(handler.concurrency(settings).max(1)));
                (handler.kind(), Lane { handler, slots, wake: Arc::new(Notify::new()) })
            })
            .collect();
        let settings = &settings.jobs;
        Self {
            replica: replica.to_string(),
            lease_secs: i64::try_from(settings.lease_secs.max(3)).unwrap_or(30),
            poll: Duration::from_millis(settings.poll_ms.max(50)),
            max_attempts: i64::from(settings.max_attempts.max(1)),
            lanes,
        }
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Wakes this replica's loop for `kind` (a job was released here).
    pub fn wake(&self, kind: JobKind) {
        if let Some(lane) = self.lanes.get(&kind) {
            lane.wake.notify_one();
        }
    }

    /// Runs the released job `id` here and now if this replica has a free slot for its kind,
    /// handing it `hint` (what the request already prepared); false when it must wait its turn.
    pub async fn try_run_now(&self, state: &Arc<AppState>, kind: JobKind, id: &str, hint: Box<dyn Any + Send>) -> bool {
        let Some(lane) = self.lanes.get(&kind) else { return false };
        let Ok(slot) = lane.slots.clone().try_acquire_owned() else { return false };
        match store::claim(&state.db, id, &self.replica, self.lease_secs).await {
            Ok(Some(job)) => {
                self.spawn(state.clone(), lane.handler.clone(), job, slot, Some(hint));
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, job = id, "cannot claim a job");
                false
            }
        }
    }

    /// Starts a loop per kind of job this replica takes, and the housekeeping.
    pub async fn start(state: Arc<AppState>) {
        let runner = &state.jobs;
        if engine(&state.db) == Engine::Sqlite {
            // One process per SQLite file: whoever held a lease before this start is gone.
            match store::expire_all_leases(&state.db).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(jobs = n, "resuming jobs a stop left running"),
                Err(e) => tracing::warn!(error = %e, "cannot resume interrupted jobs"),
            }
        }
        for (kind, lane) in &runner.lanes {
            if !lane.handler.enabled(&state.settings) {
                continue; // they wait for a replica with the service on
            }
            tokio::spawn(claim_loop(state.clone(), *kind));
        }
        tokio::spawn(housekeeping(state.clone()));
    }

    fn spawn(
        &self,
        state: Arc<AppState>,
        handler: Arc<dyn JobHandler>,
        job: Claimed,
        slot: OwnedSemaphorePermit,
        hint: Option<Box<dyn Any + Send>>,
    ) {
        // On the runtime, not the arbiter's local set: at shutdown the runtime drops unfinished
        // jobs inside its own context, which sqlx needs to give back a connection a job held.
        tokio::spawn(async move {
            run_one(&state, handler.as_ref(), &job, hint).await;
            drop(slot);
        });
    }
}

async fn claim_loop(state: Arc<AppState>, kind: JobKind) {
    let runner = &state.jobs;
    let Some(lane) = runner.lanes.get(&kind) else { return };
    loop {
        let Ok(slot) = lane.slots.clone().acquire_owned().await else { return };
        match store::claim_next(&state.db, kind, &runner.replica, runner.lease_secs, runner.max_attempts).await {
            Ok(Some(job)) => {
                if job.attempts > 1 {
                    tracing::info!(job = %job.id, attempt = job.attempts, "taking over a job");
                }
                runner.spawn(state.clone(), lane.handler.clone(), job, slot, None);
            }
            Ok(None) => {
                drop(slot);
                // Woken by a submission on this replica; the poll finds other replicas' jobs and
                // leases that ran out.
                let _ = tokio::time::timeout(runner.poll, lane.wake.notified()).await;
            }
            Err(e) => {
                drop(slot);
                tracing::warn!(error = %e, kind = kind.as_str(), "cannot look for waiting jobs");
                tokio::time::sleep(runner.poll.max(Duration::from_secs(1))).await;
            }
        }
    }
}

async fn run_one(state: &Arc<AppState>, handler: &dyn JobHandler, job: &Claimed, hint: Option<Box<dyn Any + Send>>) {
    let runner = &state.jobs;
    let ctx = JobContext { cancelled: Arc::new(AtomicBool::new(false)), hint: Mutex::new(hint) };
    let kind = handler.kind().as_str();
    state.metrics.jobs_running.with_label_values(&[kind]).inc();
    let heartbeat = {
        let (db, id, replica, lease) = (state.db.clone(), job.id.clone(), runner.replica.clone(), runner.lease_secs);
        let cancelled = ctx.cancelled.clone();
        tokio::spawn(async move {
            let every = Duration::from_secs(u64::try_from(lease / 3).unwrap_or(1).max(1));
            loop {
                tokio::time::sleep(every).await;
                match store::renew(&db, &id, &replica, lease).await {
                    Ok(true) => {}
                    Ok(false) => {
                        cancelled.store(true, Ordering::Relaxed);
                        return;
                    }
                    // A database hiccup: keep working, the next beat tries again.
                    Err(e) => tracing::warn!(error = %e, job = %id, "cannot renew a job lease"),
                }
            }
        })
    };
    let outcome = handler.run(state, job, &ctx).await;
    heartbeat.abort();
    state.metrics.jobs_running.with_label_values(&[kind]).dec();
    let written = match (&outcome, ctx.is_cancelled()) {
        (_, true) => Ok(false),
        (Ok(done), false) => store::finish(&state.db, &job.id, &runner.replica, done.status, &done.result).await,
        (Err(e), false) => {
            tracing::warn!(job = %job.id, kind, error = %e, "job failed");
            store::fail(&state.db, &job.id, &runner.replica, handler.failure_code(e), &e.message).await
        }
    };
    match written {
        Ok(true) => {
            let status = outcome.as_ref().map_or("failed", |o| o.status.as_str());
            state.metrics.jobs_finished.with_label_values(&[kind, status]).inc();
            // The input is no longer needed once the job is done.
            state.blobs.delete(&blob_name(&job.id)).await;
        }
        // Cancelled, deleted or taken over: whoever holds it now owns its input.
        Ok(false) => tracing::info!(job = %job.id, kind, "job stopped: no longer held by this replica"),
        Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot store a job's result; its lease will run out"),
    }
}

/// Every minute: gives up jobs that used up their attempts, drops dead submissions and expired
/// jobs, and deletes the inputs nobody needs any more.
async fn housekeeping(state: Arc<AppState>) {
    const HELD_GRACE_SECS: i64 = 600;
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        match store::sweep(&state.db, state.jobs.max_attempts, HELD_GRACE_SECS).await {
            Ok(ids) => {
                for id in ids {
                    state.blobs.delete(&blob_name(&id)).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "job housekeeping failed"),
        }
        state.blobs.sweep_orphans(&state.db).await;
    }
}
