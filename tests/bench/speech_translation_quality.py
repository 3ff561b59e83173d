#!/usr/bin/env python3
"""Speech translation quality: Whisper's own translation against transcription + text translation.

    python tests/bench/speech_translation_quality.py [--cogway-bin PATH] [--baseline-bin PATH] [--markdown PATH]

What is measured
  Fifteen sentences in Spanish, French, Portuguese, Catalan and German (three each, with reference
  English translations written for this script) are spoken by espeak-ng and sent to the gateway:
    * whisper translate    POST /v1/audio/translations (Whisper's translate task);
    * transcribe + MT      POST /v1/audio/transcriptions (language detected by Whisper), then
                           POST /translate?to=en with the detected language as `from` (Apertium or a
                           neural model; a language with no route to English counts as an empty answer);
    * the same two on --baseline-bin, a previous build, when given.
  Each answer is scored with chrF (character 6-grams, beta 2; 0 to 100) against the reference, and
  each whisper-translate request is sent twice to count answers that changed between two tries.
  The gateway runs with the speech and translation services. One run.
"""
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import speech_bench
from common import Skip, add_cogway_bin, arg_parser, build_kind

SENTENCES = {
    "es": [("Hola, buenos días. Me gustaría una taza de café, por favor.",
            "Hello, good morning. I would like a cup of coffee, please."),
           ("El tren a Madrid sale a las ocho de la mañana.", "The train to Madrid leaves at eight in the morning."),
           ("Mi hermana trabaja en un hospital cerca del río.", "My sister works in a hospital near the river.")],
    "fr": [("Bonjour, je voudrais réserver une table pour deux personnes.",
            "Hello, I would like to book a table for two people."),
           ("Le musée est fermé le lundi et ouvert le reste de la semaine.",
            "The museum is closed on Monday and open the rest of the week."),
           ("Nous avons acheté du pain et du fromage au marché.", "We bought bread and cheese at the market.")],
    "pt": [("Bom dia, onde fica a estação de comboios?", "Good morning, where is the train station?"),
           ("O meu irmão gosta muito de jogar futebol com os amigos.",
            "My brother really likes to play football with his friends."),
           ("A cidade tem muitas praias bonitas no verão.", "The city has many beautiful beaches in the summer.")],
    "ca": [("Bon dia, vull comprar un bitllet per a Barcelona.", "Good morning, I want to buy a ticket to Barcelona."),
           ("La biblioteca obre a les nou del matí.", "The library opens at nine in the morning."),
           ("El meu pare cuina molt bé el peix.", "My father cooks fish very well.")],
    "de": [("Guten Morgen, ich hätte gern eine Tasse Kaffee.", "Good morning, I would like a cup of coffee."),
           ("Der Zug nach Berlin fährt um acht Uhr ab.", "The train to Berlin leaves at eight o'clock."),
           ("Meine Schwester arbeitet in einem Krankenhaus.", "My sister works in a hospital.")],
}
ISO = {"spanish": "es", "french": "fr", "portuguese": "pt", "catalan": "ca", "german": "de", "english": "en"}


def chrf(reference: str, hypothesis: str, n: int = 6, beta: float = 2.0) -> float:
    """chrF (Popović 2015): character n-gram F-score averaged over n = 1..6, spaces collapsed."""
    ref = re.sub(r"\s+", " ", reference.lower()).strip()
    hyp = re.sub(r"\s+", " ", hypothesis.lower()).strip()
    precision = recall = 0.0
    orders = 0
    for size in range(1, n + 1):
        r = Counter(ref[i:i + size] for i in range(len(ref) - size + 1))
        h = Counter(hyp[i:i + size] for i in range(len(hyp) - size + 1))
        if not r:
            continue
        orders += 1
        if not h:
            continue
        matched = sum((r & h).values())
        precision += matched / sum(h.values())
        recall += matched / sum(r.values())
    if orders == 0:
        return 0.0
    precision, recall = precision / orders, recall / orders
    if precision + recall == 0:
        return 0.0
    return 100 * (1 + beta ** 2) * precision * recall / (beta ** 2 * precision + recall)


def multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    return speech_bench.multipart(fields, "file", path.name, path.read_bytes())


class Gateway(speech_bench.Gateway):
    def settings(self) -> dict[str, str]:
        return {"COGWAY__SERVICES__LANGUAGE": "false", "COGWAY__SERVICES__VISION": "false", **self.speech_settings}


def ask(g: Gateway, route: str, wav: Path, fields: dict[str, str]) -> dict:
    body, content_type = multipart(wav, {"model": "whisper-1", **fields})
    status, data, _ = g.request("POST", route, body, {"Authorization": f"Bearer {g.key}", "Content-Type": content_type},
                                timeout=300)
    if status != 200:
        raise Skip(f"{route} answered {status}: {data[:200]!r}")
    return json.loads(data)


def translate_text(g: Gateway, text: str, source: str) -> str:
    query = urllib.parse.urlencode({"api-version": "3.0", "to": "en", "from": source})
    status, data, _ = g.request("POST", f"/translate?{query}", json.dumps([{"text": text}]).encode(),
                                {"Ocp-Apim-Subscription-Key": g.key, "Content-Type": "application/json"})
    if status != 200:
        return ""  # no route from the detected language to English
    return json.loads(data)[0]["translations"][0]["text"]


def measure(binary: Path, clips: list[tuple[str, Path, str]]) -> dict:
    g = Gateway(binary, {"COGWAY__MODELS__THREADS": "2"})
    out = {"whisper": [], "mt": [], "changed": 0, "routes_missing": 0, "detected_right": 0}
    try:
        for language, wav, reference in clips:
            first = ask(g, "/v1/audio/translations", wav, {})["text"]
            again = ask(g, "/v1/audio/translations", wav, {})["text"]
            out["changed"] += first != again
            heard = ask(g, "/v1/audio/transcriptions", wav, {"response_format": "verbose_json"})
            detected = ISO.get(heard["language"], heard["language"])
            out["detected_right"] += detected == language
            if detected == "en":
                english = heard["text"]
            else:
                english = translate_text(g, heard["text"], detected)
                out["routes_missing"] += not english
            out["whisper"].append((language, chrf(reference, first), first))
            out["mt"].append((language, chrf(reference, english), english))
    finally:
        g.stop()
    return out


def main() -> int:
    ap = arg_parser(__doc__)
    add_cogway_bin(ap)
    ap.add_argument("--baseline-bin", type=Path, help="a previous gateway build to compare with")
    ap.add_argument("--markdown", type=Path)
    args = ap.parse_args()
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="cogway-st-"))
    clips = []
    for language, items in SENTENCES.items():
        for i, (source, reference) in enumerate(items):
            wav = work / f"{language}{i}.wav"
            subprocess.run(["espeak-ng", "-v", language, "-w", str(wav), source], check=True, capture_output=True,
                           timeout=60)
            clips.append((language, wav, reference))
    builds = [("this build", args.cogway_bin)] + ([("baseline", args.baseline_bin)] if args.baseline_bin else [])
    lines, notes = [], []
    for name, binary in builds:
        print(f"measuring {name}: {binary}", flush=True)
        result = measure(binary, clips)
        for method, label in (("whisper", "whisper translate"), ("mt", "transcribe + MT")):
            scores = result[method]
            per_language = [sum(s for l, s, _ in scores if l == lang) / 3 for lang in SENTENCES]
            lines.append([name, label, *(f"{v:.1f}" for v in per_language), f"{sum(s for _, s, _ in scores) / len(scores):.1f}"])
        notes.append(f"{name} ({binary}, {build_kind(binary)}): Whisper detected the right language for "
                     f"{result['detected_right']} of {len(clips)} clips; {result['routes_missing']} detected languages "
                     f"had no text route to English; {result['changed']} of {len(clips)} whisper-translate answers "
                     "changed between two identical requests")
        for (lang, score, text), (_, mt_score, mt_text) in zip(result["whisper"], result["mt"]):
            print(f"  {name} {lang} {score:5.1f} {text!r} | MT {mt_score:5.1f} {mt_text!r}", flush=True)
    columns = ["build", "method", *SENTENCES, "mean chrF"]
    notes.append(f"the whole measurement took {time.monotonic() - started:.0f} s")
    common.report(columns, lines, notes, args.markdown, text_columns=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
