//! Key phrases with YAKE (unsupervised, statistical), with per-language stop-word lists.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use yake_rust::{Config, StopWords};

/// Languages with a YAKE stop-word list (ISO 639-1; yake-rust names Czech "cz").
pub const SUPPORTED: &[&str] = &[
    "ar", "bg", "br", "cs", "da", "de", "el", "en", "es", "et", "fa", "fi", "fr", "hi", "hr", "hu", "hy", "id", "it",
    "ja", "lt", "lv", "nl", "no", "pl", "pt", "ro", "ru", "sk", "sl", "sv", "tr", "uk", "zh",
];

static STOP_WORDS: LazyLock<Mutex<HashMap<String, StopWords>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

pub fn is_supported(language: &str) -> bool {
    SUPPORTED.contains(&base_language(language))
}

fn base_language(language: &str) -> &str {
    language.split(['-', '_']).next().unwrap_or(language)
}

fn stop_words(language: &str) -> Option<StopWords> {
    let lang = base_language(language).to_ascii_lowercase();
    let yake_code = if lang == "cs" { "cz".to_string() } else { lang };
    let mut cache = STOP_WORDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(sw) = cache.get(&yake_code) {
        return Some(sw.clone());
    }
    let sw = StopWords::predefined(&yake_code)?;
    cache.insert(yake_code, sw.clone());
    Some(sw)
}

/// The key phrases of `text`, most important first (at most `max`). `None` if the language has no
/// stop-word list.
pub fn extract(text: &str, language: &str, max: usize) -> Option<Vec<String>> {
    let stop_words = stop_words(language)?;
    let config = Config { ngrams: 3, ..Config::default() };
    // yake-rust sorts with `partial_cmp().unwrap()`; guard against a NaN score panicking.
    let items =
        std::panic::catch_unwind(|| yake_rust::get_n_best(max * 3, text, &stop_words, &config)).unwrap_or_default();
    Some(select(items.into_iter().map(|item| item.raw), &stop_words, max))
}

/// Keeps YAKE's best phrases that read as phrases: no stop word inside a multi-word phrase
/// ("range and fast"), and none that only repeats part of a better-ranked phrase.
fn select(ranked: impl Iterator<Item = String>, stop_words: &StopWords, max: usize) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    let mut kept_lower: Vec<String> = Vec::new();
    for phrase in ranked {
        let lower = phrase.to_lowercase();
        let words: Vec<&str> = lower.split_whitespace().collect();
        if words.len() > 1 && words.iter().any(|w| stop_words.contains(*w)) {
            continue;
        }
        let padded = format!(" {lower} ");
        if kept_lower.iter().any(|k| format!(" {k} ").contains(&padded)) {
            continue;
        }
        kept_lower.push(lower);
        kept.push(phrase);
        if kept.len() == max {
            break;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_topic_of_a_paragraph() {
        let text = "Machine learning models need training data. Good training data makes machine learning \
                    models accurate, and bad training data makes them fail in production.";
        let phrases = extract(text, "en", 10).unwrap();
        let lower: Vec<String> = phrases.iter().map(|p| p.to_lowercase()).collect();
        assert!(lower.iter().any(|p| p.contains("training data")), "{phrases:?}");
        assert!(lower.iter().any(|p| p.contains("machine learning")), "{phrases:?}");
    }

    #[test]
    fn phrases_with_inner_stop_words_or_repeats_are_dropped() {
        let text = "The new electric car from the startup has a long battery range and fast charging. \
                    Reviewers praised the battery range.";
        let phrases = extract(text, "en", 20).unwrap();
        assert!(phrases.iter().any(|p| p.contains("battery range")), "{phrases:?}");
        assert!(!phrases.iter().any(|p| p == "range and fast"), "{phrases:?}");
        assert!(!phrases.iter().any(|p| p == "battery"), "{phrases:?}");
    }

    #[test]
    fn unsupported_language_is_none() {
        assert!(extract("text", "xx", 5).is_none());
        assert!(is_supported("en-US"));
    }
}
