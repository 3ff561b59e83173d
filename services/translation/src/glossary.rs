//! Glossaries: the user's term lists (source term -> required target term) for a language pair.
//!
//! A term found in the text (whole words, case-insensitive, longest terms first; a term that
//! begins or ends with punctuation, like "C++" or "Cogway, Inc.", needs a word boundary only on
//! its word side) is replaced by
//! its target term as a kept piece before the engine runs, so the engine cannot change it
//! (placeholder protection): Apertium carries it through as a superblank, the neural engine
//! translates the text around it.
//!
//! Terms are found with one Aho-Corasick automaton over the case-folded text, in time linear in
//! the text whatever the number of terms. (A regex alternation of 10,000 terms took seconds per
//! request: its lazy DFA gave up on an automaton that size and fell back to simulating every
//! term at every position.)

use std::sync::Arc;

use aho_corasick::AhoCorasick;

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

/// A character in the case used for matching: one character for one, so that positions in the
/// folded text map back to the text (`Σ`, `σ` and `ς` all fold to `σ`; a character whose case
/// changes its length, like `ß` or `İ`, stays as it is).
fn fold(c: char) -> char {
    fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
        match (chars.next(), chars.next()) {
            (Some(c), None) => Some(c),
            _ => None,
        }
    }
    let upper = single(c.to_uppercase()).unwrap_or(c);
    single(upper.to_lowercase()).unwrap_or(c)
}

fn fold_str(text: &str) -> String {
    text.chars().map(fold).collect()
}

/// One source term of the automaton.
#[derive(Debug)]
struct Term {
    target: String,
    /// Whether the term begins / ends with a word character, and so needs a word boundary there
    /// ("C++" needs one before it only: after "+" a boundary would demand a letter next).
    bounded_start: bool,
    bounded_end: bool,
}

/// A glossary ready to apply (cheap to clone).
#[derive(Debug, Clone)]
pub struct Glossary {
    /// The folded source terms; pattern `i` is `terms[i]`.
    matcher: AhoCorasick,
    terms: Arc<[Term]>,
}

impl Glossary {
    /// Builds the automaton (about a second for 10,000 terms of 200 characters, unoptimised
    /// builds slower: build it off the async threads). Two terms that differ only in case are one
    /// term; the later entry's target wins.
    pub fn new(entries: &[(String, String)]) -> Result<Self, String> {
        let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut patterns: Vec<String> = Vec::new();
        let mut terms: Vec<Term> = Vec::new();
        for (source, target) in entries {
            let folded = fold_str(source);
            if folded.is_empty() {
                continue;
            }
            let term = Term {
                target: target.clone(),
                bounded_start: source.chars().next().is_some_and(is_word_char),
                bounded_end: source.chars().next_back().is_some_and(is_word_char),
            };
            match index.get(&folded) {
                Some(&i) => terms[i] = term,
                None => {
                    index.insert(folded.clone(), patterns.len());
                    patterns.push(folded);
                    terms.push(term);
                }
            }
        }
        let matcher = AhoCorasick::new(&patterns).map_err(|e| format!("glossary: {e}"))?;
        Ok(Self { matcher, terms: terms.into() })
    }

    /// Replaces every term in the text runs by its target term (kept).
    pub fn apply(&self, segment: Segment) -> Segment {
        let mut out = Vec::with_capacity(segment.len());
        for piece in segment {
            match piece {
                Piece::Text(text) => self.apply_text(&text, &mut out),
                kept => out.push(kept),
            }
        }
        normalize(out)
    }

    fn apply_text(&self, text: &str, out: &mut Segment) {
        // The folded text, and for each of its bytes (and its end) the byte of the text it came from.
        let mut folded = String::with_capacity(text.len());
        let mut origin: Vec<usize> = Vec::with_capacity(text.len() + 1);
        for (i, c) in text.char_indices() {
            let f = fold(c);
            origin.extend(std::iter::repeat_n(i, f.len_utf8()));
            folded.push(f);
        }
        origin.push(text.len());
        // The longest term with its word boundaries at each start (folded bytes): every match,
        // overlapping ones too, so a longer term that fails its boundary leaves room for a
        // shorter one ("red car" in "red cars" gives way to "red"). At a given end the matching
        // terms are suffixes of one another, so there are at most as many as the longest term
        // has characters.
        let mut longest: Vec<Option<(usize, usize)>> = vec![None; folded.len()];
        for m in self.matcher.find_overlapping_iter(&folded) {
            let term = &self.terms[m.pattern().as_usize()];
            let (start, end) = (origin[m.start()], origin[m.end()]);
            if term.bounded_start && text[..start].chars().next_back().is_some_and(is_word_char) {
                continue;
            }
            if term.bounded_end && text[end..].chars().next().is_some_and(is_word_char) {
                continue;
            }
            let best = &mut longest[m.start()];
            if best.is_none_or(|(e, _)| m.end() > e) {
                *best = Some((m.end(), m.pattern().as_usize()));
            }
        }
        // Leftmost first, then longest; matches do not overlap.
        let mut last = 0;
        let mut at = 0;
        while at < folded.len() {
            let Some((end, pattern)) = longest[at] else {
                at += 1;
                continue;
            };
            out.push(Piece::Text(text[origin[last]..origin[at]].to_string()));
            out.push(Piece::Keep(self.terms[pattern].target.clone()));
            last = end;
            at = end;
        }
        out.push(Piece::Text(text[origin[last]..].to_string()));
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

    #[test]
    fn a_longer_term_that_fails_its_boundary_gives_way() {
        let g = Glossary::new(&[("red".into(), "rojo".into()), ("red car".into(), "bólido".into())]).expect("builds");
        let s = g.apply(plain("Red cars; a red car."));
        assert_eq!(
            s,
            vec![
                Piece::Keep("rojo".into()),
                Piece::Text(" cars; a ".into()),
                Piece::Keep("bólido".into()),
                Piece::Text(".".into()),
            ]
        );
    }

    #[test]
    fn case_is_folded_per_character_and_duplicates_merge() {
        let g = Glossary::new(&[
            ("Ölkännchen".into(), "aceitera".into()),
            ("ΣΟΦΙΑ".into(), "sofía".into()),
            ("straße".into(), "calle".into()),
            ("STRASSE".into(), "calle mayor".into()),
            ("strasse".into(), "avenida".into()),
        ])
        .expect("builds");
        let s = g.apply(plain("ölKÄNNCHEN, σοφια and σοφιας, Straße, Strasse."));
        assert_eq!(pieces_render(&s), "[aceitera], [sofía] and σοφιας, [calle], [avenida].",);
    }

    fn pieces_render(segment: &[Piece]) -> String {
        segment
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Keep(k) => format!("[{k}]"),
            })
            .collect()
    }

    #[test]
    fn many_long_terms_against_a_long_text_stay_linear() {
        let entries: Vec<(String, String)> =
            (0..MAX_ENTRIES).map(|i| (format!("{i:05}{}", "ä".repeat(MAX_TERM_CHARS - 5)), format!("t{i}"))).collect();
        let started = std::time::Instant::now();
        let g = Glossary::new(&entries).expect("builds");
        for text in ["wörd ".repeat(10_000), "ä".repeat(50_000), format!("00042{}", "ä".repeat(49_995))] {
            let s = g.apply(plain(&text));
            assert!(s.len() <= 3, "{}", s.len());
        }
        // Regex alternation: seconds per text even optimised; the automaton: milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
        let s = g.apply(plain(&format!("x 00042{} y", "Ä".repeat(195))));
        assert_eq!(s, vec![Piece::Text("x ".into()), Piece::Keep("t42".into()), Piece::Text(" y".into())]);
    }
}
