//! When a Whisper decode is not trusted, and which of several tries to keep.
//!
//! Whisper's reference decoder (and faster-whisper) decode at temperature 0 and, when the result
//! looks wrong (a low mean log-probability on audio that is speech, or text that repeats itself),
//! decode again at rising temperatures; if every try fails, they keep the try with the best mean
//! log-probability. whisper.cpp's own fallback keeps the last try, sampled at temperature 1.0,
//! which on hard audio is a confident hallucination ("and you can go to the movies" for a
//! Spanish request for coffee). The engine therefore runs the fallback itself with these checks.

use super::transcript::Segment;

/// Temperatures tried after a failed greedy decode (Whisper's and faster-whisper's).
pub const FALLBACK_TEMPERATURES: [f32; 5] = [0.2, 0.4, 0.6, 0.8, 1.0];
/// Candidates sampled at each fallback temperature, the best kept (faster-whisper's `best_of`).
pub const SAMPLED_CANDIDATES: i32 = 5;
/// A decode whose mean token log-probability is below this failed...
const LOGPROB_THRESHOLD: f32 = -1.0;
/// ...unless Whisper thinks there is no speech at all (then silence is the answer).
const NO_SPEECH_THRESHOLD: f32 = 0.6;
/// Text that deflates to less than 1/2.4 of its size repeats itself: a decoding loop.
const COMPRESSION_RATIO_THRESHOLD: f64 = 2.4;

/// How one decode went, for choosing between tries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    pub mean_logprob: f32,
    pub compression_ratio: f64,
    pub no_speech_prob: f32,
}

impl Quality {
    /// Measures the segments of one decode.
    pub fn of(segments: &[Segment]) -> Self {
        let tokens: usize = segments.iter().map(|s| s.tokens.len()).sum();
        let mean_logprob = if tokens == 0 {
            0.0
        } else {
            segments.iter().map(|s| s.avg_logprob * s.tokens.len() as f32).sum::<f32>() / tokens as f32
        };
        let text: String = segments.iter().map(|s| s.text.as_str()).collect();
        let no_speech_prob = segments.first().map_or(0.0, |s| s.no_speech_prob);
        Self { mean_logprob, compression_ratio: compression_ratio(&text), no_speech_prob }
    }

    /// The decode should be tried again at a higher temperature.
    pub fn failed(&self) -> bool {
        self.compression_ratio > COMPRESSION_RATIO_THRESHOLD
            || (self.mean_logprob < LOGPROB_THRESHOLD && self.no_speech_prob < NO_SPEECH_THRESHOLD)
    }

    /// Whether this try is better than `other` when every try failed: one that does not loop
    /// beats one that does; then the higher mean log-probability wins.
    pub fn better_than(&self, other: &Quality) -> bool {
        let loops = |q: &Quality| q.compression_ratio > COMPRESSION_RATIO_THRESHOLD;
        match (loops(self), loops(other)) {
            (false, true) => true,
            (true, false) => false,
            _ => self.mean_logprob > other.mean_logprob,
        }
    }
}

/// Bytes of `text` over its deflated size (Whisper's gzip ratio; 0 for empty text).
pub fn compression_ratio(text: &str) -> f64 {
    use std::io::Write;
    if text.is_empty() {
        return 0.0;
    }
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let compressed = encoder.write_all(text.as_bytes()).and_then(|()| encoder.finish()).map_or(0, |v| v.len());
    if compressed == 0 { 0.0 } else { text.len() as f64 / compressed as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(text: &str, tokens: usize, avg_logprob: f32, no_speech_prob: f32) -> Segment {
        Segment {
            start: 0.0,
            end: 1.0,
            text: text.into(),
            tokens: vec![1; tokens],
            avg_logprob,
            no_speech_prob,
            words: Vec::new(),
        }
    }

    #[test]
    fn confident_text_passes_and_unsure_speech_fails() {
        let good = Quality::of(&[segment(" Good morning, I would like a coffee.", 10, -0.3, 0.01)]);
        assert!(!good.failed(), "{good:?}");
        let unsure = Quality::of(&[segment(" And you can go to the movies.", 8, -1.4, 0.05)]);
        assert!(unsure.failed(), "{unsure:?}");
        // Unsure text where Whisper hears no speech is silence, not a failure.
        assert!(!Quality::of(&[segment(" you", 1, -1.5, 0.9)]).failed());
    }

    #[test]
    fn repeating_text_fails_and_loses_to_any_try_that_does_not_loop() {
        let looping = " I'll be back in a moment".repeat(8);
        let looped = Quality::of(&[segment(&looping, 60, -0.1, 0.0)]);
        assert!(looped.compression_ratio > 2.4 && looped.failed(), "{looped:?}");
        let unsure = Quality::of(&[segment(" See you at the cafe, please.", 8, -1.2, 0.0)]);
        assert!(unsure.better_than(&looped) && !looped.better_than(&unsure));
        let surer = Quality::of(&[segment(" I would like a cup of coffee.", 8, -1.1, 0.0)]);
        assert!(surer.better_than(&unsure));
    }

    #[test]
    fn the_mean_log_probability_weighs_segments_by_their_tokens() {
        let q = Quality::of(&[segment(" a", 1, -3.0, 0.0), segment(" b", 3, -1.0, 0.0)]);
        assert!((q.mean_logprob - -1.5).abs() < 1e-6);
        assert_eq!(compression_ratio(""), 0.0);
    }
}
