//! Where each word falls in synthesized speech, estimated.
//!
//! Neither voice reports timings: Piper's exported models give audio only, and eSpeak NG is run
//! as a program. The estimate spreads the voiced part of a sentence's audio (from its first to
//! its last audible sample) over its words in proportion to their letters, with a little extra
//! room after punctuation, where the voices pause. It is enough to highlight the word being
//! spoken (the Speech SDK's word boundary events); it is not an alignment.

/// A word of the spoken text and its estimated place in the audio, in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct WordTime {
    pub text: String,
    pub start: f64,
    pub duration: f64,
}

/// Samples quieter than this (1 % of full scale) are silence.
const SILENCE: i16 = 328;
/// Room after a word that ends a clause or a sentence, in letters.
const CLAUSE_PAUSE: f64 = 2.0;
const SENTENCE_PAUSE: f64 = 4.0;

/// Where the audible part of 16-bit little-endian mono PCM lies, in seconds; `None` when all of
/// it is silent.
pub fn voiced_span(pcm: &[u8], rate: u32) -> Option<(f64, f64)> {
    let loud = |c: &[u8]| i16::from_le_bytes([c[0], c[1]]).unsigned_abs() > SILENCE.unsigned_abs();
    let samples = pcm.chunks_exact(2);
    let first = samples.clone().position(loud)?;
    let last = samples.len() - 1 - samples.rev().position(loud)?;
    let rate = f64::from(rate.max(1));
    Some((first as f64 / rate, (last + 1) as f64 / rate))
}

/// Spreads `span` (seconds) over the words of `text`.
pub fn estimate(text: &str, span: (f64, f64)) -> Vec<WordTime> {
    // (word, its letters, the pause after it, in letters)
    let mut words: Vec<(&str, f64, f64)> = text
        .split_whitespace()
        .filter_map(|token| {
            let word = token.trim_matches(|c: char| !c.is_alphanumeric());
            if word.is_empty() {
                return None;
            }
            let letters = word.chars().filter(|c| c.is_alphanumeric()).count() as f64;
            let pause = match token.chars().last() {
                Some('.' | '!' | '?') => SENTENCE_PAUSE,
                Some(',' | ';' | ':') => CLAUSE_PAUSE,
                _ => 0.0,
            };
            Some((word, letters, pause))
        })
        .collect();
    // The last word's pause is after the voiced span, not inside it.
    if let Some(last) = words.last_mut() {
        last.2 = 0.0;
    }
    let total: f64 = words.iter().map(|(_, letters, pause)| letters + pause).sum();
    let scale = if total > 0.0 { (span.1 - span.0).max(0.0) / total } else { 0.0 };
    let mut at = span.0;
    let mut out = Vec::with_capacity(words.len());
    for (word, letters, pause) in words {
        out.push(WordTime { text: word.to_string(), start: at, duration: letters * scale });
        at += (letters + pause) * scale;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_voiced_span_skips_leading_and_trailing_silence() {
        let mut pcm = vec![0u8; 2 * 100];
        pcm.extend(std::iter::repeat_n(10_000i16.to_le_bytes(), 50).flatten());
        pcm.extend(vec![0u8; 2 * 50]);
        assert_eq!(voiced_span(&pcm, 100), Some((1.0, 1.5)));
        assert_eq!(voiced_span(&[0u8; 64], 16_000), None);
    }

    #[test]
    fn words_share_the_span_by_their_letters_and_pauses() {
        let words = estimate("Hello, big world.", (1.0, 3.0));
        let text: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(text, ["Hello", "big", "world"]);
        // weights: hello 5 + 2 (comma), big 3, world 5 (its period falls after the span)
        assert!((words[0].start - 1.0).abs() < 1e-9);
        assert!((words[0].duration - 2.0 * 5.0 / 15.0).abs() < 1e-9);
        assert!((words[1].start - (1.0 + 2.0 * 7.0 / 15.0)).abs() < 1e-9);
        let last = &words[2];
        assert!((last.start + last.duration - 3.0).abs() < 1e-9);
        assert!(estimate(" ... ", (0.0, 1.0)).is_empty());
    }
}
