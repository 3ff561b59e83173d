//! What bounds the Vision routes' memory besides the server's in-flight cap and the model
//! workers' queues: how many images are decoded at once (a decode of a 64-megapixel image takes
//! up to about 700 MB), and how many Read operations hold a decoded image at once. Read
//! operations beyond that wait in the database as their encoded image.

use std::sync::Arc;

use cogway_core::ServiceError;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::errors::{ApiError, ApiResult};
use crate::settings::VisionSettings;

pub struct VisionGate {
    /// `vision.decode_concurrency` permits, one per image being decoded.
    decodes: Arc<Semaphore>,
    /// `vision.read_concurrency` permits, one per running Read operation.
    reads: Arc<Semaphore>,
    /// Wakes the Read dispatcher when an operation was stored for it.
    read_stored: Notify,
}

impl VisionGate {
    pub fn new(settings: &VisionSettings) -> Self {
        Self {
            decodes: Arc::new(Semaphore::new(settings.decode_concurrency.max(1))),
            reads: Arc::new(Semaphore::new(settings.read_concurrency.max(1))),
            read_stored: Notify::new(),
        }
    }

    /// Waits for a turn to decode an image; the turn ends when the permit is dropped (move it
    /// into the decoding closure, so a cancelled request does not end it early).
    pub async fn decode_turn(&self) -> ApiResult<OwnedSemaphorePermit> {
        self.decodes
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError(ServiceError::internal("the decoder gate is closed")))
    }

    /// A Read slot if one is free now.
    pub fn try_read_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.reads.clone().try_acquire_owned().ok()
    }

    /// Waits for a Read slot (`None` once the gate is closed).
    pub async fn read_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.reads.clone().acquire_owned().await.ok()
    }

    /// Tells the dispatcher that an operation waits in the database.
    pub fn read_stored(&self) {
        self.read_stored.notify_one();
    }

    /// Waits until an operation was stored (a notice given while nobody waited is kept).
    pub async fn wait_read_stored(&self) {
        self.read_stored.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slots_are_bounded_and_notices_are_kept() {
        let settings = VisionSettings { decode_concurrency: 1, read_concurrency: 2, ..VisionSettings::default() };
        let gate = VisionGate::new(&settings);
        let a = gate.try_read_slot().expect("first slot");
        let _b = gate.try_read_slot().expect("second slot");
        assert!(gate.try_read_slot().is_none());
        drop(a);
        assert!(gate.try_read_slot().is_some());
        let turn = gate.decode_turn().await.expect("turn");
        assert!(gate.decodes.try_acquire().is_err());
        drop(turn);
        // A notice given before anyone waits is not lost.
        gate.read_stored();
        tokio::time::timeout(std::time::Duration::from_secs(1), gate.wait_read_stored()).await.expect("kept notice");
    }
}
