//! The learned entities of conversational language understanding: a token-level sequence model
//! (BIO tags, an averaged perceptron, decoded left to right), trained on the labelled utterances.
//!
//! Each token is described by its word, shape, affixes, its neighbours, the previous tag, and the
//! named-entity label spaCy's model gives it (the `ner=` feature): with that, a handful of
//! utterances naming a few cities is enough to tag cities never seen in training.
//!
//! Written here: the perceptron is a few dozen lines over sparse features, and the sequence-model
//! crates (crfsuite bindings) need a C library and their own feature files.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use unicode_segmentation::UnicodeSegmentation;

const EPOCHS: usize = 12;

/// A token of an utterance: its byte range and text.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// The tokens of a text: words and punctuation, without white space.
pub fn tokens(text: &str) -> Vec<Token> {
    text.split_word_bound_indices()
        .filter(|(_, w)| !w.trim().is_empty())
        .map(|(start, w)| Token { start, end: start + w.len(), text: w.to_string() })
        .collect()
}

fn shape(word: &str) -> String {
    let mut out = String::new();
    for c in word.chars().take(6) {
        let k = if c.is_uppercase() {
            'X'
        } else if c.is_lowercase() {
            'x'
        } else if c.is_ascii_digit() {
            'd'
        } else {
            c
        };
        if !out.ends_with(k) {
            out.push(k);
        }
    }
    out
}

/// The features of token `i` (`ner[i]` is its named-entity label, if any; `previous` the tag
/// given to the token before).
fn features(tokens: &[Token], ner: &[Option<String>], i: usize, previous: &str) -> Vec<String> {
    let word = tokens[i].text.to_lowercase();
    let chars: Vec<char> = word.chars().collect();
    let suffix: String = chars[chars.len().saturating_sub(3)..].iter().collect();
    let prefix: String = chars[..chars.len().min(3)].iter().collect();
    let near = |d: isize| {
        let j = i as isize + d;
        if j < 0 || j as usize >= tokens.len() { "<edge>".to_string() } else { tokens[j as usize].text.to_lowercase() }
    };
    let mut f = vec![
        "bias".to_string(),
        format!("w={word}"),
        format!("shape={}", shape(&tokens[i].text)),
        format!("suf={suffix}"),
        format!("pre={prefix}"),
        format!("w-1={}", near(-1)),
        format!("w+1={}", near(1)),
        format!("w-2={}", near(-2)),
        format!("t-1={previous}"),
        format!("t-1,w={previous},{word}"),
        format!("w-1,shape={},{}", near(-1), shape(&tokens[i].text)),
    ];
    if let Some(label) = &ner[i] {
        f.push(format!("ner={label}"));
        f.push(format!("ner,w-1={label},{}", near(-1)));
    }
    f
}

/// An averaged perceptron over BIO tags (`O`, `B-<category>`, `I-<category>`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Tagger {
    tags: Vec<String>,
    /// feature -> weight per tag.
    weights: HashMap<String, Vec<f32>>,
}

/// One training sentence: its tokens, their named-entity labels, and their gold tags.
pub struct Sentence {
    pub tokens: Vec<Token>,
    pub ner: Vec<Option<String>>,
    pub tags: Vec<String>,
}

impl Tagger {
    fn scores(&self, features: &[String]) -> Vec<f32> {
        let mut scores = vec![0.0; self.tags.len()];
        for f in features {
            if let Some(w) = self.weights.get(f) {
                for (s, w) in scores.iter_mut().zip(w) {
                    *s += w;
                }
            }
        }
        scores
    }

    /// The best tag index for the features; an `I-` tag that continues nothing is not allowed.
    fn best(&self, scores: &[f32], previous: &str) -> usize {
        let mut best = 0;
        for (k, tag) in self.tags.iter().enumerate() {
            if let Some(category) = tag.strip_prefix("I-") {
                let continues = previous.strip_prefix("B-").or(previous.strip_prefix("I-")) == Some(category);
                if !continues {
                    continue;
                }
            }
            if scores[k] > scores[best] {
                best = k;
            }
        }
        best
    }

    /// Trains on the sentences (deterministic: the order is the sentences' own).
    pub fn train(sentences: &[Sentence]) -> Self {
        let mut tags: Vec<String> = vec!["O".into()];
        for s in sentences {
            for t in &s.tags {
                if !tags.contains(t) {
                    tags.push(t.clone());
                }
            }
        }
        let n = tags.len();
        let mut tagger = Tagger { tags, weights: HashMap::new() };
        // Averaging: the sum of the weights over every step, kept lazily.
        let mut totals: HashMap<String, Vec<f32>> = HashMap::new();
        let mut stamps: HashMap<String, Vec<usize>> = HashMap::new();
        let mut step = 0usize;
        for _ in 0..EPOCHS {
            for s in sentences {
                let mut previous = "O".to_string();
                for i in 0..s.tokens.len() {
                    step += 1;
                    let f = features(&s.tokens, &s.ner, i, &previous);
                    let guess = tagger.best(&tagger.scores(&f), &previous);
                    let truth = tagger.tags.iter().position(|t| *t == s.tags[i]).unwrap_or(0);
                    if guess != truth {
                        for feature in &f {
                            let w = tagger.weights.entry(feature.clone()).or_insert_with(|| vec![0.0; n]);
                            let total = totals.entry(feature.clone()).or_insert_with(|| vec![0.0; n]);
                            let stamp = stamps.entry(feature.clone()).or_insert_with(|| vec![0; n]);
                            for (k, delta) in [(truth, 1.0f32), (guess, -1.0)] {
                                total[k] += (step - stamp[k]) as f32 * w[k];
                                stamp[k] = step;
                                w[k] += delta;
                            }
                        }
                    }
                    previous = s.tags[i].clone();
                }
            }
        }
        // The averaged weights.
        for (feature, w) in tagger.weights.iter_mut() {
            let total = totals.get(feature).cloned().unwrap_or_else(|| vec![0.0; n]);
            let stamp = stamps.get(feature).cloned().unwrap_or_else(|| vec![0; n]);
            for k in 0..n {
                let sum = total[k] + (step - stamp[k]) as f32 * w[k];
                w[k] = sum / step.max(1) as f32;
            }
        }
        tagger.weights.retain(|_, w| w.iter().any(|v| *v != 0.0));
        tagger
    }

    /// Tags a sentence: (category, first token, last token, confidence) of each entity found.
    pub fn tag(&self, tokens: &[Token], ner: &[Option<String>]) -> Vec<(String, usize, usize, f32)> {
        let mut previous = "O".to_string();
        let mut out: Vec<(String, usize, usize, f32)> = Vec::new();
        for i in 0..tokens.len() {
            if self.tags.is_empty() {
                break;
            }
            let scores = self.scores(&features(tokens, ner, i, &previous));
            let best = self.best(&scores, &previous);
            let tag = self.tags[best].clone();
            // A margin-based confidence: the softmax of the scores at the chosen tag.
            let max = scores.iter().copied().fold(f32::MIN, f32::max);
            let sum: f32 = scores.iter().map(|s| (s - max).exp()).sum();
            let confidence = (scores[best] - max).exp() / sum.max(f32::MIN_POSITIVE);
            if let Some(category) = tag.strip_prefix("B-") {
                out.push((category.to_string(), i, i, confidence));
            } else if tag.starts_with("I-")
                && let Some(last) = out.last_mut()
            {
                last.2 = i;
                last.3 = last.3.min(confidence);
            }
            previous = tag;
        }
        out
    }
}

/// BIO tags of tokens for entity byte ranges `(category, start, end)`.
pub fn bio(tokens: &[Token], entities: &[(String, usize, usize)]) -> Vec<String> {
    tokens
        .iter()
        .map(|t| match entities.iter().find(|(_, s, e)| t.start >= *s && t.end <= *e) {
            Some((category, s, _)) => {
                let first = !tokens.iter().any(|u| u.start >= *s && u.end <= t.start);
                format!("{}-{category}", if first { "B" } else { "I" })
            }
            None => "O".to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence(text: &str, entities: &[(&str, &str)], ner: &[&str]) -> Sentence {
        let tokens = tokens(text);
        let spans: Vec<(String, usize, usize)> = entities
            .iter()
            .map(|(category, words)| {
                let start = text.find(words).expect("entity in text");
                (category.to_string(), start, start + words.len())
            })
            .collect();
        let ner_labels = tokens.iter().map(|t| ner.contains(&t.text.as_str()).then(|| "GPE".to_string())).collect();
        Sentence { tags: bio(&tokens, &spans), tokens, ner: ner_labels }
    }

    #[test]
    fn learns_origins_and_destinations_from_their_context() {
        let data = [
            sentence(
                "Book a flight from Paris to Berlin",
                &[("From", "Paris"), ("To", "Berlin")],
                &["Paris", "Berlin"],
            ),
            sentence("I want to fly to Madrid from Rome", &[("To", "Madrid"), ("From", "Rome")], &["Madrid", "Rome"]),
            sentence(
                "flights from Oslo to Vienna tomorrow",
                &[("From", "Oslo"), ("To", "Vienna")],
                &["Oslo", "Vienna"],
            ),
            sentence("get me to Lisbon", &[("To", "Lisbon")], &["Lisbon"]),
            sentence("what is the weather", &[], &[]),
        ];
        let tagger = Tagger::train(&data);
        let test = sentence("Fly from Dublin to Prague", &[], &["Dublin", "Prague"]);
        let found = tagger.tag(&test.tokens, &test.ner);
        let named: Vec<(&str, &str)> = found
            .iter()
            .map(|(c, a, b, _)| (c.as_str(), &"Fly from Dublin to Prague"[test.tokens[*a].start..test.tokens[*b].end]))
            .collect();
        assert_eq!(named, [("From", "Dublin"), ("To", "Prague")]);
        let multi = sentence("fly to New York", &[("To", "New York")], &[]);
        assert_eq!(multi.tags, ["O", "O", "B-To", "I-To"]);
    }
}
