//! Live recognition: the state of one stream of audio between its steps.
//!
//! A session pushes audio as it arrives ([`LiveRecognizer::push`]), asks for the next step when
//! it is free ([`LiveRecognizer::next_step`]), sends it to the streaming worker
//! ([`crate::SpeechService::stream_step`]) while it goes on receiving audio, and turns the
//! answer into events ([`LiveRecognizer::apply`]). Only the audio that is not final yet is kept:
//! phrases that ended are dropped from the front, and silence is dropped as it is found.

use std::sync::Arc;

use crate::audio::RECOGNITION_RATE;
use crate::stt::Transcript;
use crate::stt::stream::{StepRequest, StepResult, StreamSettings};

/// What happened in the stream; times in seconds from its start.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// Speech began (once per phrase).
    SpeechStarted { at: f64 },
    /// The text of the phrase being spoken, so far.
    Partial { start: f64, end: f64, text: String },
    /// A phrase ended; the transcript's times are from the start of the stream.
    Phrase { start: f64, end: f64, transcript: Transcript },
    /// The speech of the last phrase ended and no new phrase has started.
    SpeechEnded { at: f64 },
}

/// A step sent to the worker, and what the recognizer must remember to read its answer.
#[derive(Debug)]
pub struct PendingStep {
    pub request: StepRequest,
    /// Samples in the step (the buffer may grow while it runs).
    len: usize,
}

/// The audio of one live stream that is not final yet, and where it is in the stream.
#[derive(Debug)]
pub struct LiveRecognizer {
    settings: Arc<StreamSettings>,
    /// 16 kHz mono, from sample `base` of the stream.
    buffer: Vec<f32>,
    base: u64,
    /// The buffer length at the last step (new audio since then asks for another step).
    stepped_len: usize,
    /// Stream position (samples) of the audio the last partial result covered.
    partial_mark: u64,
    partial_every: usize,
    in_speech: bool,
    last_partial: String,
}

impl LiveRecognizer {
    /// `partial_every_secs`: new audio between two partial results (0 turns them off).
    pub fn new(settings: StreamSettings, partial_every_secs: f32) -> Self {
        Self {
            settings: Arc::new(settings),
            buffer: Vec::new(),
            base: 0,
            stepped_len: 0,
            partial_mark: 0,
            partial_every: (partial_every_secs.max(0.0) * RECOGNITION_RATE as f32) as usize,
            in_speech: false,
            last_partial: String::new(),
        }
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    pub fn partial_every_secs(&self) -> f32 {
        self.partial_every as f32 / RECOGNITION_RATE as f32
    }

    /// Changes how the next steps recognize (a client's session update); the audio held stays.
    pub fn set_settings(&mut self, settings: StreamSettings, partial_every_secs: f32) {
        self.settings = Arc::new(settings);
        self.partial_every = (partial_every_secs.max(0.0) * RECOGNITION_RATE as f32) as usize;
    }

    /// Adds 16 kHz mono audio.
    pub fn push(&mut self, samples: &[f32]) {
        self.buffer.extend_from_slice(samples);
    }

    /// Seconds of audio held (not final yet).
    pub fn buffered_secs(&self) -> f64 {
        self.buffer.len() as f64 / f64::from(RECOGNITION_RATE)
    }

    /// Seconds of audio received since the stream began.
    pub fn received_secs(&self) -> f64 {
        self.end() as f64 / f64::from(RECOGNITION_RATE)
    }

    fn end(&self) -> u64 {
        self.base + self.buffer.len() as u64
    }

    /// Drops the audio held and any phrase in progress (OpenAI's `input_audio_buffer.clear`).
    pub fn clear(&mut self) {
        self.base = self.end();
        self.buffer.clear();
        self.stepped_len = 0;
        self.partial_mark = self.base;
        self.in_speech = false;
        self.last_partial.clear();
    }

    /// The next step, when there is something to do: audio that came since the last step, or
    /// the end of the stream (which closes every phrase).
    pub fn next_step(&mut self, end_of_stream: bool) -> Option<PendingStep> {
        if !end_of_stream && self.buffer.len() == self.stepped_len {
            return None;
        }
        if end_of_stream && self.buffer.is_empty() {
            return None;
        }
        let want_partial =
            self.partial_every > 0 && self.end().saturating_sub(self.partial_mark) >= self.partial_every as u64;
        self.stepped_len = self.buffer.len();
        let request = StepRequest {
            audio: Arc::new(self.buffer.clone()),
            end_of_stream,
            want_partial,
            settings: self.settings.clone(),
        };
        Some(PendingStep { request, len: self.buffer.len() })
    }

    /// Reads a step's answer: drops the final audio and returns what happened, in order.
    pub fn apply(&mut self, step: &PendingStep, result: StepResult) -> Vec<LiveEvent> {
        let rate = f64::from(RECOGNITION_RATE);
        let at = |samples: usize, base: u64| (base + samples as u64) as f64 / rate;
        let base = self.base;
        let mut events = Vec::new();
        let phrases_ended = !result.phrases.is_empty();
        for phrase in result.phrases {
            if !self.in_speech {
                events.push(LiveEvent::SpeechStarted { at: at(phrase.start, base) });
            }
            self.in_speech = false;
            let transcript = shifted(phrase.transcript, base as f64 / rate);
            // The phrase's bounds are the VAD's; Whisper's segments place the words more closely.
            let (start, end) = transcript.speech_span().unwrap_or((at(phrase.start, base), at(phrase.end, base)));
            if !transcript.is_empty() {
                events.push(LiveEvent::Phrase { start, end, transcript });
            }
            events.push(LiveEvent::SpeechEnded { at: at(phrase.end, base) });
        }
        if let Some(open) = result.open_from {
            if !self.in_speech {
                events.push(LiveEvent::SpeechStarted { at: at(open, base) });
                self.in_speech = true;
            }
            // The pending `SpeechEnded` of a phrase just closed would come before this start.
            if let Some((start, text)) = result.partial {
                self.partial_mark = base + step.len as u64;
                let text = text.trim().to_string();
                if !text.is_empty() && text != self.last_partial {
                    events.push(LiveEvent::Partial {
                        start: at(start, base),
                        end: at(step.len, base),
                        text: text.clone(),
                    });
                    self.last_partial = text;
                }
            }
        } else {
            self.last_partial.clear();
        }
        let consumed = result.consumed.min(step.len).min(self.buffer.len());
        self.buffer.drain(..consumed);
        self.base += consumed as u64;
        self.stepped_len = self.stepped_len.saturating_sub(consumed);
        if phrases_ended {
            // A new phrase starts its partial results afresh.
            self.partial_mark = self.partial_mark.max(self.base);
        }
        events
    }
}

fn shifted(mut transcript: Transcript, by: f64) -> Transcript {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stt::Segment;
    use crate::stt::stream::StepPhrase;

    fn transcript(text: &str, start: f64, end: f64) -> Transcript {
        Transcript {
            language: "en".into(),
            duration: end,
            segments: vec![Segment {
                start,
                end,
                text: text.into(),
                tokens: vec![],
                avg_logprob: 0.0,
                no_speech_prob: 0.0,
                words: vec![],
            }],
        }
    }

    #[test]
    fn phrases_and_partials_carry_stream_times_and_final_audio_is_dropped() {
        let mut live = LiveRecognizer::new(StreamSettings::default(), 0.5);
        live.push(&vec![0.0; 32_000]);
        let step = live.next_step(false).expect("new audio makes a step");
        assert!(step.request.want_partial);
        assert!(live.next_step(false).is_none(), "no new audio, no step");
        let result = StepResult {
            phrases: vec![],
            partial: Some((8_000, "hello".into())),
            open_from: Some(8_000),
            consumed: 8_000,
        };
        let events = live.apply(&step, result);
        assert_eq!(events[0], LiveEvent::SpeechStarted { at: 0.5 });
        assert_eq!(events[1], LiveEvent::Partial { start: 0.5, end: 2.0, text: "hello".into() });
        assert!((live.buffered_secs() - 1.5).abs() < 1e-9);

        live.push(&vec![0.0; 16_000]);
        let step = live.next_step(false).expect("step");
        let result = StepResult {
            phrases: vec![StepPhrase { start: 0, end: 24_000, transcript: transcript("Hello world.", 0.1, 1.4) }],
            partial: None,
            open_from: None,
            consumed: 24_000,
        };
        let events = live.apply(&step, result);
        match &events[0] {
            LiveEvent::Phrase { start, end, transcript } => {
                assert!((start - 0.6).abs() < 1e-9 && (end - 1.9).abs() < 1e-9, "{start} {end}");
                assert_eq!(transcript.text(), "Hello world.");
            }
            other => panic!("expected a phrase, got {other:?}"),
        }
        assert_eq!(events[1], LiveEvent::SpeechEnded { at: 2.0 });
        assert!((live.received_secs() - 3.0).abs() < 1e-9);
        assert!((live.buffered_secs() - 1.0).abs() < 1e-9);
        assert!(live.next_step(true).is_some(), "the end of the stream closes what is left");
    }
}
