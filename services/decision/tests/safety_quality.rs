//! Precision and recall of the text harm lexicons on tests/data/content_safety_en.tsv, a set of
//! sentences written for this test (threats, reports of violence, hate, self-harm, sexual content,
//! and benign sentences that share their words). A category counts as flagged at severity 2 or
//! more. A second set (tests/data/content_safety_en_unseen.tsv) was written after the rules were
//! frozen and never used to tune them. Prints the figures
//! (`cargo test -p cogway-decision --test safety_quality -- --nocapture --test-threads=1`) and
//! fails below the floors documented in docs/api.md.

use cogway_decision::safety::{Category, lexicon};

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

/// The honest measure: sentences written after the rules were frozen. Per category the figures
/// are only printed (they are small samples); over all categories, what is flagged must mostly
/// be right (0.7) and a third of the harms must be found: floors just under the first measurement,
/// a guard against regressions, not a claim of quality.
#[test]
fn lexicons_on_sentences_written_after_the_rules() {
    let stats = evaluate("content_safety_en_unseen.tsv", 30);
    let total =
        stats.iter().fold(Stats::default(), |a, (_, s)| Stats { tp: a.tp + s.tp, fp: a.fp + s.fp, fn_: a.fn_ + s.fn_ });
    println!("all categories: precision {:.2}, recall {:.2}", total.precision(), total.recall());
    assert!(
        total.precision() >= 0.7 && total.recall() >= 0.3,
        "precision {:.2}, recall {:.2}",
        total.precision(),
        total.recall()
    );
}

#[derive(Default, Clone, Copy)]
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
