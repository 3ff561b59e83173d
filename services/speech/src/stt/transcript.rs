//! What recognition produces, independent of any API shape.

use serde::Serialize;

/// One word with its timing (seconds) and the model's probability for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Word {
    pub word: String,
    pub start: f64,
    pub end: f64,
    pub probability: f32,
}

/// One decoded segment (a phrase, usually a sentence or part of one).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    pub start: f64,
    pub end: f64,
    pub text: String,
    pub tokens: Vec<i32>,
    /// Mean log-probability of the segment's text tokens.
    pub avg_logprob: f32,
    /// Whisper's probability that the window holds no speech.
    pub no_speech_prob: f32,
    pub words: Vec<Word>,
}

/// The result of recognizing one piece of audio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transcript {
    /// Whisper's language code of the speech (`en`, `de`, ...); the requested one when given.
    pub language: String,
    /// Duration of the audio, in seconds.
    pub duration: f64,
    pub segments: Vec<Segment>,
}

impl Transcript {
    /// The whole text, segments joined by single spaces.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for segment in &self.segments {
            let text = segment.text.trim();
            if text.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(text);
        }
        out
    }

    /// True when no speech was recognized.
    pub fn is_empty(&self) -> bool {
        self.segments.iter().all(|s| s.text.trim().is_empty())
    }

    /// Start of the first and end of the last segment, in seconds.
    pub fn speech_span(&self) -> Option<(f64, f64)> {
        let first = self.segments.iter().find(|s| !s.text.trim().is_empty())?;
        let last = self.segments.iter().rev().find(|s| !s.text.trim().is_empty())?;
        Some((first.start, last.end))
    }

    /// A confidence in [0, 1]: the duration-weighted mean token probability.
    pub fn confidence(&self) -> f32 {
        let (mut sum, mut weight) = (0.0f64, 0.0f64);
        for s in &self.segments {
            let w = (s.end - s.start).max(0.01);
            sum += f64::from(s.avg_logprob.exp()) * w;
            weight += w;
        }
        if weight == 0.0 { 0.0 } else { (sum / weight) as f32 }
    }

    /// Every word of every segment.
    pub fn words(&self) -> impl Iterator<Item = &Word> {
        self.segments.iter().flat_map(|s| s.words.iter())
    }
}
