//! Speech to text: Whisper (whisper.cpp, and ONNX Runtime for audio over 10 s) with Silero
//! voice-activity detection.

mod decoding_rules;
pub mod fallback;
pub mod languages;
pub mod mel;
pub mod onnx_whisper;
pub mod stream;
pub mod subtitles;
pub mod text_forms;
pub mod transcript;
pub mod vad;
pub mod whisper;
mod word_alignment;

pub use onnx_whisper::OnnxWhisper;
pub use transcript::{Segment, Transcript, Word};
pub use whisper::{EngineOptions, RecognitionRequest, Task, WhisperEngine, WhisperModel};
