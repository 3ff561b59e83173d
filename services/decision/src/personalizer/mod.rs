//! Personalizer: a contextual bandit that ranks actions for a context and learns online from
//! rewards, as Azure's Personalizer (API 2022-09-01-preview and v1.0) is used: rank and
//! multi-slot rank, rewards, the service configuration and the learning policy.

pub mod config;
pub mod features;
pub mod learner;
pub mod rank;

/// A refused Personalizer request: Azure's error code and message (status chosen by the gateway).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct PersonalizerError {
    pub code: &'static str,
    pub message: String,
}

impl PersonalizerError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// A stored example: (index, value) pairs as little-endian bytes.
pub fn example_to_bytes(example: &[features::Feature]) -> Vec<u8> {
    example.iter().flat_map(|(i, v)| i.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect()
}

/// Reads [`example_to_bytes`] back (a trailing partial pair is dropped).
pub fn example_from_bytes(bytes: &[u8]) -> Vec<features::Feature> {
    bytes
        .chunks_exact(8)
        .map(|c| (u32::from_le_bytes([c[0], c[1], c[2], c[3]]), f32::from_le_bytes([c[4], c[5], c[6], c[7]])))
        .collect()
}
