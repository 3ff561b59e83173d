//! Live sessions held at once: `speech.max_streams` on the server, `speech.max_streams_per_key`
//! per key. A session takes its slot before the WebSocket upgrade, so a refusal is a plain HTTP
//! answer the SDKs understand (429 or 503 with Retry-After), and keeps it until the socket ends.

use std::sync::Arc;

use cogway_core::{Code, ServiceError};
use dashmap::DashMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::errors::ApiError;

pub struct StreamSlots {
    server: Arc<Semaphore>,
    per_key: DashMap<String, Arc<Semaphore>>,
    per_key_max: usize,
    server_max: usize,
}

/// A held slot; dropping it frees it.
#[derive(Debug)]
pub struct StreamSlot {
    _server: OwnedSemaphorePermit,
    _key: OwnedSemaphorePermit,
}

impl StreamSlots {
    pub fn new(server_max: usize, per_key_max: usize) -> Self {
        Self {
            server: Arc::new(Semaphore::new(server_max.max(1))),
            per_key: DashMap::new(),
            per_key_max: per_key_max.max(1),
            server_max: server_max.max(1),
        }
    }

    /// Takes a slot for `key_id`, or refuses at once.
    pub fn acquire(&self, key_id: &str) -> Result<StreamSlot, ApiError> {
        let key_slots = self
            .per_key
            .entry(key_id.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_key_max)))
            .clone();
        let key = key_slots.try_acquire_owned().map_err(|_| {
            ApiError(
                ServiceError::new(
                    Code::RateLimited,
                    format!("This key already holds {} live sessions, the most one key may hold.", self.per_key_max),
                )
                .with_retry_after(5),
            )
        })?;
        let server = self.server.clone().try_acquire_owned().map_err(|_| {
            ApiError(
                ServiceError::new(
                    Code::Overloaded,
                    format!("The server holds {} live sessions, its most. Retry shortly.", self.server_max),
                )
                .with_retry_after(5),
            )
        })?;
        Ok(StreamSlot { _server: server, _key: key })
    }

    /// Sessions held now.
    pub fn in_use(&self) -> usize {
        self.server_max - self.server.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_key_share_and_the_server_limit() {
        let slots = StreamSlots::new(3, 2);
        let a1 = slots.acquire("a").expect("first");
        let _a2 = slots.acquire("a").expect("second");
        assert_eq!(slots.acquire("a").map_err(|e| e.0.code).err(), Some(Code::RateLimited));
        let _b1 = slots.acquire("b").expect("b's first");
        assert_eq!(slots.acquire("b").map_err(|e| e.0.code).err(), Some(Code::Overloaded));
        assert_eq!(slots.in_use(), 3);
        drop(a1);
        assert!(slots.acquire("b").is_ok(), "a freed slot is taken again");
    }
}
