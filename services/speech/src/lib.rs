//! Cogway's Speech service.
//!
//! - [`audio`]: decoding uploads to 16 kHz mono, resampling, encoding WAV / PCM / MP3 / Ogg-Opus.
//! - [`stt`]: Whisper (whisper.cpp) recognition and translation into English, Silero VAD,
//!   transcripts with segments and word timings.
//! - [`tts`]: SSML, lexicons, the Piper neural voice, eSpeak NG voices.
//! - [`service`]: loads the models and runs them on bounded workers.

pub mod audio;
pub mod live;
pub mod service;
pub mod stt;
pub mod tts;

pub use service::{Lane, SpeechConfig, SpeechService};
