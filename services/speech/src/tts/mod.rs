//! Text to speech: SSML in, audio out. The Piper neural voice (VITS on ONNX Runtime) speaks
//! English; Kokoro (StyleTTS 2 on ONNX Runtime) speaks Spanish, French, Italian, Portuguese,
//! Hindi and more English; eSpeak NG phonemizes for both and speaks every other language with
//! formant voices.

pub mod espeak;
pub mod kokoro;
pub mod lexicon;
pub mod piper;
mod resident;
pub mod say_as;
pub mod ssml;
pub mod synth;
pub mod voices;
pub mod word_times;

pub use synth::{AudioSink, SynthesisJob, Synthesized, TtsEngine};
pub use voices::{Engine, Voice};
