//! Whisper on ONNX Runtime: the windows of a recording encoded one by one and decoded together,
//! greedily, with Whisper's timestamp tokens (faster-whisper's BatchedInferencePipeline idea).
//!
//! The graphs come from `models/convert/whisper_ct2_to_onnx.py` (the model store's
//! `whisper-base-onnx`, the same weights as whisper.cpp's `whisper-base`): an encoder that also
//! computes every decoder layer's cross-attention keys and values, and a decoder that takes and
//! returns its self-attention cache. ONNX Runtime encodes a 30 s window about four times faster
//! than whisper.cpp on the machine of docs/benchmarks.md, which is why the engine hands long audio
//! here. The decoding loop is written here because no crate runs Whisper's decoding on ONNX
//! Runtime; it follows OpenAI's reference decoder at temperature 0 ([`super::decoding_rules`]),
//! reads the language from the first step when it is not given, and decodes a window again from
//! the end of its last complete segment when the model stopped early or the window is longer
//! than 30 s (OpenAI's seek). Word times come from the alignment heads' cross-attention
//! ([`super::word_alignment`]). The engine checks each window's result ([`super::fallback`]) and
//! sends the failed ones to whisper.cpp's temperature fallback.

use std::path::Path;

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde::Deserialize;
use tokenizers::Tokenizer;

use super::decoding_rules::{Specials, choose, softmax_at};
use super::mel::{self, MelSpectrogram};
use super::transcript::{Segment, Word};
use super::whisper::{Task, push_word_piece};
use super::word_alignment::{SAMPLES_PER_FRAME, clamp_sentence_ends, token_times};
use cogway_core::ServiceError;

pub const MODEL_NAME: &str = "whisper-base-onnx";
/// Windows decoded together: a batch shares each step's weight reads. Bounds the
/// cross-attention tensors held at once (about 37 MB per window for whisper-base).
pub const BATCH_WINDOWS: usize = 4;
/// Seconds per timestamp token.
const TIMESTAMP_STEP: f64 = 0.02;
/// A window whose decode stopped this far before its end is decoded again from there.
const MIN_REST_SECS: f64 = 1.0;
/// The most prompt tokens before a window (OpenAI keeps the last n_text_ctx / 2 - 1).
pub const MAX_PROMPT_TOKENS: usize = 223;
/// Rounds of decoding the rest of windows beyond two per 30 s of the longest window.
const EXTRA_ROUNDS: usize = 4;

/// `whisper.json`, written by the converter.
#[derive(Debug, Clone, Deserialize)]
struct Dims {
    n_mels: usize,
    n_audio_ctx: usize,
    n_text_ctx: usize,
    n_vocab: usize,
    n_text_layer: usize,
    n_text_head: usize,
    head_dim: usize,
    /// (layer, head) of the cross-attention heads that follow the speech (for word times).
    alignment_heads: Vec<[usize; 2]>,
}

/// One window's decode: its sampled tokens and what the quality checks need.
#[derive(Debug, Default, Clone)]
struct Decoded {
    tokens: Vec<usize>,
    /// The log-probability of each text token (those below <|endoftext|>) in `tokens`.
    text_logprobs: Vec<f32>,
    sum_logprob: f32,
    no_speech_prob: f32,
    done: bool,
    /// When words were asked for: (start, end) in seconds of each text token (the tokens below
    /// <|endoftext|>, in order).
    times: Vec<(f64, f64)>,
}

/// What [`OnnxWhisper::decode`] does with the windows.
#[derive(Debug, Clone, Copy)]
pub struct DecodeOptions<'a> {
    /// Whisper's language code; `None` detects it on the first window.
    pub language: Option<&'a str>,
    pub task: Task,
    /// Time the words.
    pub words: bool,
    /// Text before each window (phrase lists, custom vocabulary), as Whisper's `initial_prompt`.
    pub prompt: Option<&'a str>,
    /// Checked between rounds of decoding: set, the decode stops with an error.
    pub cancel: Option<&'a std::sync::atomic::AtomicBool>,
}

impl<'a> DecodeOptions<'a> {
    /// Transcription (or translation) in `language`, without words, prompt or cancel flag.
    pub fn new(language: Option<&'a str>, task: Task) -> Self {
        Self { language, task, words: false, prompt: None, cancel: None }
    }
}

/// The loaded encoder and decoder with the tokenizer.
pub struct OnnxWhisper {
    encoder: Session,
    decoder: Session,
    tokenizer: Tokenizer,
    mel: MelSpectrogram,
    dims: Dims,
    specials: Specials,
}

impl std::fmt::Debug for OnnxWhisper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxWhisper").field("dims", &self.dims).finish()
    }
}

fn fail(what: &str, e: &dyn std::fmt::Display) -> ServiceError {
    ServiceError::internal(format!("Whisper on ONNX Runtime: {what}: {e}"))
}

impl OnnxWhisper {
    /// Loads `dir` (encoder.onnx, decoder.onnx, whisper.json, tokenizer.json) with `threads`
    /// intra-op threads per session.
    pub fn load(onnxruntime: &Path, dir: &Path, threads: usize) -> Result<Self, ServiceError> {
        let json = std::fs::read_to_string(dir.join("whisper.json")).map_err(|e| fail("whisper.json", &e))?;
        let dims: Dims = serde_json::from_str(&json).map_err(|e| fail("whisper.json", &e))?;
        let tokenizer = Tokenizer::from_file(dir.join("tokenizer.json")).map_err(|e| fail("tokenizer.json", &e))?;
        let id = |token: &str| {
            tokenizer
                .token_to_id(token)
                .map(|id| id as usize)
                .ok_or_else(|| fail("tokenizer.json", &format!("no {token}")))
        };
        let start = id("<|startoftranscript|>")?;
        let translate = id("<|translate|>")?;
        // The language tokens sit between <|startoftranscript|> and <|translate|>.
        let languages = (start + 1..translate)
            .filter_map(|i| {
                let token = tokenizer.id_to_token(i as u32)?;
                let code = token.strip_prefix("<|")?.strip_suffix("|>")?.to_string();
                Some((i, code))
            })
            .collect();
        let specials = Specials {
            end_of_text: id("<|endoftext|>")?,
            start,
            previous: id("<|startofprev|>")?,
            translate,
            transcribe: id("<|transcribe|>")?,
            no_speech: id("<|nospeech|>").or_else(|_| id("<|nocaptions|>"))?,
            // Timestamp tokens follow <|notimestamps|> (not every tokenizer.json lists them).
            first_timestamp: id("<|notimestamps|>")? + 1,
            languages,
        };
        if specials.first_timestamp + 1500 >= dims.n_vocab || dims.n_text_ctx < 8 {
            return Err(fail("whisper.json", &"the vocabulary has no room for 1,501 timestamp tokens"));
        }
        let encoder = cogway_core::onnx::session(onnxruntime, &dir.join("encoder.onnx"), threads)?;
        let decoder = cogway_core::onnx::session(onnxruntime, &dir.join("decoder.onnx"), threads)?;
        let mel = MelSpectrogram::new(dims.n_mels);
        Ok(Self { encoder, decoder, tokenizer, mel, dims, specials })
    }

    /// Whether the model knows `language` (a Whisper code).
    pub fn knows_language(&self, language: &str) -> bool {
        self.specials.languages.iter().any(|(_, code)| code == language)
    }

    /// Decodes windows in `language`, or in the language detected on the first window when
    /// `None`. A window longer than 30 s is decoded 30 s at a time, each next piece starting
    /// where the previous one's last complete segment ended (OpenAI's seek). Returns that
    /// language and each window's segments, times from the window's start, each segment
    /// carrying its window's mean token log-probability and no-speech probability. With
    /// `words`, segments carry their words, timed by aligning the text with the audio
    /// ([`Self::align`]). A `prompt` (phrase lists, custom vocabulary) is the text before each
    /// window, as Whisper's `initial_prompt`: its last [`MAX_PROMPT_TOKENS`] tokens after
    /// <|startofprev|>.
    pub fn decode(
        &mut self,
        windows: &[&[f32]],
        options: &DecodeOptions<'_>,
    ) -> Result<(String, Vec<Vec<Segment>>), ServiceError> {
        let DecodeOptions { language, task, words, prompt, cancel } = *options;
        let prompt = self.prompt_tokens(prompt)?;
        let mut language = language.map(str::to_string);
        let mut out: Vec<Vec<Segment>> = vec![Vec::new(); windows.len()];
        // (window index, offset in samples) still to decode.
        let mut pending: Vec<(usize, usize)> = (0..windows.len()).map(|i| (i, 0)).collect();
        let longest = windows.iter().map(|w| w.len()).max().unwrap_or(0);
        let rounds = 2 * longest.div_ceil(mel::WINDOW_SAMPLES) + EXTRA_ROUNDS;
        for _round in 0..rounds {
            if cancel.is_some_and(|c| c.load(std::sync::atomic::Ordering::Relaxed)) {
                return Err(ServiceError::new(cogway_core::Code::Conflict, "The recognition was cancelled."));
            }
            let mut next = Vec::new();
            for group in pending.chunks(BATCH_WINDOWS) {
                let audio: Vec<&[f32]> =
                    group.iter().map(|&(i, from)| &windows[i][from.min(windows[i].len())..]).collect();
                let (found, decoded) = self.decode_group(&audio, language.as_deref(), task, words, &prompt)?;
                language.get_or_insert(found);
                for (&(i, from), result) in group.iter().zip(decoded) {
                    let offset = from as f64 / mel::SAMPLE_RATE as f64;
                    let left = windows[i].len().saturating_sub(from);
                    let secs = audio_secs(left.min(mel::WINDOW_SAMPLES));
                    let (mut segments, rest) = self.segments(&result, secs, left > mel::WINDOW_SAMPLES)?;
                    clamp_sentence_ends(&mut segments);
                    for segment in &mut segments {
                        segment.start += offset;
                        segment.end += offset;
                        for word in &mut segment.words {
                            word.start += offset;
                            word.end += offset;
                        }
                    }
                    out[i].append(&mut segments);
                    if let Some(rest) = rest.filter(|r| audio_secs(left) - r >= MIN_REST_SECS) {
                        next.push((i, from + (rest * mel::SAMPLE_RATE as f64) as usize));
                    }
                }
            }
            if next.is_empty() {
                break;
            }
            pending = next;
        }
        Ok((language.unwrap_or_else(|| "en".into()), out))
    }

    /// Encodes and decodes at most [`BATCH_WINDOWS`] windows together.
    fn decode_group(
        &mut self,
        windows: &[&[f32]],
        language: Option<&str>,
        task: Task,
        words: bool,
        prompt: &[usize],
    ) -> Result<(String, Vec<Decoded>), ServiceError> {
        let n = windows.len();
        let cross = self.encode(windows)?;
        let d = self.dims.clone();
        let mut past = self.empty_cache(n)?;
        let mut position = 0;
        if !prompt.is_empty() {
            let one: Vec<i64> =
                std::iter::once(self.specials.previous).chain(prompt.iter().copied()).map(|t| t as i64).collect();
            let tokens: Vec<i64> = (0..n).flat_map(|_| one.iter().copied()).collect();
            self.step(&tokens, one.len(), 0, &cross, &mut past)?;
            position = one.len();
        }
        // <|startoftranscript|> alone gives the language and no-speech odds.
        let logits = self.step(&vec![self.specials.start as i64; n], 1, position, &cross, &mut past)?;
        position += 1;
        let language = match language {
            Some(known) => known.to_string(),
            None => self.detect(&logits[..d.n_vocab]),
        };
        let language_id = self
            .specials
            .languages
            .iter()
            .find(|(_, code)| *code == language)
            .map(|(id, _)| *id)
            .ok_or_else(|| ServiceError::invalid(format!("Whisper does not know the language '{language}'.")))?;
        let mut decoded: Vec<Decoded> = (0..n)
            .map(|b| Decoded {
                no_speech_prob: softmax_at(&logits[b * d.n_vocab..(b + 1) * d.n_vocab], self.specials.no_speech),
                ..Decoded::default()
            })
            .collect();
        let task_id = if task == Task::Translate { self.specials.translate } else { self.specials.transcribe };
        let mut tokens: Vec<i64> = (0..n).flat_map(|_| [language_id as i64, task_id as i64]).collect();
        let mut length = 2;
        // OpenAI's sample_len: half the text context.
        let max_sampled = d.n_text_ctx / 2;
        for _ in 0..max_sampled {
            let mut logits = self.step(&tokens, length, position, &cross, &mut past)?;
            position += length;
            length = 1;
            tokens.clear();
            for (b, row) in logits.chunks_mut(self.dims.n_vocab).enumerate() {
                let state = &mut decoded[b];
                if state.done {
                    tokens.push(self.specials.end_of_text as i64);
                    continue;
                }
                let (token, logprob) = choose(&self.specials, row, &state.tokens);
                state.tokens.push(token);
                if token < self.specials.end_of_text {
                    state.text_logprobs.push(logprob);
                }
                state.sum_logprob += logprob;
                state.done = token == self.specials.end_of_text;
                tokens.push(token as i64);
            }
            if decoded.iter().all(|s| s.done) || position + 1 >= self.dims.n_text_ctx {
                break;
            }
        }
        if words {
            let frames: Vec<usize> =
                windows.iter().map(|w| w.len().min(mel::WINDOW_SAMPLES) / SAMPLES_PER_FRAME).collect();
            self.align(&mut decoded, &cross, [language_id, task_id], &frames)?;
        }
        Ok((language, decoded))
    }

    /// Times each text token of each window by OpenAI's alignment: the decoder is run once more
    /// over the whole text (after <|notimestamps|>), the cross-attention weights of the
    /// alignment heads over the window's `frames` (encoder frames of its audio) are normalised
    /// per head and frame across the tokens, median-filtered along time, averaged over the heads,
    /// and dynamic time warping finds the monotonic path through them; a token starts where the
    /// path reaches its row.
    fn align(
        &mut self,
        decoded: &mut [Decoded],
        cross: &[Tensor<f32>],
        [language_id, task_id]: [usize; 2],
        frames: &[usize],
    ) -> Result<(), ServiceError> {
        let s = &self.specials;
        let texts: Vec<Vec<usize>> =
            decoded.iter().map(|d| d.tokens.iter().copied().filter(|&t| t < s.end_of_text).collect()).collect();
        let longest = texts.iter().map(Vec::len).max().unwrap_or(0);
        if longest == 0 {
            return Ok(());
        }
        let prefix = [s.start, language_id, task_id, s.first_timestamp - 1];
        let length = prefix.len() + longest + 1;
        if length > self.dims.n_text_ctx {
            return Err(fail("alignment", &format!("{length} tokens exceed the text context")));
        }
        let mut tokens = Vec::with_capacity(decoded.len() * length);
        for text in &texts {
            tokens.extend(prefix.iter().chain(text).map(|&t| t as i64));
            tokens.resize(tokens.len() + length - prefix.len() - text.len(), s.end_of_text as i64);
        }
        let mut past = self.empty_cache(decoded.len())?;
        let (_, weights) = self.run_decoder(&tokens, length, 0, cross, &mut past, true)?;
        let weights = weights.ok_or_else(|| fail("alignment", &"no weights"))?;
        let heads = self.dims.alignment_heads.len();
        let ctx = self.dims.n_audio_ctx;
        for (b, (state, text)) in decoded.iter_mut().zip(&texts).enumerate() {
            // Rows from <|notimestamps|>'s position: each predicts the next text token, the last
            // <|endoftext|>.
            let row = |a: usize, r: usize| {
                let at = ((b * heads + a) * length + prefix.len() - 1 + r) * ctx;
                &weights[at..at + ctx]
            };
            state.times = token_times(heads, text.len(), frames[b].clamp(1, ctx), row);
        }
        Ok(())
    }

    /// The cross-attention keys and values of `windows`, batched: one tensor per decoder
    /// layer and kind. Encoded one window at a time: the encoder's attention scores of a
    /// window are 72 MB, and a batch would hold them all at once.
    fn encode(&mut self, windows: &[&[f32]]) -> Result<Vec<Tensor<f32>>, ServiceError> {
        let d = &self.dims;
        let per_window = d.n_text_head * d.head_dim * d.n_audio_ctx;
        let mut joined: Vec<Vec<f32>> = vec![Vec::with_capacity(per_window * windows.len()); 2 * d.n_text_layer];
        let mut features = Vec::with_capacity(d.n_mels * mel::FRAMES);
        for window in windows {
            features.clear();
            self.mel.window_into(window, &mut features);
            let input = Tensor::from_array(([1, d.n_mels, mel::FRAMES], std::mem::take(&mut features)))
                .map_err(|e| fail("features", &e))?;
            let outputs = self.encoder.run(ort::inputs!["mel" => input]).map_err(|e| fail("encoder", &e))?;
            for (i, joined) in joined.iter_mut().enumerate() {
                let name = kv_name("cross", i);
                let value = outputs.get(&name).ok_or_else(|| fail("encoder", &format!("no output {name}")))?;
                let (_, data) = value.try_extract_tensor::<f32>().map_err(|e| fail("encoder", &e))?;
                if data.len() != per_window {
                    return Err(fail("encoder", &format!("{name} holds {} values", data.len())));
                }
                joined.extend_from_slice(data);
            }
        }
        let n = windows.len();
        joined
            .into_iter()
            .enumerate()
            .map(|(i, data)| {
                let shape = if i % 2 == 0 {
                    [n, d.n_text_head, d.head_dim, d.n_audio_ctx]
                } else {
                    [n, d.n_text_head, d.n_audio_ctx, d.head_dim]
                };
                Tensor::from_array((shape, data)).map_err(|e| fail("encoder", &e))
            })
            .collect()
    }

    /// One decoder call on `length` new tokens per window at `position`; returns the logits of
    /// each window's last token ([N, n_vocab], row-major) and moves the cache forward.
    fn step(
        &mut self,
        tokens: &[i64],
        length: usize,
        position: usize,
        cross: &[Tensor<f32>],
        past: &mut Vec<DynValue>,
    ) -> Result<Vec<f32>, ServiceError> {
        Ok(self.run_decoder(tokens, length, position, cross, past, false)?.0)
    }

    /// [`Self::step`], also returning the alignment heads' cross-attention weights
    /// ([N, heads, length, n_audio_ctx], row-major) when `alignment`.
    fn run_decoder(
        &mut self,
        tokens: &[i64],
        length: usize,
        position: usize,
        cross: &[Tensor<f32>],
        past: &mut Vec<DynValue>,
        alignment: bool,
    ) -> Result<(Vec<f32>, Option<Vec<f32>>), ServiceError> {
        let n = tokens.len() / length;
        let total = position + length;
        // Causal mask: token j of this call sees every cached position and itself.
        let mask: Vec<f32> = (0..length)
            .flat_map(|j| (0..total).map(move |k| if k <= position + j { 0.0 } else { f32::NEG_INFINITY }))
            .collect();
        let positions: Vec<i64> = (position..total).map(|p| p as i64).collect();
        let mut inputs: Vec<(String, SessionInputValue<'_>)> = Vec::with_capacity(3 + 4 * self.dims.n_text_layer);
        let tensor = |e: ort::Error| fail("decoder input", &e);
        inputs.push(("tokens".into(), Tensor::from_array(([n, length], tokens.to_vec())).map_err(tensor)?.into()));
        inputs.push(("positions".into(), Tensor::from_array(([length], positions)).map_err(tensor)?.into()));
        inputs.push(("mask".into(), Tensor::from_array(([length, total], mask)).map_err(tensor)?.into()));
        for (i, value) in std::mem::take(past).into_iter().enumerate() {
            inputs.push((kv_name("past", i), value.into()));
        }
        for (i, value) in cross.iter().enumerate() {
            inputs.push((kv_name("cross", i), value.into()));
        }
        let mut outputs = self.decoder.run(inputs).map_err(|e| fail("decoder", &e))?;
        for i in 0..2 * self.dims.n_text_layer {
            let name = kv_name("present", i);
            past.push(outputs.remove(&name).ok_or_else(|| fail("decoder", &format!("no output {name}")))?);
        }
        let logits = outputs.get("logits").ok_or_else(|| fail("decoder", &"no logits"))?;
        let (_, data) = logits.try_extract_tensor::<f32>().map_err(|e| fail("decoder", &e))?;
        if data.len() != n * self.dims.n_vocab {
            return Err(fail("decoder", &format!("{} logits for {n} windows", data.len())));
        }
        let weights = if alignment {
            let value = outputs.get("alignment").ok_or_else(|| fail("decoder", &"no alignment output"))?;
            let (_, weights) = value.try_extract_tensor::<f32>().map_err(|e| fail("decoder", &e))?;
            let expected = n * self.dims.alignment_heads.len() * length * self.dims.n_audio_ctx;
            if weights.len() != expected {
                return Err(fail("decoder", &format!("{} alignment weights, expected {expected}", weights.len())));
            }
            Some(weights.to_vec())
        } else {
            None
        };
        Ok((data.to_vec(), weights))
    }

    /// The tokens of `prompt` (with a leading space, as Whisper's `initial_prompt`), its last
    /// [`MAX_PROMPT_TOKENS`].
    fn prompt_tokens(&self, prompt: Option<&str>) -> Result<Vec<usize>, ServiceError> {
        let Some(text) = prompt.map(str::trim).filter(|p| !p.is_empty()) else { return Ok(Vec::new()) };
        let encoding = self.tokenizer.encode(format!(" {text}"), false).map_err(|e| fail("prompt", &e))?;
        let ids = encoding.get_ids();
        let keep = ids.len().min(MAX_PROMPT_TOKENS).min(self.dims.n_text_ctx / 2 - 1);
        Ok(ids[ids.len() - keep..].iter().map(|&id| id as usize).collect())
    }

    /// An empty self-attention cache for `n` windows: one tensor per layer and kind.
    fn empty_cache(&self, n: usize) -> Result<Vec<DynValue>, ServiceError> {
        let d = &self.dims;
        (0..2 * d.n_text_layer)
            .map(|_| {
                Tensor::<f32>::from_array(([n, d.n_text_head, 0, d.head_dim], Vec::<f32>::new()))
                    .map(|t| t.into_dyn())
                    .map_err(|e| fail("cache", &e))
            })
            .collect()
    }

    /// The most likely language token after <|startoftranscript|>.
    fn detect(&self, logits: &[f32]) -> String {
        self.specials
            .languages
            .iter()
            .filter(|(id, _)| *id < logits.len())
            .max_by(|a, b| logits[a.0].total_cmp(&logits[b.0]))
            .map_or_else(|| "en".to_string(), |(_, code)| code.clone())
    }

    /// Splits a window's tokens into segments at the timestamp tokens and says where decoding
    /// must go on (seconds from the window's start, `None` when the window is done). `secs` is
    /// the audio the decode saw (at most 30 s); `more` says the window goes on after it.
    fn segments(&self, decoded: &Decoded, secs: f64, more: bool) -> Result<(Vec<Segment>, Option<f64>), ServiceError> {
        let s = &self.specials;
        let n = decoded.tokens.len() as f32;
        let avg_logprob = if n > 0.0 { decoded.sum_logprob / n } else { 0.0 };
        let time = |t: usize| ((t - s.first_timestamp) as f64 * TIMESTAMP_STEP).min(secs);
        let mut segments = Vec::new();
        let mut text: Vec<u32> = Vec::new();
        // Index of the segment's first text token among the window's text tokens.
        let mut first = 0;
        let mut start: Option<f64> = None;
        let mut last_closed: Option<f64> = None;
        let content: Vec<usize> = decoded.tokens.iter().copied().filter(|&t| t != s.end_of_text).collect();
        for &token in &content {
            if token >= s.first_timestamp {
                let at = time(token);
                match start {
                    Some(from) if !text.is_empty() => {
                        let words = self.words(decoded, first, &text);
                        first += text.len();
                        segments.push(self.segment(from, at, &mut text, avg_logprob, decoded.no_speech_prob, words)?);
                        last_closed = Some(at);
                        start = None;
                    }
                    _ => start = Some(at),
                }
            } else if token < s.end_of_text {
                text.push(token as u32);
            }
        }
        if !text.is_empty() {
            let from = start.or(last_closed).unwrap_or(0.0);
            if more && from > 0.0 {
                // Text cut by the end of the 30 s: decoded again with what follows.
                return Ok((segments, Some(from)));
            }
            let words = self.words(decoded, first, &text);
            segments.push(self.segment(from, secs, &mut text, avg_logprob, decoded.no_speech_prob, words)?);
            return Ok((segments, more.then_some(secs)));
        }
        // Ending on a pair (<|a|><|b|> then the end): the model saw no more speech up to b but
        // did not claim the rest of the window: decode again from there. Ending on a single
        // closing timestamp means the 30 s were used up.
        let paired_end = content.len() >= 2 && content[content.len() - 2..].iter().all(|&t| t >= s.first_timestamp);
        let rest = if paired_end && decoded.done { last_closed.filter(|&at| at > 0.0) } else { None };
        Ok((segments, rest.or(more.then_some(secs))))
    }

    fn segment(
        &self,
        start: f64,
        end: f64,
        text: &mut Vec<u32>,
        avg_logprob: f32,
        no_speech_prob: f32,
        words: Vec<Word>,
    ) -> Result<Segment, ServiceError> {
        let decoded = self.tokenizer.decode(text, true).map_err(|e| fail("detokenizing", &e))?;
        let tokens = text.drain(..).map(|id| id as i32).collect();
        Ok(Segment { start, end: end.max(start), text: decoded, tokens, avg_logprob, no_speech_prob, words })
    }

    /// The words of a segment whose text tokens are `text`, the window's text tokens from
    /// `first` on, timed by [`Self::align`] (none when the window was not aligned). Tokens are
    /// joined until they decode to whole characters (a character can span byte-level tokens);
    /// a piece starting with a space starts a word, as on the whisper.cpp path.
    fn words(&self, decoded: &Decoded, first: usize, text: &[u32]) -> Vec<Word> {
        let Some(times) = decoded.times.get(first..first + text.len()) else { return Vec::new() };
        let probabilities: Vec<f32> = decoded
            .text_logprobs
            .get(first..first + text.len())
            .map_or_else(|| vec![1.0; text.len()], |l| l.iter().map(|p| p.exp()).collect());
        let mut words = Vec::new();
        let mut from = 0;
        for to in 1..=text.len() {
            let piece = self.tokenizer.decode(&text[from..to], false).unwrap_or_default();
            if piece.contains('\u{FFFD}') && to < text.len() && to - from < 4 {
                continue; // a character continues in the next token
            }
            let probability = probabilities[from..to].iter().copied().fold(1.0, f32::min);
            push_word_piece(&mut words, &piece, times[from].0, times[to - 1].1, probability);
            from = to;
        }
        words
    }
}

/// The graphs' name of the `i`-th key/value tensor of a kind (`cross`, `past`, `present`): keys
/// and values alternate, layer by layer (`cross_k0`, `cross_v0`, `cross_k1`, ...).
fn kv_name(kind: &str, i: usize) -> String {
    format!("{kind}_{}{}", if i.is_multiple_of(2) { 'k' } else { 'v' }, i / 2)
}

fn audio_secs(samples: usize) -> f64 {
    samples as f64 / mel::SAMPLE_RATE as f64
}
