//! Audio in and out: decoding any supported container to 16 kHz mono for the recognizer,
//! resampling, and encoding synthesized speech into the output formats clients ask for.

pub mod decode;
pub mod encode;
pub mod format;
pub mod pcm_stream;
pub mod resample;
pub mod wav_header;

pub use decode::{DecodeLimits, decode_for_recognition};
pub use encode::encode;
pub use format::OutputFormat;

/// Mono PCM samples in [-1, 1] at a sample rate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pcm {
    pub samples: Vec<f32>,
    pub sample_rate: u32,
}

impl Pcm {
    pub fn new(samples: Vec<f32>, sample_rate: u32) -> Self {
        Self { samples, sample_rate }
    }

    pub fn duration_secs(&self) -> f64 {
        if self.sample_rate == 0 { 0.0 } else { self.samples.len() as f64 / f64::from(self.sample_rate) }
    }

    /// Appends `ms` milliseconds of silence.
    pub fn push_silence_ms(&mut self, ms: u32) {
        let n = (u64::from(self.sample_rate) * u64::from(ms) / 1000) as usize;
        self.samples.resize(self.samples.len() + n, 0.0);
    }
}

/// The sample rate Whisper (and so every recognizer input) works at.
pub const RECOGNITION_RATE: u32 = 16_000;
