//! The NER port against spaCy itself: spaCy 3.8 with en_core_web_sm (installed from PyPI by
//! scripts/setup.sh into the cache's virtualenv) and the Rust port read the same corpus of
//! sentences written for this test (tests/data/ner_sentences_en.txt), and their entities (span +
//! label) must agree on at least 98% of the entities either side finds.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cogway_language::ner::{EntityRecognizer, MODEL_NAME};

fn cache_dir() -> PathBuf {
    std::env::var_os("COGWAY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache").join("cogway"))
}

fn models_dir() -> PathBuf {
    std::env::var_os("COGWAY_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| cache_dir().join("models"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

type Span = (usize, usize, String);

/// spaCy's entities per line, character offsets.
fn spacy_entities(corpus: &str) -> Vec<Vec<Span>> {
    let python = std::env::var_os("COGWAY_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| cache_dir().join("venv").join("bin").join("python"));
    let mut child = Command::new(&python)
        .arg(repo().join("tests/ner/spacy_entities.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {} (run scripts/setup.sh): {e}", python.display()));
    child.stdin.take().expect("stdin").write_all(corpus.as_bytes()).expect("write corpus");
    let output = child.wait_with_output().expect("spaCy run");
    assert!(output.status.success(), "spaCy failed");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| serde_json::from_str::<Vec<(usize, usize, String)>>(line).expect("spaCy JSON line"))
        .collect()
}

#[test]
fn entities_agree_with_spacy_on_the_corpus() {
    let corpus = std::fs::read_to_string(repo().join("tests/data/ner_sentences_en.txt")).expect("corpus");
    let lines: Vec<&str> = corpus.lines().collect();
    assert!(lines.len() >= 300, "the corpus has {} sentences", lines.len());
    let recognizer = EntityRecognizer::load(&models_dir().join(MODEL_NAME)).expect("run scripts/setup.sh");
    let reference = spacy_entities(&corpus);
    assert_eq!(reference.len(), lines.len());

    let (mut matched, mut union, mut theirs, mut ours) = (0, 0, 0, 0);
    let mut differences = Vec::new();
    for (line, expected) in lines.iter().zip(&reference) {
        let chars = |byte: usize| line[..byte].chars().count();
        let found: HashSet<Span> =
            recognizer.recognize_document(line).into_iter().map(|e| (chars(e.start), chars(e.end), e.label)).collect();
        let expected: HashSet<Span> = expected.iter().cloned().collect();
        matched += found.intersection(&expected).count();
        union += found.union(&expected).count();
        theirs += expected.len();
        ours += found.len();
        if found != expected {
            differences.push(format!("{line}\n  spaCy: {expected:?}\n  port:  {found:?}"));
        }
    }
    let agreement = matched as f64 / union.max(1) as f64;
    println!(
        "NER agreement with spaCy over {} sentences: {matched} of {union} entities agree ({:.2}%); spaCy found {theirs}, \
         the port {ours}; {} sentences differ",
        lines.len(),
        agreement * 100.0,
        differences.len()
    );
    for d in differences.iter().take(20) {
        println!("{d}");
    }
    assert!(theirs >= 300, "the corpus should hold at least 300 entities, spaCy found {theirs}");
    assert!(agreement >= 0.98, "agreement {:.2}% is under 98%", agreement * 100.0);
}
