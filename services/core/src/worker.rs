//! The model worker: blocking model calls on a dedicated thread, fed by a bounded queue.
//!
//! Async handlers call [`Worker::call`]; it puts the input and a oneshot reply channel on a
//! bounded queue and awaits the answer. The worker thread takes whatever is waiting (up to
//! `max_batch` items) and runs it as one batch, so concurrent requests share one model call.
//! When the queue is full the call fails at once with [`Code::Overloaded`] and a retry hint:
//! the queue never grows without bound.
//!
//! A panic inside the model is caught: the batch it was running gets a 500, the model's
//! [`BatchModel::recover`] is called, the restart is counted in [`WorkerStats::restarts`], and the
//! worker goes on serving. One bad input never leaves a model dead until the server restarts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread;

use tokio::sync::{mpsc, oneshot};

use crate::error::{Code, ServiceError};

/// A model that runs a batch of inputs synchronously. It lives on its worker thread only.
pub trait BatchModel: Send + 'static {
    type Input: Send + 'static;
    type Output: Send + 'static;

    /// Runs the batch; returns exactly one result per input, in order.
    fn run(&mut self, batch: Vec<Self::Input>) -> Vec<Result<Self::Output, ServiceError>>;

    /// Called after `run` panicked, before the next batch: drop any per-call state that the panic
    /// may have left half-updated. The default keeps the model as it is (stateless models).
    fn recover(&mut self) {}
}

struct Job<I, O> {
    input: I,
    reply: oneshot::Sender<Result<O, ServiceError>>,
}

/// Counters a worker publishes (read by the gateway's metrics).
#[derive(Debug, Default)]
pub struct WorkerStats {
    queued: AtomicUsize,
    batches: AtomicU64,
    items: AtomicU64,
    rejected: AtomicU64,
    restarts: AtomicU64,
}

impl WorkerStats {
    /// Inputs waiting in the queue or being run now.
    pub fn queue_depth(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }
    pub fn items(&self) -> u64 {
        self.items.load(Ordering::Relaxed)
    }
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
    /// Times the model panicked and the worker recovered.
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
}

/// A handle to a model running on its own thread. Cheap to clone.
pub struct Worker<I, O> {
    name: Arc<str>,
    tx: mpsc::Sender<Job<I, O>>,
    stats: Arc<WorkerStats>,
}

impl<I, O> Clone for Worker<I, O> {
    fn clone(&self) -> Self {
        Self { name: self.name.clone(), tx: self.tx.clone(), stats: self.stats.clone() }
    }
}

impl<I: Send + 'static, O: Send + 'static> Worker<I, O> {
    /// Starts `model` on a new thread named `name`, with room for `queue_capacity` waiting inputs
    /// and batches of at most `max_batch`.
    pub fn spawn<M>(name: &str, model: M, queue_capacity: usize, max_batch: usize) -> std::io::Result<Self>
    where
        M: BatchModel<Input = I, Output = O>,
    {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let stats = Arc::new(WorkerStats::default());
        let thread_stats = stats.clone();
        let thread_name = name.to_string();
        let max_batch = max_batch.max(1);
        thread::Builder::new()
            .name(format!("model-{name}"))
            .spawn(move || run_loop(model, rx, max_batch, &thread_stats, &thread_name))?;
        Ok(Self { name: Arc::from(name), tx, stats })
    }

    /// Runs one input through the model. Fails at once with `Overloaded` when the queue is full.
    pub async fn call(&self, input: I) -> Result<O, ServiceError> {
        let (reply, answer) = oneshot::channel();
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(err) = self.tx.try_send(Job { input, reply }) {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(match err {
                mpsc::error::TrySendError::Full(_) => {
                    self.stats.rejected.fetch_add(1, Ordering::Relaxed);
                    ServiceError::new(
                        Code::Overloaded,
                        format!("The {} model is busy: its queue is full. Retry shortly.", self.name),
                    )
                    .with_retry_after(1)
                }
                mpsc::error::TrySendError::Closed(_) => {
                    ServiceError::internal(format!("The {} model worker has stopped.", self.name))
                }
            });
        }
        answer.await.unwrap_or_else(|_| {
            Err(ServiceError::internal(format!("The {} model worker dropped a request.", self.name)))
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn stats(&self) -> &WorkerStats {
        &self.stats
    }
}

fn run_loop<M: BatchModel>(
    mut model: M,
    mut rx: mpsc::Receiver<Job<M::Input, M::Output>>,
    max_batch: usize,
    stats: &WorkerStats,
    name: &str,
) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let count = jobs.len();
        let (inputs, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.input, j.reply)).unzip();
        // The model is only used again after `recover`, which is what makes unwinding out of
        // `run` acceptable here.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.run(inputs)));
        let mut outputs = match ran {
            Ok(outputs) => outputs,
            Err(panic) => {
                let what = panic_message(panic.as_ref());
                stats.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::error!(model = name, panic = %what, batch = count, "model panicked; recovering");
                let recovered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| model.recover()));
                if recovered.is_err() {
                    tracing::error!(model = name, "model recovery panicked too");
                }
                (0..count)
                    .map(|_| {
                        Err(ServiceError::internal(format!(
                            "The {name} model failed on this request and was restarted; the input was not processed."
                        )))
                    })
                    .collect()
            }
        };
        if outputs.len() != count {
            tracing::error!(expected = count, got = outputs.len(), "model returned the wrong number of outputs");
            outputs =
                (0..count).map(|_| Err(ServiceError::internal("The model returned a malformed batch."))).collect();
        }
        stats.batches.fetch_add(1, Ordering::Relaxed);
        stats.items.fetch_add(count as u64, Ordering::Relaxed);
        stats.queued.fetch_sub(count, Ordering::Relaxed);
        for (reply, output) in replies.into_iter().zip(outputs) {
            // The caller may have gone away (client disconnected); nothing to do then.
            let _ = reply.send(output);
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    struct Doubler;
    impl BatchModel for Doubler {
        type Input = u32;
        type Output = u32;
        fn run(&mut self, batch: Vec<u32>) -> Vec<Result<u32, ServiceError>> {
            batch.into_iter().map(|x| Ok(x * 2)).collect()
        }
    }

    /// Blocks on its first batch until released, so the queue can be filled.
    struct Gate(std_mpsc::Receiver<()>);
    impl BatchModel for Gate {
        type Input = u32;
        type Output = usize;
        fn run(&mut self, batch: Vec<u32>) -> Vec<Result<usize, ServiceError>> {
            let _ = self.0.recv_timeout(Duration::from_secs(5));
            let n = batch.len();
            batch.into_iter().map(|_| Ok(n)).collect()
        }
    }

    /// Panics on 13, and counts its recoveries.
    struct Fragile {
        recovered: u32,
    }
    impl BatchModel for Fragile {
        type Input = u32;
        type Output = u32;
        fn run(&mut self, batch: Vec<u32>) -> Vec<Result<u32, ServiceError>> {
            assert!(!batch.contains(&13), "unlucky input");
            batch.into_iter().map(|x| Ok(x + self.recovered)).collect()
        }
        fn recover(&mut self) {
            self.recovered += 1000;
        }
    }

    #[tokio::test]
    async fn a_panicking_model_is_recovered_and_keeps_serving() {
        let worker = Worker::spawn("fragile", Fragile { recovered: 0 }, 4, 1).unwrap();
        assert_eq!(worker.call(1).await.unwrap(), 1);
        let err = worker.call(13).await.unwrap_err();
        assert_eq!(err.code, Code::Internal);
        assert!(err.message.contains("restarted"), "{}", err.message);
        assert_eq!(worker.stats().restarts(), 1);
        // Same thread, recovered model.
        assert_eq!(worker.call(2).await.unwrap(), 1002);
        assert_eq!(worker.stats().queue_depth(), 0);
    }

    #[tokio::test]
    async fn answers_in_order() {
        let worker = Worker::spawn("double", Doubler, 4, 8).unwrap();
        assert_eq!(worker.call(21).await.unwrap(), 42);
        assert_eq!(worker.stats().queue_depth(), 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn full_queue_is_refused_not_grown() {
        let (release, gate) = std_mpsc::channel();
        let worker = Worker::spawn("gate", Gate(gate), 2, 8).unwrap();
        let first = tokio::spawn({
            let w = worker.clone();
            async move { w.call(1).await }
        });
        // Let the worker take the first job and block on it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let queued: Vec<_> = (0..2)
            .map(|i| {
                let w = worker.clone();
                tokio::spawn(async move { w.call(i).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = worker.call(99).await.unwrap_err();
        assert_eq!(refused.code, Code::Overloaded);
        assert_eq!(refused.retry_after, Some(1));
        for _ in 0..3 {
            release.send(()).unwrap();
        }
        assert_eq!(first.await.unwrap().unwrap(), 1);
        // The two queued inputs ran together as one batch.
        for q in queued {
            assert_eq!(q.await.unwrap().unwrap(), 2);
        }
        assert_eq!(worker.stats().rejected(), 1);
    }
}
