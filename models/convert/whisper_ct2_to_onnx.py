#!/usr/bin/env python3
"""Build ONNX graphs of a Whisper model (encoder, and decoder with a key/value cache) from a
CTranslate2 Whisper model (faster-whisper format), with numpy and onnx only.

    python3 convert/whisper_ct2_to_onnx.py --package-dir UNPACKED_WHEELS --out MODEL_DIR

Reads model.bin (or its parts), config.json (for alignment_heads) and tokenizer.json from anywhere under UNPACKED_WHEELS (the
reader is whisper_ct2_to_ggml.py's) and writes to MODEL_DIR:

  encoder.onnx   mel float32 [N, n_mels, 3000] (Whisper's log-mel of a 30 s window)
                 -> cross_k{i} [N, heads, head_dim, 1500], cross_v{i} [N, heads, 1500, head_dim]
                 for each decoder layer i: the cross-attention keys (already transposed and
                 scaled by head_dim^-0.25) and values, computed once per window.
  decoder.onnx   tokens int64 [N, L], positions int64 [L] (of those tokens), mask float32
                 [L, P+L] (0 or -inf, added to the self-attention scores), past_k{i} /
                 past_v{i} [N, heads, P, head_dim], cross_k{i} / cross_v{i} from the encoder
                 -> logits float32 [N, n_vocab] of the last position, present_k{i} /
                 present_v{i} [N, heads, P+L, head_dim] (the cache for the next call).
                 alignment float32 [N, A, L, 1500]: the cross-attention weights of the A
                 alignment heads (config.json's alignment_heads, which OpenAI picked for
                 word timing) for each new token, for word timestamps by DTW.
  whisper.json   the dimensions above and the alignment heads.
  tokenizer.json copied from the package.

Why graphs of our own: no Whisper in ONNX is in a package registry (shared models notes), and
ONNX Runtime's MLAS kernels encode a 30 s window about four times faster than whisper.cpp on
the 2-core machine of docs/benchmarks.md (0.30 s against 1.23 s, measured before writing this).

Precision: the encoder keeps float32 weights (its matrix products are large and compute-bound,
and an exact match with CTranslate2's float32 encoder was checked: max abs difference 4e-4 on
outputs of magnitude 24). The decoder runs one token at a time, where reading the weights is
the cost, so its linear layers and the output projection (tied to the token embedding) are
stored as blocks of 32 int8 values with a float32 scale each (ONNX Runtime's MatMulNBits,
bits 8, computed with int8 activations: accuracy_level 4), like ggml's Q8_0; the token
embedding the decoder looks up is float16. Queries and keys are each scaled by
head_dim^-0.25, as OpenAI's implementation does.

The output is byte-deterministic for given onnx/protobuf/numpy versions (models/requirements.txt):
node names are numbered in a fixed order and nothing host- or time-dependent is written.
"""
import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from whisper_ct2_to_ggml import ConcatFile, CT2Model, check_whisper_graph, count_layers, find_model_bin

OPSET = 20  # Gelu is a standard operator from opset 20
IR_VERSION = 9  # onnxruntime 1.31 rejects the IR that recent onnx writes by default
FRAMES = 3000  # mel frames of a 30 s window
Q_BLOCK = 32  # values per int8 block of the decoder's weights
LN_EPS = 1e-5


class Graph:
    """Nodes and initializers with names numbered in creation order."""

    def __init__(self, model: CT2Model, quantized: bool):
        self.model, self.quantized = model, quantized
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, arr, dtype=np.float32, name: str | None = None) -> str:
        name = name or self.name("c")
        self.inits.append(numpy_helper.from_array(np.array(arr, dtype=dtype, order="C"), name))
        return name

    def op(self, kind: str, inputs: list[str], out: str | None = None, domain: str = "", **attrs) -> str:
        out = out or self.name(kind)
        self.nodes.append(helper.make_node(kind, inputs, [out], name=self.name("n"), domain=domain, **attrs))
        return out

    def weight(self, name: str) -> np.ndarray:
        return self.model.get(name).astype(np.float32)

    def matmul(self, x: str, w: np.ndarray, out: str | None = None) -> str:
        """x @ w.T for w [out, in]: float32 MatMul, or int8 blocks (MatMulNBits) when quantized."""
        if not self.quantized:
            return self.op("MatMul", [x, self.const(w.T)], out)
        n, k = w.shape
        if k % Q_BLOCK:
            sys.exit(f"a weight row of {k} values does not split into blocks of {Q_BLOCK}")
        blocks = w.reshape(n, k // Q_BLOCK, Q_BLOCK)
        scale = np.abs(blocks).max(axis=2) / 127.0
        inverse = np.divide(1.0, scale, out=np.zeros_like(scale), where=scale != 0)
        # Unsigned with MatMulNBits' default zero point 128: q - 128 is the signed value.
        q = (np.rint(blocks * inverse[:, :, None]) + 128).clip(1, 255).astype(np.uint8)
        return self.op("MatMulNBits", [x, self.const(q, np.uint8), self.const(scale.reshape(-1))], out,
                       domain="com.microsoft", K=k, N=n, bits=8, block_size=Q_BLOCK, accuracy_level=4)

    def linear(self, x: str, prefix: str, rows: slice = slice(None), bias: bool = True) -> str:
        w = self.weight(f"{prefix}/weight")[rows]
        y = self.matmul(x, w)
        if not bias:
            b = self.weight(f"{prefix}/bias")[rows] if f"{prefix}/bias" in self.model else np.zeros(1)
            if np.any(b != 0):
                sys.exit(f"{prefix}: a key projection with a non-zero bias")
            return y
        return self.op("Add", [y, self.const(self.weight(f"{prefix}/bias")[rows])])

    def layer_norm(self, x: str, prefix: str) -> str:
        gamma, beta = self.const(self.weight(f"{prefix}/gamma")), self.const(self.weight(f"{prefix}/beta"))
        return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=LN_EPS)

    def heads(self, x: str, dims: "Dims", perm: list[int]) -> str:
        """[N, T, d] -> [N, heads, T, head_dim] (perm 0,2,1,3) or [N, heads, head_dim, T] (0,2,3,1)."""
        return self.op("Transpose", [self.op("Reshape", [x, dims.split])], perm=perm)

    def merge(self, x: str, dims: "Dims") -> str:
        """[N, heads, T, head_dim] -> [N, T, d]."""
        return self.op("Reshape", [self.op("Transpose", [x], perm=[0, 2, 1, 3]), dims.joined])

    def attend(self, q: str, k_t: str, v: str, mask: str | None = None) -> tuple[str, str]:
        """softmax(q k^T (+ mask)) v with k given transposed and q, k both pre-scaled; returns
        the result and the attention weights."""
        scores = self.op("MatMul", [q, k_t])
        if mask:
            scores = self.op("Add", [scores, mask])
        weights = self.op("Softmax", [scores], axis=-1)
        return self.op("MatMul", [weights, v]), weights

    def save(self, name: str, inputs, outputs, path: Path):
        graph = helper.make_graph(self.nodes, name, inputs, outputs, self.inits)
        opsets = [helper.make_opsetid("", OPSET)] + ([helper.make_opsetid("com.microsoft", 1)] if self.quantized else [])
        model = helper.make_model(graph, opset_imports=opsets, producer_name="cogway whisper_ct2_to_onnx")
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model)
        onnx.save(model, str(path))


class Dims:
    def __init__(self, g: Graph, d: int, heads: int):
        self.d, self.heads, self.head_dim = d, heads, d // heads
        self.split = g.const([0, -1, heads, self.head_dim], np.int64)
        self.joined = g.const([0, -1, d], np.int64)
        self.scale = g.const(self.head_dim ** -0.25)


def tensor(name: str, dtype, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def build_encoder(model: CT2Model, n_text_layer: int, out: Path):
    g = Graph(model, quantized=False)
    d = model.vars["encoder/position_encodings/encodings"].shape[1]
    n_ctx = model.vars["encoder/position_encodings/encodings"].shape[0]
    n_mels = model.vars["encoder/conv1/weight"].shape[1]
    dims = Dims(g, d, model.scalar("encoder/num_heads"))
    conv1 = [g.const(g.weight("encoder/conv1/weight")), g.const(g.weight("encoder/conv1/bias"))]
    x = g.op("Gelu", [g.op("Conv", ["mel", *conv1], kernel_shape=[3], pads=[1, 1])])
    conv2 = [g.const(g.weight("encoder/conv2/weight")), g.const(g.weight("encoder/conv2/bias"))]
    x = g.op("Gelu", [g.op("Conv", [x, *conv2], kernel_shape=[3], pads=[1, 1], strides=[2])])
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    x = g.op("Add", [x, g.const(g.weight("encoder/position_encodings/encodings"))])
    for i in range(count_layers(model, "encoder")):
        p = f"encoder/layer_{i}"
        y = g.layer_norm(x, f"{p}/self_attention/layer_norm")
        fused, d_ = f"{p}/self_attention/linear_0", dims.d  # q, k, v rows
        q = g.op("Mul", [g.heads(g.linear(y, fused, slice(0, d_)), dims, [0, 2, 1, 3]), dims.scale])
        k = g.op("Mul", [g.heads(g.linear(y, fused, slice(d_, 2 * d_), bias=False), dims, [0, 2, 3, 1]), dims.scale])
        v = g.heads(g.linear(y, fused, slice(2 * d_, 3 * d_)), dims, [0, 2, 1, 3])
        x = g.op("Add", [x, g.linear(g.merge(g.attend(q, k, v)[0], dims), f"{p}/self_attention/linear_1")])
        y = g.op("Gelu", [g.linear(g.layer_norm(x, f"{p}/ffn/layer_norm"), f"{p}/ffn/linear_0")])
        x = g.op("Add", [x, g.linear(y, f"{p}/ffn/linear_1")])
    x = g.layer_norm(x, "encoder/layer_norm")
    outputs = []
    for i in range(n_text_layer):
        fused = f"decoder/layer_{i}/attention/linear_1"  # cross-attention k, v rows
        k = g.heads(g.linear(x, fused, slice(0, dims.d), bias=False), dims, [0, 2, 3, 1])
        g.op("Mul", [k, dims.scale], out=f"cross_k{i}")
        v = g.heads(g.linear(x, fused, slice(dims.d, 2 * dims.d)), dims, [0, 2, 1, 3])
        g.op("Identity", [v], out=f"cross_v{i}")
        outputs += [tensor(f"cross_k{i}", TensorProto.FLOAT, ["N", dims.heads, dims.head_dim, n_ctx]),
                    tensor(f"cross_v{i}", TensorProto.FLOAT, ["N", dims.heads, n_ctx, dims.head_dim])]
    g.save("whisper_encoder", [tensor("mel", TensorProto.FLOAT, ["N", n_mels, FRAMES])], outputs, out)


def build_decoder(model: CT2Model, alignment_heads: list[tuple[int, int]], out: Path):
    g = Graph(model, quantized=True)
    aligned = []  # the cross-attention weights of the alignment heads, in their order
    embedding = g.weight("decoder/embeddings/weight")
    n_vocab, d = embedding.shape
    dims = Dims(g, d, model.scalar("decoder/num_heads"))
    x = g.op("Gather", [g.const(embedding, np.float16), "tokens"], axis=0)
    x = g.op("Cast", [x], to=TensorProto.FLOAT)
    positions = g.op("Gather", [g.const(g.weight("decoder/position_encodings/encodings")), "positions"], axis=0)
    x = g.op("Add", [x, positions])
    inputs = [tensor("tokens", TensorProto.INT64, ["N", "L"]), tensor("positions", TensorProto.INT64, ["L"]),
              tensor("mask", TensorProto.FLOAT, ["L", "PL"])]
    outputs = [tensor("logits", TensorProto.FLOAT, ["N", n_vocab])]
    cache = lambda name, t: tensor(name, TensorProto.FLOAT, ["N", dims.heads, t, dims.head_dim])
    for i in range(count_layers(model, "decoder")):
        p = f"decoder/layer_{i}"
        y = g.layer_norm(x, f"{p}/self_attention/layer_norm")
        fused = f"{p}/self_attention/linear_0"
        q = g.op("Mul", [g.heads(g.linear(y, fused, slice(0, d)), dims, [0, 2, 1, 3]), dims.scale])
        k = g.heads(g.linear(y, fused, slice(d, 2 * d), bias=False), dims, [0, 2, 1, 3])
        v = g.heads(g.linear(y, fused, slice(2 * d, 3 * d)), dims, [0, 2, 1, 3])
        k = g.op("Concat", [f"past_k{i}", k], out=f"present_k{i}", axis=2)
        v = g.op("Concat", [f"past_v{i}", v], out=f"present_v{i}", axis=2)
        k_t = g.op("Mul", [g.op("Transpose", [k], perm=[0, 1, 3, 2]), dims.scale])
        attended, _ = g.attend(q, k_t, v, "mask")
        x = g.op("Add", [x, g.linear(g.merge(attended, dims), f"{p}/self_attention/linear_1")])
        y = g.layer_norm(x, f"{p}/attention/layer_norm")
        q = g.op("Mul", [g.heads(g.linear(y, f"{p}/attention/linear_0"), dims, [0, 2, 1, 3]), dims.scale])
        attended, weights = g.attend(q, f"cross_k{i}", f"cross_v{i}")
        for head in (h for layer, h in alignment_heads if layer == i):
            aligned.append(g.op("Gather", [weights, g.const([head], np.int64)], axis=1))
        x = g.op("Add", [x, g.linear(g.merge(attended, dims), f"{p}/attention/linear_2")])
        y = g.op("Gelu", [g.linear(g.layer_norm(x, f"{p}/ffn/layer_norm"), f"{p}/ffn/linear_0")])
        x = g.op("Add", [x, g.linear(y, f"{p}/ffn/linear_1")])
        inputs += [cache(f"past_k{i}", "P"), cache(f"past_v{i}", "P"),
                   tensor(f"cross_k{i}", TensorProto.FLOAT, ["N", dims.heads, dims.head_dim, "T"]),
                   tensor(f"cross_v{i}", TensorProto.FLOAT, ["N", dims.heads, "T", dims.head_dim])]
        outputs += [cache(f"present_k{i}", "PL"), cache(f"present_v{i}", "PL")]
    if len(aligned) != len(alignment_heads):
        sys.exit(f"alignment heads {alignment_heads} are not all in the decoder")
    g.op("Concat", aligned, out="alignment", axis=1)
    outputs.append(tensor("alignment", TensorProto.FLOAT, ["N", len(aligned), "L", "T"]))
    x = g.layer_norm(x, "decoder/layer_norm")
    last = g.op("Gather", [x, g.const(-1, np.int64)], axis=1)  # [N, d]: the last position only
    g.matmul(last, embedding, out="logits")  # the output projection is the token embedding (tied)
    g.save("whisper_decoder", inputs, outputs, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    src = ConcatFile(find_model_bin(args.package_dir))
    model = CT2Model(src)
    check_whisper_graph(model, "this ONNX graph")
    tokenizers = sorted(args.package_dir.rglob("tokenizer.json"))
    if len(tokenizers) != 1:
        sys.exit(f"expected one tokenizer.json under {args.package_dir}, found {len(tokenizers)}")
    args.out.mkdir(parents=True, exist_ok=True)
    n_text_layer = count_layers(model, "decoder")
    build_encoder(model, n_text_layer, args.out / "encoder.onnx")
    configs = sorted(args.package_dir.rglob("config.json"))
    if len(configs) != 1:
        sys.exit(f"expected one config.json under {args.package_dir}, found {len(configs)}")
    listed = json.loads(configs[0].read_text(encoding="utf-8")).get("alignment_heads") or []
    alignment_heads = sorted((int(layer), int(head)) for layer, head in listed)
    if not alignment_heads:
        sys.exit("config.json lists no alignment_heads (needed for word timestamps)")
    build_decoder(model, alignment_heads, args.out / "decoder.onnx")
    n_vocab, d = model.vars["decoder/embeddings/weight"].shape
    heads = model.scalar("decoder/num_heads")
    config = {
        "n_mels": model.vars["encoder/conv1/weight"].shape[1],
        "n_audio_ctx": model.vars["encoder/position_encodings/encodings"].shape[0],
        "n_text_ctx": model.vars["decoder/position_encodings/encodings"].shape[0],
        "n_vocab": n_vocab,
        "n_text_layer": n_text_layer,
        "n_text_head": heads,
        "head_dim": d // heads,
        "alignment_heads": [list(h) for h in alignment_heads],
    }
    (args.out / "whisper.json").write_text(json.dumps(config, indent=1) + "\n")
    shutil.copyfile(tokenizers[0], args.out / "tokenizer.json")
    src.close()


if __name__ == "__main__":
    main()
