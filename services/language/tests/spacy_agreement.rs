//! The NER port against spaCy itself: spaCy 3.8 with en_core_web_sm (installed from PyPI by
//! scripts/setup.sh into the cache's virtualenv) and the Rust port read the same corpus of
//! sentences written for this test (tests/data/ner_sentences_en.txt), one sentence per document
//! and then four per document, and their entities (span + label) must agree on at least 98% of
//! the entities either side finds.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use cogway_core::paths::{cache_dir, models_dir};
use cogway_language::ner::{EntityRecognizer, MODEL_NAME};

/// The checkout's root. Cargo sets CARGO_MANIFEST_DIR when it runs the test; the compile-time
/// value can name another checkout when clones share a target directory (as CI's does).
fn repo() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
        .join("../..")
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

struct Agreement {
    matched: usize,
    union: usize,
    theirs: usize,
    ours: usize,
    differences: Vec<String>,
}

fn compare(recognizer: &EntityRecognizer, texts: &[String], reference: &[Vec<Span>]) -> Agreement {
    let mut a = Agreement { matched: 0, union: 0, theirs: 0, ours: 0, differences: Vec::new() };
    // In batches, as the gateway and spaCy's `nlp.pipe` run them.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let found_all: Vec<_> = refs.chunks(64).flat_map(|batch| recognizer.recognize_documents(batch)).collect();
    for ((text, expected), found) in texts.iter().zip(reference).zip(found_all) {
        let chars = |byte: usize| text[..byte].chars().count();
        let found: HashSet<Span> = found.into_iter().map(|e| (chars(e.start), chars(e.end), e.label)).collect();
        let expected: HashSet<Span> = expected.iter().cloned().collect();
        a.matched += found.intersection(&expected).count();
        a.union += found.union(&expected).count();
        a.theirs += expected.len();
        a.ours += found.len();
        if found != expected {
            a.differences.push(format!("{text}\n  spaCy: {expected:?}\n  port:  {found:?}"));
        }
    }
    a
}

fn report(what: &str, texts: usize, a: &Agreement) -> f64 {
    let agreement = a.matched as f64 / a.union.max(1) as f64;
    println!(
        "NER agreement with spaCy over {texts} {what}: {} of {} entities agree ({:.2}%); spaCy found {}, the port {}; \
         {} texts differ",
        a.matched,
        a.union,
        agreement * 100.0,
        a.theirs,
        a.ours,
        a.differences.len()
    );
    for d in a.differences.iter().take(10) {
        println!("{d}");
    }
    agreement
}

#[test]
fn entities_agree_with_spacy_on_the_corpus() {
    let corpus = std::fs::read_to_string(repo().join("tests/data/ner_sentences_en.txt")).expect("corpus");
    let sentences: Vec<String> = corpus.lines().map(str::to_string).collect();
    assert!(sentences.len() >= 300, "the corpus has {} sentences", sentences.len());
    // The same sentences four at a time: documents of several sentences, where sentence
    // boundaries matter (spaCy takes them from its parser, the port from punctuation).
    let paragraphs: Vec<String> = sentences.chunks(4).map(|group| group.join(" ")).collect();
    let recognizer = EntityRecognizer::load(&models_dir().join(MODEL_NAME)).expect("run scripts/setup.sh");
    let all: Vec<String> = sentences.iter().chain(&paragraphs).cloned().collect();
    let reference = spacy_entities(&(all.join("\n") + "\n"));
    assert_eq!(reference.len(), all.len());
    let (by_sentence, by_paragraph) = reference.split_at(sentences.len());

    let a = compare(&recognizer, &sentences, by_sentence);
    let sentence_agreement = report("sentences", sentences.len(), &a);
    let b = compare(&recognizer, &paragraphs, by_paragraph);
    let paragraph_agreement = report("paragraphs of four sentences", paragraphs.len(), &b);
    assert!(a.theirs >= 300, "the corpus should hold at least 300 entities, spaCy found {}", a.theirs);
    assert!(sentence_agreement >= 0.98, "agreement {:.2}% is under 98%", sentence_agreement * 100.0);
    assert!(paragraph_agreement >= 0.98, "agreement {:.2}% is under 98%", paragraph_agreement * 100.0);
}
