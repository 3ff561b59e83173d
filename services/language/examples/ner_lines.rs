//! Reads texts (one per line) on stdin and prints one JSON line per text: its entities
//! (character offsets, as Python counts them) and, with --tokens, its tokens. With --repeat N it
//! prints nothing per text and instead times N passes over all texts in batches of 256 (model
//! loading excluded),
//! printing `{"texts", "seconds", "texts_per_second"}`: the Rust side of the NER benchmark.
//!
//! cargo run --release -p cogway-language --example ner_lines -- <pipeline dir> [--tokens] [--no-sentences] [--repeat N]

use std::io::{BufRead, Write};
use std::time::Instant;

use cogway_language::ner::{Entity, EntityRecognizer};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("usage: ner_lines <pipeline dir> [--tokens] [--no-sentences] [--repeat N]"))?;
    let flag = |name: &str| args.iter().any(|a| a == name);
    let repeat: Option<usize> =
        args.iter().position(|a| a == "--repeat").and_then(|i| args.get(i + 1)).map(|n| n.parse()).transpose()?;
    let recognizer = EntityRecognizer::load(std::path::Path::new(dir))?;
    let sentences = !flag("--no-sentences");
    let find = |text: &str| -> Vec<Entity> {
        if sentences { recognizer.recognize_document(text) } else { recognizer.recognize(text, &[]) }
    };
    let lines: Vec<String> = std::io::stdin().lock().lines().collect::<Result<_, _>>()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if let Some(passes) = repeat {
        let started = Instant::now();
        let mut found = 0;
        // Batches of 256 texts, as spaCy's `nlp.pipe` batches them.
        let texts: Vec<&str> = lines.iter().map(String::as_str).collect();
        for _ in 0..passes {
            for batch in texts.chunks(256) {
                found += if sentences {
                    recognizer.recognize_documents(batch).iter().map(Vec::len).sum()
                } else {
                    batch.iter().map(|t| recognizer.recognize(t, &[]).len()).sum::<usize>()
                };
            }
        }
        let seconds = started.elapsed().as_secs_f64();
        let texts = lines.len() * passes;
        let record = serde_json::json!({ "texts": texts, "entities": found, "seconds": seconds, "texts_per_second": texts as f64 / seconds });
        writeln!(out, "{record}")?;
        return Ok(());
    }
    for line in &lines {
        let chars = |byte: usize| line[..byte].chars().count();
        let entities: Vec<_> = find(line)
            .into_iter()
            .map(|e| serde_json::json!([chars(e.start), chars(e.end), e.label, e.confidence]))
            .collect();
        let mut record = serde_json::json!({ "ents": entities });
        if flag("--tokens") {
            record["tokens"] = recognizer.tokens(line).iter().map(|&(s, e)| &line[s..e]).collect();
        }
        writeln!(out, "{record}")?;
    }
    Ok(())
}
