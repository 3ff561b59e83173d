//! Whisper's decoding rules at temperature 0, as OpenAI's reference decoder applies them to
//! each step's logits: special tokens are never text, the first token is a timestamp of at most
//! 1 s, timestamps come in pairs and never go back, and a timestamp is forced when together the
//! timestamps are more likely than any text token. Written here: the rules belong to Whisper's
//! decoding loop, which no crate runs on ONNX Runtime.

/// The first timestamp may be at most this late (OpenAI's `max_initial_timestamp`), in tokens.
const MAX_INITIAL_TIMESTAMP: usize = 50;

/// Token ids the decoding rules need.
#[derive(Debug, Clone)]
pub(super) struct Specials {
    pub(super) end_of_text: usize,
    pub(super) start: usize,
    /// <|startofprev|>: the prompt follows it.
    pub(super) previous: usize,
    pub(super) translate: usize,
    pub(super) transcribe: usize,
    pub(super) no_speech: usize,
    pub(super) first_timestamp: usize,
    /// Whisper's language tokens: (id, code).
    pub(super) languages: Vec<(usize, String)>,
}

/// Applies Whisper's rules to one window's `logits` after `sampled` and picks the best
/// token; returns it with its log-probability under the rules.
pub(super) fn choose(s: &Specials, logits: &mut [f32], sampled: &[usize]) -> (usize, f32) {
    let ts = s.first_timestamp.min(logits.len());
    // Special tokens (after <|endoftext|>, before the timestamps) are never text.
    logits[(s.end_of_text + 1).min(ts)..ts].fill(f32::NEG_INFINITY);
    let is_timestamp = |t: usize| t >= s.first_timestamp;
    if sampled.is_empty() {
        // The first token is a timestamp of at most 1 s (so neither a blank nor the end).
        logits[..ts].fill(f32::NEG_INFINITY);
        let last_allowed = (ts + MAX_INITIAL_TIMESTAMP + 1).min(logits.len());
        logits[last_allowed..].fill(f32::NEG_INFINITY);
    } else {
        let last = sampled.last().copied().is_some_and(is_timestamp);
        let penultimate = sampled.len() < 2 || is_timestamp(sampled[sampled.len() - 2]);
        if last {
            if penultimate {
                logits[ts..].fill(f32::NEG_INFINITY); // a pair was closed: text follows
            } else {
                logits[..s.end_of_text].fill(f32::NEG_INFINITY); // a timestamp or the end follows
            }
        }
        if let Some(&latest) = sampled.iter().rev().find(|&&t| is_timestamp(t)) {
            // Timestamps never go back; after a closing one, the next opens at the same time
            // or later, otherwise strictly later.
            let floor = if last && !penultimate { latest } else { latest + 1 };
            let end = floor.clamp(ts, logits.len());
            logits[ts..end].fill(f32::NEG_INFINITY);
        }
    }
    let total = log_sum_exp(logits);
    let timestamps = log_sum_exp(&logits[ts..]);
    let best_text = logits[..ts].iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if timestamps > best_text && timestamps.is_finite() {
        logits[..ts].fill(f32::NEG_INFINITY);
    }
    // The first of equal maxima, as numpy's argmax.
    let mut best = (s.end_of_text, f32::NEG_INFINITY);
    for (token, &value) in logits.iter().enumerate() {
        if value > best.1 {
            best = (token, value);
        }
    }
    let (token, value) = best;
    if value.is_finite() { (token, value - total) } else { (s.end_of_text, 0.0) }
}

/// log(sum(exp(x))) over the finite values (negative infinity when there are none).
pub(super) fn log_sum_exp(values: &[f32]) -> f32 {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if !max.is_finite() {
        return f32::NEG_INFINITY;
    }
    let sum: f32 = values.iter().map(|v| (v - max).exp()).sum();
    max + sum.ln()
}

/// softmax(logits)[index].
pub(super) fn softmax_at(logits: &[f32], index: usize) -> f32 {
    match logits.get(index) {
        Some(v) => (v - log_sum_exp(logits)).exp(),
        None => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small vocabulary: text 0..5, <|endoftext|> 5, specials 6..11, timestamps from 12 (0.00 s)
    /// to 71 (1.18 s).
    fn specials() -> Specials {
        Specials {
            end_of_text: 5,
            start: 6,
            previous: 11,
            translate: 8,
            transcribe: 9,
            no_speech: 10,
            first_timestamp: 12,
            languages: vec![(7, "en".into())],
        }
    }

    const TS: usize = 12;

    fn logits(favourite: usize) -> Vec<f32> {
        let mut l = vec![0.0; 72];
        l[favourite] = 10.0;
        l
    }

    #[test]
    fn the_first_token_is_a_timestamp_of_at_most_one_second() {
        let s = specials();
        assert_eq!(choose(&s, &mut logits(2), &[]).0 - TS, 0, "text is not allowed first");
        let (token, _) = choose(&s, &mut logits(TS + 55), &[]);
        assert!(token - TS <= MAX_INITIAL_TIMESTAMP, "1.10 s is too late for the first timestamp: {token}");
        assert_eq!(choose(&s, &mut logits(TS + 40), &[]).0, TS + 40);
        assert_ne!(choose(&s, &mut logits(6), &[]).0, 6, "special tokens are never chosen");
    }

    #[test]
    fn timestamps_come_in_pairs_and_never_go_back() {
        let s = specials();
        // After <|0.20|> text: no timestamp up to 0.20 s (the favourite, 0.06 s, is out); the
        // later ones together beat every text token, so the earliest allowed one is chosen.
        assert_eq!(choose(&s, &mut logits(TS + 3), &[TS + 10, 1]).0, TS + 11);
        // After a closing <|0.40|> (text before it): only a timestamp from 0.40 s on, or the end.
        let mut after_close = logits(2);
        after_close[TS + 20] = 5.0;
        assert_eq!(choose(&s, &mut after_close, &[TS, 1, TS + 20]).0, TS + 20);
        let mut end = logits(2);
        end[5] = 5.0;
        assert_eq!(choose(&s, &mut end, &[TS, 1, TS + 20]).0, 5);
        // After a pair: text, not another timestamp.
        let (token, logprob) = choose(&s, &mut logits(TS + 30), &[TS, 1, TS + 20, TS + 20]);
        assert!(token < TS, "{token}");
        assert!(logprob <= 0.0);
    }

    #[test]
    fn a_timestamp_is_forced_when_together_they_beat_every_text_token() {
        let s = specials();
        let mut l = vec![-10.0; 72];
        l[1] = 1.0; // the best text token
        for t in &mut l[TS + 10..] {
            *t = 0.5; // each below it, together far above
        }
        let (token, logprob) = choose(&s, &mut l, &[TS, 2]);
        assert!(token >= TS + 10, "{token}");
        assert!(logprob < 0.0 && logprob > -10.0);
    }

    #[test]
    fn log_sum_exp_matches_the_direct_sum() {
        let values = [0.5f32, -1.0, 2.0, f32::NEG_INFINITY];
        let direct: f32 = values.iter().map(|v| v.exp()).sum::<f32>().ln();
        assert!((log_sum_exp(&values) - direct).abs() < 1e-5);
        assert_eq!(log_sum_exp(&[f32::NEG_INFINITY; 3]), f32::NEG_INFINITY);
        assert!((softmax_at(&[0.0, 0.0], 1) - 0.5).abs() < 1e-6);
        assert_eq!(softmax_at(&[0.0], 4), 0.0);
    }
}
