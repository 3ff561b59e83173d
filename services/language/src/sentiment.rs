//! Sentiment with VADER, calibrated into Azure's three confidence scores.
//!
//! VADER gives a compound score c in [-1, 1] (|c| < 0.05 is its own "neutral" band). Azure wants
//! positive/neutral/negative confidences that sum to 1. The calibration:
//!
//! - neutral  = exp(-(c / 0.12)^2)            (1 at c = 0, 0.84 at |c| = 0.05, < 0.01 at |c| >= 0.26)
//! - positive = (1 - neutral) * sigmoid(6c)
//! - negative = (1 - neutral) * (1 - sigmoid(6c))
//!
//! so the label (the largest score) is neutral for |c| below about 0.09 and follows the sign of c
//! beyond, and a strong compound (e.g. 0.64 for "I love this") gives a confident label (0.98).
//! A document is `mixed` when it has both a positive and a negative sentence; otherwise its scores
//! are the mean of its sentences' scores and its label their largest.

use std::sync::LazyLock;

use vader_sentiment::SentimentIntensityAnalyzer;

use crate::sentences::sentence_spans;

static ANALYZER: LazyLock<SentimentIntensityAnalyzer<'static>> = LazyLock::new(SentimentIntensityAnalyzer::new);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Positive,
    Neutral,
    Negative,
    Mixed,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Positive => "positive",
            Label::Neutral => "neutral",
            Label::Negative => "negative",
            Label::Mixed => "mixed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    pub positive: f64,
    pub neutral: f64,
    pub negative: f64,
}

impl Scores {
    /// Calibrates a VADER compound score (see the module docs).
    pub fn from_compound(c: f64) -> Self {
        let c = if c.is_finite() { c.clamp(-1.0, 1.0) } else { 0.0 };
        let neutral = (-(c / 0.12).powi(2)).exp();
        let p = 1.0 / (1.0 + (-6.0 * c).exp());
        Self { positive: (1.0 - neutral) * p, neutral, negative: (1.0 - neutral) * (1.0 - p) }.rounded()
    }

    fn label(self) -> Label {
        if self.positive >= self.neutral && self.positive >= self.negative {
            Label::Positive
        } else if self.negative > self.neutral {
            Label::Negative
        } else {
            Label::Neutral
        }
    }

    /// Rounds to two decimals keeping the sum exactly 1 (the largest absorbs the rounding).
    fn rounded(self) -> Self {
        let r = |x: f64| (x * 100.0).round() / 100.0;
        let (mut p, mut u, mut n) = (r(self.positive), r(self.neutral), r(self.negative));
        let rest = r(1.0 - (p + u + n));
        if p >= u && p >= n {
            p = r(p + rest);
        } else if n >= u {
            n = r(n + rest);
        } else {
            u = r(u + rest);
        }
        Self { positive: p, neutral: u, negative: n }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct SentenceSentiment {
    /// Byte range in the document.
    pub start: usize,
    pub end: usize,
    pub label: Label,
    pub scores: Scores,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DocumentSentiment {
    pub label: Label,
    pub scores: Scores,
    pub sentences: Vec<SentenceSentiment>,
}

/// VADER's compound score of one piece of text.
fn compound(text: &str) -> f64 {
    // vader_sentiment indexes tokens directly; a panic on odd input must not take a request down.
    std::panic::catch_unwind(|| ANALYZER.polarity_scores(text).get("compound").copied().unwrap_or(0.0)).unwrap_or(0.0)
}

/// Document and sentence sentiment of an English text.
pub fn analyze(text: &str) -> DocumentSentiment {
    let sentences: Vec<SentenceSentiment> = sentence_spans(text)
        .into_iter()
        .map(|(start, end)| {
            let scores = Scores::from_compound(compound(&text[start..end]));
            SentenceSentiment { start, end, label: scores.label(), scores }
        })
        .collect();
    if sentences.is_empty() {
        let scores = Scores::from_compound(0.0);
        return DocumentSentiment { label: Label::Neutral, scores, sentences };
    }
    let n = sentences.len() as f64;
    let mean = Scores {
        positive: sentences.iter().map(|s| s.scores.positive).sum::<f64>() / n,
        neutral: sentences.iter().map(|s| s.scores.neutral).sum::<f64>() / n,
        negative: sentences.iter().map(|s| s.scores.negative).sum::<f64>() / n,
    }
    .rounded();
    let has = |l| sentences.iter().any(|s| s.label == l);
    let label = if has(Label::Positive) && has(Label::Negative) { Label::Mixed } else { mean.label() };
    DocumentSentiment { label, scores: mean, sentences }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn love_is_positive_hate_is_negative() {
        let love = analyze("I love this");
        assert_eq!(love.label, Label::Positive);
        assert!(love.scores.positive > 0.9, "{love:?}");
        let hate = analyze("I hate this");
        assert_eq!(hate.label, Label::Negative);
        assert!(hate.scores.negative > 0.9, "{hate:?}");
    }

    #[test]
    fn plain_fact_is_neutral_and_scores_sum_to_one() {
        let doc = analyze("The train leaves at nine.");
        assert_eq!(doc.label, Label::Neutral);
        let s = doc.scores;
        assert!((s.positive + s.neutral + s.negative - 1.0).abs() < 1e-9);
    }

    #[test]
    fn positive_and_negative_sentences_make_mixed() {
        let doc = analyze("The food was wonderful. The service was terrible and rude.");
        assert_eq!(doc.label, Label::Mixed);
        assert_eq!(doc.sentences.len(), 2);
        assert_eq!(doc.sentences[0].label, Label::Positive);
        assert_eq!(doc.sentences[1].label, Label::Negative);
    }

    #[test]
    fn calibration_sums_to_one_everywhere() {
        for i in -100..=100 {
            let s = Scores::from_compound(i as f64 / 100.0);
            assert!((s.positive + s.neutral + s.negative - 1.0).abs() < 1e-9, "{i}: {s:?}");
            assert!(s.positive >= 0.0 && s.neutral >= 0.0 && s.negative >= 0.0);
        }
    }
}
