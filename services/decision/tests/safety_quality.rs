//! Precision and recall of the text harm lexicons on tests/data/content_safety_en.tsv, a set of
//! sentences written for this test (threats, reports of violence, hate, self-harm, sexual content,
//! and benign sentences that share their words). A category counts as flagged at severity 2 or
//! more. A second set (tests/data/content_safety_en_unseen.tsv) was written after the first round
//! of rules was frozen, measured, then used to find the second round's rule families; a third
//! (content_safety_en_third.tsv) was written after the second round was frozen. Prints the figures
//! (`cargo test -p cogway-decision --test safety_quality -- --nocapture --test-threads=1`) and
//! fails below the floors documented in docs/api.md.

use cogway_decision::safety::{Category, lexicon};

/// (precision, recall) floors over all categories.
const FLOOR_SECOND: (f64, f64) = (0.95, 0.95);
const FLOOR_THIRD: (f64, f64) = (0.7, 0.35);

fn cases(file: &str) -> Vec<(Vec<Category>, String)> {
    let path = format!("{}/../../tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|line| {
            let (labels, sentence) = line.split_once('\t').unwrap_or_else(|| panic!("no tab in {line:?}"));
            let labels = labels
                .split(',')
                .filter(|l| *l != "-")
                .map(|l| Category::parse(l).unwrap_or_else(|| panic!("unknown category {l}")))
                .collect();
            (labels, sentence.to_string())
        })
        .collect()
}

#[test]
fn lexicons_find_the_harms_of_the_written_set() {
    let stats = evaluate("content_safety_en.tsv", 80);
    for (category, s) in &stats {
        assert!(
            s.precision() >= 0.85 && s.recall() >= 0.85,
            "{}: precision {:.2}, recall {:.2}",
            category.name(),
            s.precision(),
            s.recall()
        );
    }
}

/// The second set: written after the first round of rules was frozen, then used to find the rule
/// families of the second round, so no longer unseen.
#[test]
fn lexicons_on_the_second_set() {
    let total = overall(&evaluate("content_safety_en_unseen.tsv", 30));
    assert!(total.precision() >= FLOOR_SECOND.0 && total.recall() >= FLOOR_SECOND.1, "{total:?}");
}

/// The honest measure: sentences written after the second round of rules was frozen. Per
/// category the figures are only printed (small samples); over all categories the floors sit just
/// under the first measurement, a guard against regressions, not a claim of quality.
#[test]
fn lexicons_on_sentences_written_after_the_rules() {
    let total = overall(&evaluate("content_safety_en_third.tsv", 30));
    assert!(total.precision() >= FLOOR_THIRD.0 && total.recall() >= FLOOR_THIRD.1, "{total:?}");
}

fn overall(stats: &[(Category, Stats)]) -> Stats {
    let total =
        stats.iter().fold(Stats::default(), |a, (_, s)| Stats { tp: a.tp + s.tp, fp: a.fp + s.fp, fn_: a.fn_ + s.fn_ });
    println!("all categories: precision {:.2}, recall {:.2}", total.precision(), total.recall());
    total
}

#[derive(Default, Clone, Copy, Debug)]
struct Stats {
    tp: usize,
    fp: usize,
    fn_: usize,
}

impl Stats {
    /// 1 when nothing was flagged (no false alarm).
    fn precision(&self) -> f64 {
        if self.tp + self.fp == 0 { 1.0 } else { self.tp as f64 / (self.tp + self.fp) as f64 }
    }

    fn recall(&self) -> f64 {
        self.tp as f64 / (self.tp + self.fn_).max(1) as f64
    }
}

/// Prints a category table and every miss and false alarm of one set.
fn evaluate(file: &str, at_least: usize) -> Vec<(Category, Stats)> {
    let cases = cases(file);
    assert!(cases.len() >= at_least, "{} cases", cases.len());
    let mut notes = Vec::new();
    let mut out = Vec::new();
    println!("{file}\n| category | precision | recall | flagged | labelled |\n|---|---:|---:|---:|---:|");
    for category in Category::ALL {
        let mut s = Stats::default();
        for (labels, text) in &cases {
            let severity = lexicon::severities(text).iter().find(|(c, _)| *c == category).map_or(0, |s| s.1);
            match (severity >= 2, labels.contains(&category)) {
                (true, true) => s.tp += 1,
                (true, false) => {
                    s.fp += 1;
                    notes.push(format!("false {}: {text}", category.name()));
                }
                (false, true) => {
                    s.fn_ += 1;
                    notes.push(format!("missed {}: {text}", category.name()));
                }
                (false, false) => {}
            }
        }
        println!(
            "| {} | {:.2} | {:.2} | {} | {} |",
            category.name(),
            s.precision(),
            s.recall(),
            s.tp + s.fp,
            s.tp + s.fn_
        );
        out.push((category, s));
    }
    for note in &notes {
        println!("{note}");
    }
    out
}
