//! Recognition of audio that is still arriving, one step at a time on a Whisper worker.
//!
//! A step gets the audio of a stream that is not final yet (from the end of the last phrase to
//! what has arrived), finds its speech with the VAD, groups the speech into phrases (regions
//! closer than the segmentation silence belong together, up to a longest phrase), decodes every
//! phrase that has ended and, when asked, the phrase still being spoken as a partial result.
//! The caller keeps the audio and its place in the stream ([`crate::live`]); a step only says how
//! much of the front it may drop.

use std::sync::Arc;

use super::transcript::Transcript;
use super::vad::Chunk;
use super::whisper::{RecognitionRequest, Task, WhisperEngine};
use crate::audio::RECOGNITION_RATE;
use cogway_core::{BatchModel, ServiceError};

/// Audio kept at the end of a buffer without speech, for a word that is just starting (the VAD
/// needs 200 ms of speech and pads regions by 200 ms).
const KEEP_WITHOUT_SPEECH_SECS: f32 = 1.0;
/// Speech a phrase needs before its first partial result: on less, Whisper guessed words from a
/// syllable ("Dot." for the start of "Good morning").
const MIN_PARTIAL_SECS: f32 = 0.8;

/// How a stream is recognized.
#[derive(Debug, Clone)]
pub struct StreamSettings {
    /// Whisper language code; `None` detects it per phrase.
    pub language: Option<String>,
    /// Text that biases decoding (phrase lists, a custom model's phrases).
    pub prompt: Option<String>,
    pub task: Task,
    pub word_timestamps: bool,
    /// Silence that ends a phrase (Azure's segmentation silence: 500 ms).
    pub segment_silence_secs: f32,
    /// Longest phrase; longer speech is cut where the VAD cuts it.
    pub max_phrase_secs: f32,
}

impl Default for StreamSettings {
    fn default() -> Self {
        Self {
            language: None,
            prompt: None,
            task: Task::Transcribe,
            word_timestamps: false,
            segment_silence_secs: 0.5,
            max_phrase_secs: 20.0,
        }
    }
}

/// One step: the audio not yet final, and what to do with it.
#[derive(Debug, Clone)]
pub struct StepRequest {
    /// 16 kHz mono, from the end of the last phrase.
    pub audio: Arc<Vec<f32>>,
    /// No more audio will come: every phrase ends.
    pub end_of_stream: bool,
    /// Decode the phrase still being spoken as a partial result.
    pub want_partial: bool,
    pub settings: Arc<StreamSettings>,
}

/// A phrase that has ended: its bounds in the step's audio (samples) and its transcript (times
/// relative to the step's audio).
#[derive(Debug, Clone)]
pub struct StepPhrase {
    pub start: usize,
    pub end: usize,
    pub transcript: Transcript,
}

/// What a step found.
#[derive(Debug, Clone, Default)]
pub struct StepResult {
    pub phrases: Vec<StepPhrase>,
    /// The phrase being spoken: its start (samples) and the text so far.
    pub partial: Option<(usize, String)>,
    /// Where speech goes on at the end of the audio (the start of the open phrase).
    pub open_from: Option<usize>,
    /// Samples at the front of the step's audio that are final and can be dropped.
    pub consumed: usize,
}

/// Groups speech regions into phrases: `closed` have ended, `open` is still being spoken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phrasing {
    pub closed: Vec<Chunk>,
    pub open: Option<Chunk>,
}

/// Joins regions separated by less than `silence` samples into phrases of at most `max_len`
/// samples. A phrase has ended when another follows it, when `silence` samples of the audio
/// (`audio_len` long) follow it, when it is `max_len` long, or at the end of the stream.
pub fn phrasing(regions: &[Chunk], audio_len: usize, end_of_stream: bool, silence: usize, max_len: usize) -> Phrasing {
    let mut groups: Vec<Chunk> = Vec::new();
    for region in regions.iter().filter(|r| !r.is_empty()) {
        match groups.last_mut() {
            Some(last) if region.start.saturating_sub(last.end) < silence && region.end - last.start <= max_len => {
                last.end = last.end.max(region.end);
            }
            _ => groups.push(*region),
        }
    }
    let open = match groups.last() {
        Some(last) if !end_of_stream && audio_len.saturating_sub(last.end) < silence && last.len() < max_len => {
            groups.pop()
        }
        _ => None,
    };
    Phrasing { closed: groups, open }
}

/// Runs one step on an engine (the worker's thread).
pub fn run_step(engine: &mut WhisperEngine, request: &StepRequest) -> Result<StepResult, ServiceError> {
    let audio = request.audio.as_slice();
    let settings = &request.settings;
    let rate = RECOGNITION_RATE as f32;
    let max_len = (settings.max_phrase_secs * rate) as usize;
    let silence = (settings.segment_silence_secs * rate) as usize;
    let regions = match engine.speech_regions(audio, settings.max_phrase_secs)? {
        Some(regions) => regions,
        // Without a VAD model the whole buffer is one phrase, cut at the longest phrase.
        None if audio.is_empty() => Vec::new(),
        None => vec![Chunk { start: 0, end: audio.len().min(max_len) }],
    };
    let phrasing = phrasing(&regions, audio.len(), request.end_of_stream, silence, max_len);

    let mut result = StepResult::default();
    for chunk in &phrasing.closed {
        let transcript = decode(engine, &audio[chunk.start..chunk.end], settings, false)?;
        result.phrases.push(StepPhrase {
            start: chunk.start,
            end: chunk.end,
            transcript: shifted(transcript, chunk.start),
        });
    }
    result.consumed = match (&phrasing.open, phrasing.closed.last()) {
        _ if request.end_of_stream => audio.len(),
        (Some(open), _) => open.start,
        (None, Some(last)) => last.end.max(audio.len().saturating_sub((KEEP_WITHOUT_SPEECH_SECS * rate) as usize)),
        (None, None) => audio.len().saturating_sub((KEEP_WITHOUT_SPEECH_SECS * rate) as usize),
    };
    if let Some(open) = phrasing.open {
        result.open_from = Some(open.start);
        if request.want_partial && audio.len() - open.start >= (MIN_PARTIAL_SECS * rate) as usize {
            let transcript = decode(engine, &audio[open.start..], settings, true)?;
            result.partial = Some((open.start, transcript.text()));
        }
    }
    Ok(result)
}

fn decode(
    engine: &mut WhisperEngine,
    audio: &[f32],
    settings: &StreamSettings,
    partial: bool,
) -> Result<Transcript, ServiceError> {
    let mut request = RecognitionRequest::new(audio.to_vec());
    request.language = settings.language.clone();
    request.prompt = settings.prompt.clone();
    request.task = settings.task;
    request.word_timestamps = settings.word_timestamps && !partial;
    request.greedy = partial;
    engine.recognize_whole(&request)
}

/// Moves a transcript's times `samples` later.
fn shifted(mut transcript: Transcript, samples: usize) -> Transcript {
    let by = samples as f64 / f64::from(RECOGNITION_RATE);
    for segment in &mut transcript.segments {
        segment.start += by;
        segment.end += by;
        for word in &mut segment.words {
            word.start += by;
            word.end += by;
        }
    }
    transcript
}

/// A Whisper engine that runs stream steps (the streaming lane's worker).
pub struct StreamEngine(pub WhisperEngine);

impl BatchModel for StreamEngine {
    type Input = StepRequest;
    type Output = StepResult;

    fn run(&mut self, batch: Vec<StepRequest>) -> Vec<Result<StepResult, ServiceError>> {
        batch.iter().map(|request| run_step(&mut self.0, request)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: usize = 16_000;

    fn chunk(start: f32, end: f32) -> Chunk {
        Chunk { start: (start * S as f32) as usize, end: (end * S as f32) as usize }
    }

    #[test]
    fn a_pause_longer_than_the_silence_ends_a_phrase() {
        let regions = [chunk(0.5, 1.5), chunk(1.7, 2.5), chunk(3.5, 4.0)];
        let p = phrasing(&regions, 4 * S + S / 10, false, S / 2, 20 * S);
        assert_eq!(p.closed, vec![chunk(0.5, 2.5)]);
        assert_eq!(p.open, Some(chunk(3.5, 4.0)));
    }

    #[test]
    fn trailing_silence_or_the_end_of_the_stream_closes_the_last_phrase() {
        let regions = [chunk(0.5, 1.5)];
        assert_eq!(phrasing(&regions, 2 * S + 1, false, S / 2, 20 * S).closed, vec![chunk(0.5, 1.5)]);
        assert_eq!(phrasing(&regions, 3 * S / 2 + 10, false, S / 2, 20 * S).open, Some(chunk(0.5, 1.5)));
        let at_end = phrasing(&regions, 3 * S / 2 + 10, true, S / 2, 20 * S);
        assert_eq!((at_end.closed.len(), at_end.open), (1, None));
    }

    #[test]
    fn phrases_stop_growing_at_the_longest_length() {
        let regions = [chunk(0.0, 6.0), chunk(6.2, 12.0), chunk(12.1, 14.0)];
        let p = phrasing(&regions, 14 * S, false, S / 2, 10 * S);
        assert_eq!(p.closed, vec![chunk(0.0, 6.0)]);
        assert_eq!(p.open, Some(chunk(6.2, 14.0)));
        let p = phrasing(&regions, 14 * S, false, S / 2, 7 * S);
        assert_eq!(p.closed, vec![chunk(0.0, 6.0), chunk(6.2, 12.0)]);
        assert!(phrasing(&[], 5 * S, false, S / 2, 10 * S) == Phrasing::default());
    }
}
