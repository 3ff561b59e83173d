//! The lexical half of question answering's ranking: words normalised (lower case, stop words
//! dropped, Snowball-stemmed where the language has a stemmer, synonyms mapped to one token) and
//! scored with Okapi BM25.
//!
//! BM25 is written here: it is a dozen lines over the analysed terms, and the crates that offer it
//! bring their own tokenisation, which could not map the project's synonym phrases.

use std::collections::HashMap;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_segmentation::UnicodeSegmentation;

const K1: f32 = 1.2;
const B: f32 = 0.75;

/// Turns text into the terms BM25 counts.
pub struct Analyzer {
    stemmer: Option<Stemmer>,
    stop_words: Option<yake_rust::StopWords>,
    /// Each synonym group as analysed term sequences; a match becomes the token `#syn<group>`.
    synonyms: Vec<Vec<Vec<String>>>,
}

fn stemmer(language: &str) -> Option<Stemmer> {
    let algorithm = match language.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase().as_str() {
        "ar" => Algorithm::Arabic,
        "da" => Algorithm::Danish,
        "nl" => Algorithm::Dutch,
        "en" => Algorithm::English,
        "fi" => Algorithm::Finnish,
        "fr" => Algorithm::French,
        "de" => Algorithm::German,
        "el" => Algorithm::Greek,
        "hu" => Algorithm::Hungarian,
        "it" => Algorithm::Italian,
        "no" | "nb" => Algorithm::Norwegian,
        "pt" => Algorithm::Portuguese,
        "ro" => Algorithm::Romanian,
        "ru" => Algorithm::Russian,
        "es" => Algorithm::Spanish,
        "sv" => Algorithm::Swedish,
        "ta" => Algorithm::Tamil,
        "tr" => Algorithm::Turkish,
        _ => return None,
    };
    Some(Stemmer::create(algorithm))
}

impl Analyzer {
    pub fn new(language: &str, synonyms: &[Vec<String>]) -> Self {
        let base = language.split(['-', '_']).next().unwrap_or("").to_ascii_lowercase();
        let stop_words = yake_rust::StopWords::predefined(if base == "cs" { "cz" } else { &base });
        let mut analyzer = Self { stemmer: stemmer(language), stop_words, synonyms: Vec::new() };
        analyzer.synonyms = synonyms
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|phrase| analyzer.words(phrase))
                    .filter(|terms: &Vec<String>| !terms.is_empty())
                    .collect()
            })
            .collect();
        analyzer
    }

    /// Lower-cased, stemmed words, stop words left out (unless the text has nothing else). A
    /// word whose stem is a stop word is one too ("lasts" as "last"), so that a question and an
    /// answer drop the same words.
    fn words(&self, text: &str) -> Vec<String> {
        let stemmed: Vec<(String, String)> = text
            .unicode_words()
            .map(|w| {
                let lower = w.to_lowercase();
                let stem = self.stemmer.as_ref().map_or_else(|| lower.clone(), |s| s.stem(&lower).into_owned());
                (lower, stem)
            })
            .collect();
        let is_stop = |(word, stem): &(String, String)| {
            self.stop_words.as_ref().is_some_and(|stop| stop.contains(word.as_str()) || stop.contains(stem.as_str()))
        };
        let keep_all = stemmed.iter().all(is_stop);
        stemmed.into_iter().filter(|w| keep_all || !is_stop(w)).map(|(_, stem)| stem).collect()
    }

    /// The terms of `text`: its words, with each synonym phrase replaced by its group's token.
    pub fn terms(&self, text: &str) -> Vec<String> {
        let mut words = self.words(text);
        for (group, phrases) in self.synonyms.iter().enumerate() {
            let token = format!("#syn{group}");
            for phrase in phrases {
                let mut at = 0;
                while at + phrase.len() <= words.len() {
                    if words[at..at + phrase.len()] == phrase[..] {
                        words.splice(at..at + phrase.len(), std::iter::once(token.clone()));
                    }
                    at += 1;
                }
            }
        }
        words
    }
}

/// BM25 over a fixed set of documents (given as terms).
pub struct Bm25 {
    documents: Vec<HashMap<String, f32>>,
    lengths: Vec<f32>,
    average_length: f32,
    document_frequency: HashMap<String, usize>,
}

impl Bm25 {
    pub fn new(documents: Vec<Vec<String>>) -> Self {
        let mut document_frequency: HashMap<String, usize> = HashMap::new();
        let lengths: Vec<f32> = documents.iter().map(|d| d.len() as f32).collect();
        let counts: Vec<HashMap<String, f32>> = documents
            .into_iter()
            .map(|terms| {
                let mut tf: HashMap<String, f32> = HashMap::new();
                for t in terms {
                    *tf.entry(t).or_default() += 1.0;
                }
                for t in tf.keys() {
                    *document_frequency.entry(t.clone()).or_default() += 1;
                }
                tf
            })
            .collect();
        let average_length = (lengths.iter().sum::<f32>() / lengths.len().max(1) as f32).max(1.0);
        Self { documents: counts, lengths, average_length, document_frequency }
    }

    fn idf(&self, term: &str) -> f32 {
        let n = self.documents.len() as f32;
        let df = self.document_frequency.get(term).copied().unwrap_or(0) as f32;
        (1.0 + (n - df + 0.5) / (df + 0.5)).ln()
    }

    /// Each document's BM25 score for `query`, divided by the score of a document of average
    /// length holding each query term once (the sum of the terms' idf), and capped at 1: about
    /// the share of the query's weight the document matches.
    pub fn normalized_scores(&self, query: &[String]) -> Vec<f32> {
        let mut terms: Vec<&String> = query.iter().collect();
        terms.sort();
        terms.dedup();
        let idf: Vec<f32> = terms.iter().map(|t| self.idf(t)).collect();
        let full: f32 = idf.iter().sum();
        if full <= 0.0 {
            return vec![0.0; self.documents.len()];
        }
        self.documents
            .iter()
            .zip(&self.lengths)
            .map(|(tf, &len)| {
                let score: f32 = terms
                    .iter()
                    .zip(&idf)
                    .map(|(t, idf)| {
                        let f = tf.get(t.as_str()).copied().unwrap_or(0.0);
                        idf * f * (K1 + 1.0) / (f + K1 * (1.0 - B + B * len / self.average_length))
                    })
                    .sum();
                (score / full).min(1.0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_stemmed_without_stop_words_and_synonyms_are_one_token() {
        let analyzer = Analyzer::new("en", &[vec!["wifi".into(), "wireless network".into()]]);
        assert_eq!(analyzer.terms("How do I reset the passwords?"), ["reset", "password"]);
        assert_eq!(analyzer.terms("Join the wireless network"), ["join", "#syn0"]);
        assert_eq!(analyzer.terms("join WiFi"), ["join", "#syn0"]);
    }

    #[test]
    fn bm25_prefers_the_document_with_the_rare_words() {
        let analyzer = Analyzer::new("en", &[]);
        let docs = [
            "Reset your password from the login page.",
            "The battery gives ten hours.",
            "Charge the battery overnight.",
        ];
        let index = Bm25::new(docs.iter().map(|d| analyzer.terms(d)).collect());
        let scores = index.normalized_scores(&analyzer.terms("battery hours"));
        assert!(scores[1] > scores[2] && scores[2] > scores[0], "{scores:?}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)));
        assert_eq!(index.normalized_scores(&[]), [0.0; 3]);
    }
}
