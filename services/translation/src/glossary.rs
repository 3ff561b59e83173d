//! Glossaries: the user's term lists (source term -> required target term) for a language pair.
//!
//! A term found in the text (whole words, case-insensitive, longest terms first; a term that
//! begins or ends with punctuation, like "C++" or "Cogway, Inc.", needs a word boundary only on
//! its word side) is replaced by
//! its target term as a kept piece before the engine runs, so the engine cannot change it
//! (placeholder protection): Apertium carries it through as a superblank, the neural engine
//! translates the text around it.

use regex::{Regex, RegexBuilder};

use crate::pieces::{Piece, Segment, normalize};

/// Most entries a glossary may hold.
pub const MAX_ENTRIES: usize = 10_000;
/// Longest term, in characters.
pub const MAX_TERM_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlossaryError {
    #[error("line {line}: {reason}")]
    Line { line: usize, reason: String },
    #[error("the glossary has no entries")]
    Empty,
    #[error("the glossary has more than {MAX_ENTRIES} entries")]
    TooLarge,
}

/// Parses a CSV or TSV term list: two columns, source term then target term. A first row naming
/// the columns (`source,target`, or the two language codes) is skipped. Tabs in the first line
/// mean TSV.
pub fn parse(data: &str, from: &str, to: &str) -> Result<Vec<(String, String)>, GlossaryError> {
    let data = data.trim_start_matches('\u{feff}');
    let delimiter = if data.lines().next().is_some_and(|l| l.contains('\t')) { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(data.as_bytes());
    let mut entries = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 1;
        let record = record.map_err(|e| GlossaryError::Line { line, reason: e.to_string() })?;
        if record.iter().all(|f| f.is_empty()) {
            continue;
        }
        if record.len() < 2 {
            return Err(GlossaryError::Line { line, reason: "expected two columns: source term, target term".into() });
        }
        let (source, target) = (record[0].to_string(), record[1].to_string());
        if index == 0 && is_header(&source, &target, from, to) {
            continue;
        }
        if source.is_empty() || target.is_empty() {
            return Err(GlossaryError::Line { line, reason: "a term is empty".into() });
        }
        if source.chars().count() > MAX_TERM_CHARS || target.chars().count() > MAX_TERM_CHARS {
            return Err(GlossaryError::Line {
                line,
                reason: format!("a term is longer than {MAX_TERM_CHARS} characters"),
            });
        }
        entries.push((source, target));
        if entries.len() > MAX_ENTRIES {
            return Err(GlossaryError::TooLarge);
        }
    }
    if entries.is_empty() {
        return Err(GlossaryError::Empty);
    }
    Ok(entries)
}

fn is_header(source: &str, target: &str, from: &str, to: &str) -> bool {
    let (s, t) = (source.to_ascii_lowercase(), target.to_ascii_lowercase());
    (s == "source" && t == "target") || (s == from.to_ascii_lowercase() && t == to.to_ascii_lowercase())
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The pattern of one term: `\b` only at an end that is a word character (`\bC\+\+` for "C++":
/// a `\b` after "+" would demand a letter next).
fn bounded(term: &str) -> String {
    let start = if term.chars().next().is_some_and(is_word_char) { r"\b" } else { "" };
    let end = if term.chars().next_back().is_some_and(is_word_char) { r"\b" } else { "" };
    format!("{start}{}{end}", regex::escape(term))
}

/// A glossary ready to apply.
#[derive(Debug, Clone)]
pub struct Glossary {
    matcher: Regex,
    /// Lower-cased source term -> target term.
    targets: std::collections::HashMap<String, String>,
}

impl Glossary {
    pub fn new(entries: &[(String, String)]) -> Result<Self, String> {
        let mut terms: Vec<&(String, String)> = entries.iter().collect();
        terms.sort_by_key(|(s, _)| std::cmp::Reverse(s.chars().count()));
        let alternatives: Vec<String> = terms.iter().map(|(s, _)| bounded(s)).collect();
        let pattern = format!("(?:{})", alternatives.join("|"));
        let matcher = RegexBuilder::new(&pattern)
            .case_insensitive(true)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| format!("glossary: {e}"))?;
        let targets = entries.iter().map(|(s, t)| (s.to_lowercase(), t.clone())).collect();
        Ok(Self { matcher, targets })
    }

    /// Replaces every term in the text runs by its target term (kept).
    pub fn apply(&self, segment: Segment) -> Segment {
        let mut out = Vec::with_capacity(segment.len());
        for piece in segment {
            let Piece::Text(text) = piece else {
                out.push(piece);
                continue;
            };
            let mut last = 0;
            for m in self.matcher.find_iter(&text) {
                let Some(target) = self.targets.get(&m.as_str().to_lowercase()) else { continue };
                out.push(Piece::Text(text[last..m.start()].to_string()));
                out.push(Piece::Keep(target.clone()));
                last = m.end();
            }
            out.push(Piece::Text(text[last..].to_string()));
        }
        normalize(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pieces::plain;

    #[test]
    fn csv_and_tsv_parse_with_optional_header() {
        let csv = parse("source,target\nred car,bólido rojo\n\"Cogway, Inc.\",Cogway S.A.\n", "en", "es").expect("csv");
        assert_eq!(csv[0], ("red car".to_string(), "bólido rojo".to_string()));
        assert_eq!(csv[1].0, "Cogway, Inc.");
        let tsv = parse("en\tes\nhouse\tmansión\n", "en", "es").expect("tsv");
        assert_eq!(tsv, vec![("house".to_string(), "mansión".to_string())]);
        assert!(matches!(parse("just one column\n", "en", "es"), Err(GlossaryError::Line { line: 1, .. })));
        assert_eq!(parse("\n\n", "en", "es"), Err(GlossaryError::Empty));
    }

    #[test]
    fn longest_whole_word_terms_win() {
        let g = Glossary::new(&[("car".into(), "auto".into()), ("red car".into(), "bólido".into())]).expect("builds");
        let s = g.apply(plain("The Red Car and the car, not the carpet."));
        assert_eq!(
            s,
            vec![
                Piece::Text("The ".into()),
                Piece::Keep("bólido".into()),
                Piece::Text(" and the ".into()),
                Piece::Keep("auto".into()),
                Piece::Text(", not the carpet.".into()),
            ]
        );
    }

    #[test]
    fn terms_with_punctuation_at_their_ends_match() {
        let g = Glossary::new(&[("C++".into(), "C++".into()), ("Cogway, Inc.".into(), "Cogway S.A.".into())])
            .expect("builds");
        let s = g.apply(plain("Cogway, Inc. writes C++ code, not Cogway, Incorporated."));
        assert_eq!(
            s,
            vec![
                Piece::Keep("Cogway S.A.".into()),
                Piece::Text(" writes ".into()),
                Piece::Keep("C++".into()),
                Piece::Text(" code, not Cogway, Incorporated.".into()),
            ]
        );
    }
}
