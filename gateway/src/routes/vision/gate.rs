//! What bounds the Vision routes' memory besides the server's in-flight cap and the model
//! workers' queues: how many images are decoded at once (a decode of a 64-megapixel image takes
//! up to about 700 MB). Read operations are bounded by the job runner's slots
//! (`vision.read_concurrency`); beyond that they wait as their encoded image.

use std::sync::Arc;

use cogway_core::ServiceError;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::errors::{ApiError, ApiResult};
use crate::settings::VisionSettings;

pub struct VisionGate {
    /// `vision.decode_concurrency` permits, one per image being decoded.
    decodes: Arc<Semaphore>,
}

impl VisionGate {
    pub fn new(settings: &VisionSettings) -> Self {
        Self { decodes: Arc::new(Semaphore::new(settings.decode_concurrency.max(1))) }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn decodes_are_bounded() {
        let settings = VisionSettings { decode_concurrency: 1, ..VisionSettings::default() };
        let gate = VisionGate::new(&settings);
        let turn = gate.decode_turn().await.expect("turn");
        assert!(gate.decodes.try_acquire().is_err());
        drop(turn);
        assert!(gate.decodes.try_acquire().is_ok());
    }
}
