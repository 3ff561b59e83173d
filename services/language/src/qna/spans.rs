//! Short answers (Azure's `answerSpan`): the part of an answer that answers the question.
//!
//! No reading-comprehension model is packaged in the registries we may use, so the span is chosen
//! among the answer's clauses (its sentences, split again at `,` `;` `:` and dashes): the clause
//! whose embedding is closest to the question's, less the share of its words the question already
//! has (an answer tells what the question does not: "How high is the Eiffel Tower?" is answered by
//! "it is 330 metres tall", not by "the Eiffel Tower was built in 1889", though the latter is
//! nearer in meaning). It is a clause of the answer, not the minimal phrase a reading-comprehension
//! model would give.

use std::collections::HashSet;

use crate::sentences::sentence_spans;

/// Clauses shorter than this (in characters) are joined to their neighbour.
const MIN_CLAUSE_CHARS: usize = 12;

/// Byte ranges of the clauses of `text`, trimmed, in order.
pub fn clauses(text: &str) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    for (start, end) in sentence_spans(text) {
        let sentence = &text[start..end];
        let mut from = 0;
        let mut pieces = Vec::new();
        for (i, c) in sentence.char_indices() {
            let dash = c == '—' || c == '–' || (c == '-' && sentence[i..].starts_with("- ") && i > 0);
            if matches!(c, ',' | ';' | ':') || dash {
                pieces.push((from, i));
                from = i + c.len_utf8();
            }
        }
        pieces.push((from, sentence.len()));
        for (a, b) in pieces {
            let piece = &sentence[a..b];
            let lead = piece.len() - piece.trim_start().len();
            let trimmed = piece.trim().trim_end_matches(['.', '!', '?']);
            if trimmed.is_empty() {
                continue;
            }
            let range = (start + a + lead, start + a + lead + trimmed.len());
            match out.last_mut() {
                // A short clause joins the previous one of the same sentence.
                Some(last) if last.0 >= start && trimmed.chars().count() < MIN_CLAUSE_CHARS => last.1 = range.1,
                _ => out.push(range),
            }
        }
    }
    out
}

/// A clause's score: its similarity to the question less the share of its terms the question has.
pub fn clause_score(similarity: f32, terms: &[String], asked: &HashSet<String>) -> f32 {
    let repeated = terms.iter().filter(|t| asked.contains(*t)).count() as f32 / terms.len().max(1) as f32;
    similarity - repeated
}

/// The best of `clauses` (byte ranges) given each one's [`clause_score`] (the shorter of two
/// alike), with its confidence. `None` when there is no clause.
pub fn best_clause(clauses: &[(usize, usize)], similarity: &[f32]) -> Option<((usize, usize), f32)> {
    clauses
        .iter()
        .zip(similarity)
        .max_by(|a, b| a.1.total_cmp(b.1).then((b.0.1 - b.0.0).cmp(&(a.0.1 - a.0.0))))
        .map(|(&range, &s)| (range, s.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_sentences_at_commas_and_keep_short_ones_together() {
        let text =
            "The battery lasts about ten hours, depending on use. Charge it, then wait: it is ready in two hours.";
        let parts: Vec<&str> = clauses(text).iter().map(|&(a, b)| &text[a..b]).collect();
        assert_eq!(
            parts,
            [
                "The battery lasts about ten hours",
                "depending on use",
                "Charge it, then wait",
                "it is ready in two hours"
            ]
        );
    }
}
