//! Whisper through whisper.cpp (whisper-rs): the model, and the engine that runs on a worker
//! thread with its own decoding state and voice-activity detector.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use whisper_rs::{
    FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters, WhisperState, WhisperVadContext,
    WhisperVadContextParams, WhisperVadParams,
};

use super::fallback::{FALLBACK_TEMPERATURES, Quality, SAMPLED_CANDIDATES};
use super::onnx_whisper::{self, DecodeOptions, OnnxWhisper};
use super::transcript::{Segment, Transcript, Word};
use super::vad::{Chunk, Compacted, windows};
use crate::audio::RECOGNITION_RATE;
use cogway_core::{BatchModel, ServiceError};

/// The pause put between speech regions joined for decoding (1 s): long enough for Whisper to
/// place a segment boundary in it, so times map back to the right region.
const JOIN_PAUSE_SAMPLES: usize = RECOGNITION_RATE as usize;
/// The most speech decoded as one window: Whisper's 30 s. Each window gets its own temperature
/// fallback.
const WINDOW_SAMPLES: usize = 30 * RECOGNITION_RATE as usize;
/// How many windows of one request may run the temperature fallback: two, and one in eight
/// beyond. Each fallback decodes its window up to five more times with five sampled candidates,
/// so without a bound a recording that fails everywhere (speech that really repeats itself trips
/// the repetition check) costs some 25 times a plain decode; past the budget a window keeps its
/// greedy decode.
fn fallback_budget(windows: usize) -> usize {
    2 + windows / 8
}

/// A segment or word said to start this close to the end of a speech region starts the next one
/// (the VAD pads regions by 0.2 s; Whisper starts a segment where the previous one ended).
const START_SNAP_SECS: f64 = 0.3;

/// Audio longer than this (seconds, all windows together) is decoded on ONNX Runtime when the
/// engine has it. whisper.cpp encodes only the part of the window a shorter clip fills, which
/// makes it as fast as ONNX Runtime's full 30 s encode at about this length (docs/benchmarks.md).
const ONNX_MIN_SECS: f64 = 10.0;

/// Whisper's encoder frames in one 30 s window.
const FULL_AUDIO_CONTEXT: i32 = 1500;
/// The least context an adaptive encode uses (10 s).
const MIN_AUDIO_CONTEXT: i32 = 500;

/// Recognize (in the spoken language) or translate into English.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Task {
    Transcribe,
    Translate,
}

/// One recognition job for the engine.
#[derive(Debug, Clone)]
pub struct RecognitionRequest {
    /// 16 kHz mono samples.
    pub audio: Arc<Vec<f32>>,
    /// Whisper language code; `None` detects it.
    pub language: Option<String>,
    pub task: Task,
    /// Text that biases decoding: phrase lists, custom vocabulary, the previous context.
    pub prompt: Option<String>,
    pub temperature: f32,
    pub word_timestamps: bool,
    /// Skip silence with the VAD and decode speech in chunks (long audio).
    pub split_on_silence: bool,
    /// Set when the request is cancelled (a deleted job); its result is then dropped.
    pub cancel: Option<Arc<AtomicBool>>,
    /// Decode greedily whatever the engine's beam size (partial results of a stream).
    pub greedy: bool,
}

impl RecognitionRequest {
    pub fn new(audio: Vec<f32>) -> Self {
        Self {
            audio: Arc::new(audio),
            language: None,
            task: Task::Transcribe,
            prompt: None,
            temperature: 0.0,
            word_timestamps: false,
            split_on_silence: false,
            cancel: None,
            greedy: false,
        }
    }

    /// Whether the request was cancelled while it waited or ran.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// A loaded Whisper model: weights shared by every engine made from it.
#[derive(Clone)]
pub struct WhisperModel {
    name: Arc<str>,
    context: Arc<WhisperContext>,
    multilingual: bool,
}

impl std::fmt::Debug for WhisperModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WhisperModel").field("name", &self.name).field("multilingual", &self.multilingual).finish()
    }
}

impl WhisperModel {
    /// Loads a ggml Whisper model file.
    pub fn load(name: &str, path: &Path, flash_attention: bool) -> Result<Self, ServiceError> {
        whisper_rs::install_logging_hooks();
        let path_str =
            path.to_str().ok_or_else(|| ServiceError::internal(format!("model path {path:?} is not UTF-8")))?;
        let params = WhisperContextParameters { flash_attn: flash_attention, use_gpu: false, ..Default::default() };
        let context = WhisperContext::new_with_params(path_str, params)
            .map_err(|e| ServiceError::internal(format!("loading the Whisper model {name} from {path:?}: {e}")))?;
        let multilingual = context.is_multilingual();
        Ok(Self { name: Arc::from(name), context: Arc::new(context), multilingual })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn multilingual(&self) -> bool {
        self.multilingual
    }
}

/// Settings of an engine.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub threads: usize,
    /// Beam size; 1 decodes greedily.
    pub beam_size: usize,
    /// The Silero VAD model (whisper.cpp format); without it silence is judged by Whisper alone.
    pub vad_model: Option<std::path::PathBuf>,
    /// Longest stretch of speech the VAD reports as one region, in seconds.
    pub max_chunk_secs: f32,
    /// Encode only the part of Whisper's 30 s window a short clip fills (whisper.cpp's
    /// `audio_ctx`): several times faster on short clips, at a small accuracy cost.
    pub adaptive_audio_context: bool,
    /// The same model on ONNX Runtime ([`OnnxWhisper`]), for audio of more than
    /// [`ONNX_MIN_SECS`]; shared by the model's workers.
    pub onnx: Option<Arc<Mutex<OnnxWhisper>>>,
}

/// Decodes audio on one thread: one Whisper state (its KV caches) and one VAD context.
pub struct WhisperEngine {
    model: WhisperModel,
    state: WhisperState,
    /// A state only for requests that detect their language. whisper.cpp detects the language
    /// before it applies the request's `audio_ctx`, so on a state that last decoded with a
    /// shortened context detection would see a truncated encoding (it picked Vietnamese for
    /// German). Only made when the adaptive context is on.
    detect_state: Option<WhisperState>,
    vad: Option<WhisperVadContext>,
    options: EngineOptions,
}

impl WhisperEngine {
    pub fn new(model: &WhisperModel, options: EngineOptions) -> Result<Self, ServiceError> {
        let state = model
            .context
            .create_state()
            .map_err(|e| ServiceError::internal(format!("creating a Whisper state for {}: {e}", model.name)))?;
        let vad = match &options.vad_model {
            Some(path) => {
                let path_str =
                    path.to_str().ok_or_else(|| ServiceError::internal(format!("VAD path {path:?} is not UTF-8")))?;
                let mut params = WhisperVadContextParams::default();
                params.set_n_threads(1);
                params.set_use_gpu(false);
                Some(
                    WhisperVadContext::new(path_str, params)
                        .map_err(|e| ServiceError::internal(format!("loading the VAD model {path:?}: {e}")))?,
                )
            }
            None => None,
        };
        // Made now, with the other states: a state created after others have decoded made the
        // batch engine's next encode fail ("failed to encode", -6) in whisper.cpp 1.8.
        let detect_state = if options.adaptive_audio_context {
            Some(
                model
                    .context
                    .create_state()
                    .map_err(|e| ServiceError::internal(format!("creating a Whisper state for {}: {e}", model.name)))?,
            )
        } else {
            None
        };
        Ok(Self { model: model.clone(), state, detect_state, vad, options })
    }

    /// Speech regions of `audio`, or `None` when no VAD model is loaded.
    pub fn speech_regions(&mut self, audio: &[f32], max_chunk_secs: f32) -> Result<Option<Vec<Chunk>>, ServiceError> {
        let Some(vad) = self.vad.as_mut() else { return Ok(None) };
        let mut params = WhisperVadParams::new();
        params.set_threshold(0.5);
        params.set_min_speech_duration(200);
        params.set_min_silence_duration(300);
        params.set_speech_pad(200);
        params.set_max_speech_duration(max_chunk_secs);
        let segments = vad
            .segments_from_samples(params, audio)
            .map_err(|e| ServiceError::internal(format!("voice activity detection failed: {e}")))?;
        // whisper.cpp reports VAD timestamps in centiseconds.
        let to_sample = |cs: f32| ((cs / 100.0) * RECOGNITION_RATE as f32).max(0.0) as usize;
        Ok(Some(
            segments
                .map(|s| Chunk { start: to_sample(s.start).min(audio.len()), end: to_sample(s.end).min(audio.len()) })
                .filter(|c| c.end > c.start)
                .collect(),
        ))
    }

    /// Recognizes one request. Long audio split on silence is decoded window by window
    /// ([`super::vad::windows`]); the first window's language holds for the rest.
    pub fn recognize(&mut self, request: &RecognitionRequest) -> Result<Transcript, ServiceError> {
        let audio = request.audio.as_slice();
        let duration = audio.len() as f64 / f64::from(RECOGNITION_RATE);
        let regions = self.speech_regions(audio, self.options.max_chunk_secs)?;
        let windows: Vec<Option<Compacted>> = match regions {
            // The VAD heard nothing: do not let Whisper hallucinate words into silence.
            Some(regions) if regions.is_empty() => {
                return Ok(Transcript {
                    language: request.language.clone().unwrap_or_else(|| "en".into()),
                    duration,
                    segments: Vec::new(),
                });
            }
            Some(regions) if request.split_on_silence => windows(&regions, WINDOW_SAMPLES, JOIN_PAUSE_SAMPLES)
                .iter()
                .map(|group| Some(Compacted::new(audio, group, JOIN_PAUSE_SAMPLES, RECOGNITION_RATE)))
                .collect(),
            _ => vec![None],
        };
        let mut segments = Vec::new();
        let mut language = request.language.clone();
        let mut fallbacks_left = fallback_budget(windows.len());
        let mut from_onnx = self.decode_on_onnx(audio, &windows, request, &mut language, fallbacks_left);
        for (i, compacted) in windows.iter().enumerate() {
            if request.is_cancelled() {
                break;
            }
            let input = compacted.as_ref().map_or(audio, |c| c.audio.as_slice());
            let mut decoded = match from_onnx.get_mut(i).and_then(Option::take) {
                Some(decoded) => decoded,
                None => {
                    let mut decoded = Vec::new();
                    let (detected, fell_back) =
                        self.decode(input, request, language.as_deref(), fallbacks_left > 0, &mut decoded)?;
                    fallbacks_left -= usize::from(fell_back);
                    language.get_or_insert(detected);
                    decoded
                }
            };
            if let Some(compacted) = compacted {
                for segment in &mut decoded {
                    segment.start = compacted.start_to_original(segment.start, START_SNAP_SECS);
                    segment.end = compacted.to_original(segment.end).max(segment.start);
                    for word in &mut segment.words {
                        word.start = compacted.start_to_original(word.start, START_SNAP_SECS).max(segment.start);
                        word.end = compacted.to_original(word.end).max(word.start);
                    }
                }
            }
            segments.append(&mut decoded);
        }
        if request.is_cancelled() {
            return Err(ServiceError::new(cogway_core::Code::Conflict, "The recognition was cancelled."));
        }
        Ok(Transcript { language: language.unwrap_or_else(|| "en".into()), duration, segments })
    }

    /// Decodes `windows` on ONNX Runtime when the engine has it and the request allows: more
    /// than [`ONNX_MIN_SECS`] of audio (a window may be longer than 30 s), temperature 0, greedy
    /// decoding (`speech.beam_size` 1), a language the model knows (or none: the first
    /// window's is detected and stored in `language`). Returns each window's segments; `None` for a window whose result
    /// failed Whisper's checks while the `fallbacks_left` budget lasts (whisper.cpp's temperature
    /// fallback decodes it), and for the windows left when ONNX Runtime fails (logged).
    fn decode_on_onnx(
        &self,
        audio: &[f32],
        windows: &[Option<Compacted>],
        request: &RecognitionRequest,
        language: &mut Option<String>,
        fallbacks_left: usize,
    ) -> Vec<Option<Vec<Segment>>> {
        let mut out = vec![None; windows.len()];
        let Some(onnx) = self.options.onnx.as_ref() else { return out };
        let inputs: Vec<&[f32]> = windows.iter().map(|w| w.as_ref().map_or(audio, |c| c.audio.as_slice())).collect();
        let samples: usize = inputs.iter().map(|i| i.len()).sum();
        let eligible = samples as f64 > ONNX_MIN_SECS * f64::from(RECOGNITION_RATE)
            && request.temperature == 0.0
            && self.options.beam_size <= 1
            && (request.task == Task::Transcribe || self.model.multilingual);
        if !eligible {
            return out;
        }
        let mut deferrable = fallbacks_left;
        for (group, slots) in
            inputs.chunks(onnx_whisper::BATCH_WINDOWS).zip(out.chunks_mut(onnx_whisper::BATCH_WINDOWS))
        {
            if request.is_cancelled() {
                break;
            }
            // Locked per group, so a long job lets other requests' groups in between.
            let result = match onnx.lock() {
                Ok(mut whisper) => {
                    if language.as_deref().is_some_and(|l| !whisper.knows_language(l)) {
                        break;
                    }
                    let options = DecodeOptions {
                        language: language.as_deref(),
                        task: request.task,
                        words: request.word_timestamps,
                        prompt: request.prompt.as_deref(),
                        cancel: request.cancel.as_deref(),
                    };
                    whisper.decode(group, &options)
                }
                Err(_) => Err(ServiceError::internal("the ONNX Runtime Whisper lock is poisoned")),
            };
            let (found, decoded) = match result {
                Ok(ok) => ok,
                Err(err) => {
                    tracing::warn!(%err, "Whisper on ONNX Runtime failed; whisper.cpp decodes the rest");
                    break;
                }
            };
            language.get_or_insert(found);
            for (slot, segments) in slots.iter_mut().zip(decoded) {
                if !request.greedy && Quality::of(&segments).failed() && deferrable > 0 {
                    deferrable -= 1;
                } else {
                    *slot = Some(segments);
                }
            }
        }
        out
    }

    /// Decodes a request's audio as one piece, without the VAD: the caller has found the speech
    /// (a phrase of a live stream).
    pub fn recognize_whole(&mut self, request: &RecognitionRequest) -> Result<Transcript, ServiceError> {
        let audio = request.audio.as_slice();
        let mut segments = Vec::new();
        let (language, _) = self.decode(audio, request, request.language.as_deref(), true, &mut segments)?;
        let duration = audio.len() as f64 / f64::from(RECOGNITION_RATE);
        Ok(Transcript { language: request.language.clone().unwrap_or(language), duration, segments })
    }

    /// Runs whisper.cpp on one stretch of audio, with Whisper's temperature fallback
    /// ([`fallback`]) when `may_fall_back`; returns the language it decoded in and whether it
    /// fell back.
    fn decode(
        &mut self,
        audio: &[f32],
        request: &RecognitionRequest,
        language: Option<&str>,
        may_fall_back: bool,
        out: &mut Vec<Segment>,
    ) -> Result<(String, bool), ServiceError> {
        let mut first = Vec::new();
        let detected = self.decode_once(audio, request, language, request.temperature, &mut first)?;
        // A partial result of a stream is replaced soon: it gets one try. A temperature the
        // client chose is used as it is (OpenAI falls back only from 0).
        let quality = Quality::of(&first);
        if request.greedy || request.temperature > 0.0 || !may_fall_back || !quality.failed() {
            out.append(&mut first);
            return Ok((detected, false));
        }
        tracing::debug!(?quality, seconds = audio.len() as f64 / f64::from(RECOGNITION_RATE), "Whisper falls back");
        // Later tries keep the language found, so they encode only what the clip fills.
        let language = language.unwrap_or(detected.as_str()).to_string();
        let mut best = (quality, first);
        for temperature in FALLBACK_TEMPERATURES {
            if request.is_cancelled() {
                break;
            }
            let mut tried = Vec::new();
            self.decode_once(audio, request, Some(&language), temperature, &mut tried)?;
            let quality = Quality::of(&tried);
            if !quality.failed() {
                out.append(&mut tried);
                return Ok((detected, true));
            }
            if quality.better_than(&best.0) {
                best = (quality, tried);
            }
        }
        out.append(&mut best.1);
        Ok((detected, true))
    }

    /// One whisper.cpp decode at one temperature (its own fallback off).
    fn decode_once(
        &mut self,
        audio: &[f32],
        request: &RecognitionRequest,
        language: Option<&str>,
        temperature: f32,
        out: &mut Vec<Segment>,
    ) -> Result<String, ServiceError> {
        let strategy = if temperature > 0.0 {
            SamplingStrategy::Greedy { best_of: SAMPLED_CANDIDATES }
        } else if self.options.beam_size > 1 && !request.greedy {
            SamplingStrategy::BeamSearch { beam_size: self.options.beam_size as i32, patience: -1.0 }
        } else {
            SamplingStrategy::Greedy { best_of: 1 }
        };
        let mut params = FullParams::new(strategy);
        params.set_n_threads(self.options.threads as i32);
        params.set_translate(request.task == Task::Translate && self.model.multilingual);
        params.set_language(Some(language.unwrap_or(if self.model.multilingual { "auto" } else { "en" })));
        params.set_print_progress(false);
        params.set_print_realtime(false);
        params.set_print_special(false);
        params.set_print_timestamps(false);
        params.set_token_timestamps(request.word_timestamps);
        params.set_suppress_blank(true);
        params.set_suppress_nst(true);
        params.set_temperature(temperature);
        params.set_temperature_inc(0.0);
        params.set_no_context(true);
        if let Some(prompt) = request.prompt.as_deref().filter(|p| !p.trim().is_empty()) {
            params.set_initial_prompt(prompt);
        }
        // Language detection needs the whole window: with less, it picked Vietnamese for German.
        if self.options.adaptive_audio_context && language.is_some() {
            // 50 encoder frames a second; a margin of 64 frames (1.28 s) keeps the clip's end clear,
            // and at least 10 s of context: below that, language detection and non-English
            // decoding degrade visibly (measured on espeak German/Spanish clips).
            let frames =
                ((audio.len() as f64 / f64::from(RECOGNITION_RATE) * 50.0).ceil() as i32 + 64).max(MIN_AUDIO_CONTEXT);
            if frames < FULL_AUDIO_CONTEXT {
                params.set_audio_ctx(frames);
            }
        }
        // No whisper.cpp abort callback: with one set, the next decode on the same state failed
        // ("failed to encode", -6). A cancelled request is dropped when its decode returns.
        // whisper.cpp needs at least one second of audio; pad short clips with silence.
        let min = RECOGNITION_RATE as usize + RECOGNITION_RATE as usize / 10;
        let padded;
        let input = if audio.len() < min {
            padded = {
                let mut p = audio.to_vec();
                p.resize(min, 0.0);
                p
            };
            padded.as_slice()
        } else {
            audio
        };
        let state = if language.is_none() && self.options.adaptive_audio_context {
            if self.detect_state.is_none() {
                let fresh = self.model.context.create_state().map_err(|e| {
                    ServiceError::internal(format!("creating a Whisper state for {}: {e}", self.model.name))
                })?;
                self.detect_state = Some(fresh);
            }
            self.detect_state.as_mut().unwrap_or(&mut self.state)
        } else {
            &mut self.state
        };
        state.full(params, input).map_err(|e| ServiceError::internal(format!("Whisper failed on the audio: {e}")))?;
        let state = &*state;

        let detected = whisper_rs::get_lang_str(state.full_lang_id_from_state()).unwrap_or("en").to_string();
        let eot = self.model.context.token_eot();
        let clip_end = audio.len() as f64 / f64::from(RECOGNITION_RATE);
        for segment in state.as_iter() {
            let text = segment.to_str_lossy().map(|t| t.into_owned()).unwrap_or_default();
            // whisper.cpp times are centiseconds from the start of the decoded audio.
            let start = (segment.start_timestamp() as f64 / 100.0).min(clip_end);
            let end = (segment.end_timestamp() as f64 / 100.0).min(clip_end);
            let mut tokens = Vec::new();
            let mut logprob_sum = 0.0f32;
            let mut words: Vec<Word> = Vec::new();
            for i in 0..segment.n_tokens() {
                let Some(token) = segment.get_token(i) else { continue };
                let id = token.token_id();
                if id >= eot {
                    continue; // timestamps and other special tokens
                }
                let data = token.token_data();
                tokens.push(id);
                logprob_sum += data.plog;
                if request.word_timestamps {
                    let piece = token.to_str_lossy().map(|t| t.into_owned()).unwrap_or_default();
                    let (t0, t1) = (data.t0 as f64 / 100.0, data.t1 as f64 / 100.0);
                    push_word_piece(&mut words, &piece, t0.min(clip_end), t1.min(clip_end), data.p);
                }
            }
            let avg_logprob = if tokens.is_empty() { 0.0 } else { logprob_sum / tokens.len() as f32 };
            out.push(Segment {
                start,
                end: end.max(start),
                text,
                tokens,
                avg_logprob,
                no_speech_prob: segment.no_speech_probability(),
                words,
            });
        }
        Ok(detected)
    }
}

/// Adds a token's text to the word list: a piece that starts with a space (or follows nothing)
/// starts a new word; others continue the last one.
pub(super) fn push_word_piece(words: &mut Vec<Word>, piece: &str, start: f64, end: f64, probability: f32) {
    if piece.is_empty() {
        return;
    }
    let starts_word = piece.starts_with(' ') || words.is_empty();
    if starts_word {
        words.push(Word { word: piece.trim_start().to_string(), start, end: end.max(start), probability });
    } else if let Some(last) = words.last_mut() {
        last.word.push_str(piece);
        last.end = end.max(last.end);
        last.probability = last.probability.min(probability);
    }
    words.retain(|w| !w.word.is_empty());
}

impl BatchModel for WhisperEngine {
    type Input = RecognitionRequest;
    type Output = Transcript;

    fn run(&mut self, batch: Vec<RecognitionRequest>) -> Vec<Result<Transcript, ServiceError>> {
        batch.iter().map(|request| self.recognize(request)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fallback_budget_grows_slower_than_the_audio() {
        assert_eq!(fallback_budget(1), 2);
        assert_eq!(fallback_budget(3), 2);
        // An hour is 120 windows: 17 may fall back, so the worst case costs about 4x a plain decode.
        assert_eq!(fallback_budget(120), 17);
    }

    #[test]
    fn word_pieces_join_into_words() {
        let mut words = Vec::new();
        for (piece, t0, t1) in [(" Hel", 0.0, 0.2), ("lo", 0.2, 0.4), (" world", 0.5, 0.9), (".", 0.9, 1.0)] {
            push_word_piece(&mut words, piece, t0, t1, 0.9);
        }
        let text: Vec<&str> = words.iter().map(|w| w.word.as_str()).collect();
        assert_eq!(text, ["Hello", "world."]);
        assert_eq!((words[0].start, words[0].end), (0.0, 0.4));
    }
}
