//! The rule-based engine: Apertium's installed pairs, one or more persistent pipelines per
//! direction, started on first use (a pipeline holds 10-15 processes and their dictionaries, so
//! starting all 40-odd directions up front would cost memory for pairs nobody asks for).
//! A direction gets another pipeline when all of its pipelines are busy, up to
//! `pipelines_per_direction`.

pub mod dictionary;
pub mod modes;
pub mod pipeline;
pub mod stream;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use cogway_core::{Code, ServiceError, Worker, WorkerStats};

use crate::pieces::Segment;
use modes::Direction;
use pipeline::Pipeline;

type PipelineWorker = Worker<Vec<Segment>, Vec<Segment>>;

/// Settings of the Apertium engine.
#[derive(Debug, Clone)]
pub struct ApertiumConfig {
    pub modes_dir: std::path::PathBuf,
    pub pipelines_per_direction: usize,
    /// Requests waiting per pipeline before 503.
    pub queue_capacity: usize,
}

pub struct Apertium {
    directions: BTreeMap<(String, String), Direction>,
    pools: Mutex<HashMap<(String, String), Vec<PipelineWorker>>>,
    config: ApertiumConfig,
}

impl Apertium {
    pub fn load(config: ApertiumConfig) -> Self {
        let directions = modes::discover(&config.modes_dir)
            .into_iter()
            .map(|d| ((d.from.clone(), d.to.clone()), d))
            .collect::<BTreeMap<_, _>>();
        tracing::info!(directions = directions.len(), dir = %config.modes_dir.display(), "Apertium pairs found");
        Self { directions, pools: Mutex::new(HashMap::new()), config }
    }

    pub fn modes_dir(&self) -> &Path {
        &self.config.modes_dir
    }

    /// Every (from, to) with an installed mode.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.directions.keys().map(|(f, t)| (f.as_str(), t.as_str()))
    }

    pub fn direction(&self, from: &str, to: &str) -> Option<&Direction> {
        self.directions.get(&(from.to_string(), to.to_string()))
    }

    /// A pipeline for the direction: an idle one, else a new one while there is room, else the
    /// least busy.
    fn worker(&self, from: &str, to: &str) -> Result<PipelineWorker, ServiceError> {
        let key = (from.to_string(), to.to_string());
        let direction = self.directions.get(&key).ok_or_else(|| {
            ServiceError::new(Code::UnsupportedLanguageCode, format!("No Apertium pair for {from} -> {to}."))
        })?;
        let mut pools = self.pools.lock().map_err(|_| ServiceError::internal("apertium pool lock poisoned"))?;
        let pool = pools.entry(key).or_default();
        if let Some(idle) = pool.iter().find(|w| w.stats().queue_depth() == 0) {
            return Ok(idle.clone());
        }
        if pool.len() < self.config.pipelines_per_direction.max(1) {
            let pipeline = Pipeline::start(direction.clone()).map_err(|e| {
                ServiceError::new(Code::ModelNotReady, format!("Apertium {}: {e}", direction.mode)).with_retry_after(30)
            })?;
            let name = format!("apertium-{}-{}", direction.mode, pool.len());
            let worker = Worker::spawn(&name, pipeline, self.config.queue_capacity, 64)
                .map_err(|e| ServiceError::internal(format!("{name}: {e}")))?;
            pool.push(worker.clone());
            return Ok(worker);
        }
        pool.iter()
            .min_by_key(|w| w.stats().queue_depth())
            .cloned()
            .ok_or_else(|| ServiceError::internal("empty apertium pool"))
    }

    /// Translates the segments of one request.
    pub async fn translate(&self, from: &str, to: &str, segments: Vec<Segment>) -> Result<Vec<Segment>, ServiceError> {
        if segments.is_empty() {
            return Ok(segments);
        }
        let worker = self.worker(from, to)?;
        worker.call(segments).await
    }

    /// Calls `f` with the name and queue statistics of every running pipeline.
    pub fn each_worker(&self, f: &mut dyn FnMut(&str, &WorkerStats)) {
        if let Ok(pools) = self.pools.lock() {
            for worker in pools.values().flatten() {
                f(worker.name(), worker.stats());
            }
        }
    }

    /// Starts a pipeline for each listed direction now (hot pairs answer their first request fast).
    pub fn preload(&self, pairs: &[(String, String)]) {
        for (from, to) in pairs {
            if let Err(e) = self.worker(from, to) {
                tracing::warn!(%from, %to, error = %e, "could not preload an Apertium pipeline");
            }
        }
    }
}
