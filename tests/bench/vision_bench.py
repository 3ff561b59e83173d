#!/usr/bin/env python3
"""Vision benchmark: Cogway's Image Analysis route against Python on the same ONNX models, measured in one run on this machine.

    python3 tests/bench/vision_bench.py [--markdown PATH] [--only tags|objects|read] [--threads N] ...

What is measured
  Three features, each on its own images, each image a JPEG decoded by the system under test:
    * tags     the six darknet photos (model store `darknet-photos`): EfficientNet-Lite0.
    * objects  the same photos: NanoDet-m (COCO).
    * read     four text images rendered once by the worker with Pillow and DejaVu Sans (an invoice
               page of 1000 x 700 with 9 lines, a 900 x 260 banner, a narrow receipt, a page of
               18 px print), saved as JPEG: PP-OCRv6 detector, orientation classifier, recogniser.
  Systems:
    * cogway   POST /computervision/imageanalysis:analyze?api-version=2024-02-01&features=F with the
               JPEG as the body, through the release gateway over HTTP on 127.0.0.1 (keep-alive, one
               connection per client), at 1 client and at 4 clients (closed loop; the gateway
               batches what is waiting). Latency is client wall-clock per request.
    * python   in the benchmark virtualenv, one image after another, timing decode + preprocessing +
               inference + post-processing per image:
                 tags/objects: onnxruntime (the same release as the gateway's) on the model store's
                 own model.onnx files, preprocessing and decoding in numpy as the gateway does them
                 (centre crop 224 for tags; 416 x 416 and the GFL box decoding + per-class NMS for
                 objects);
                 read: PyPI rapidocr 3.10.0 (its bundled PP-OCRv6 small det/rec and mobile cls
                 models are the same files as the model store's) with its defaults (detector
                 input: shorter side at least 736), and again with `Det.limit_side_len` 320, which
                 is the gateway's `vision.ocr_min_side`.
  Every system runs the same number of images (--count per feature, after one warm-up pass), with
  the same intra-op threads (--threads: the gateway's models.threads, onnxruntime's
  intra_op_num_threads). Reported: images/s, p50 and p99 latency, the ratios, and agreement: the
  top ImageNet class per photo (gateway: the most confident tag that is a class name), the set of
  object names per photo, and the lines read per text image (identical lines / lines).
  Memory: the gateway's VmRSS once loaded and VmHWM after the runs; each Python worker's peak RSS.

How
  One gateway (fresh SQLite database in a temporary directory, Vision only) serves every gateway
  run, with a key created through the admin API (rps 1,000,000, no quota), then is stopped before
  the Python workers run. The workers are this script (`worker FEATURE`) in
  $COGWAY_CACHE/bench-venv (tests/bench/requirements.txt, installed by the script or by
  `make bench-vision`).

Environment: COGWAY_BIN (default $CARGO_TARGET_DIR/release/cogway), CARGO_TARGET_DIR,
COGWAY_CACHE, COGWAY_MODELS_DIR. The orchestrating part uses the standard library only.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
from common import (MODELS, Client, Failure, Run, Skip, add_cogway_bin, arg_parser, build_kind, child_failure,
                    cpu_model, drive, ensure_venv, json_lines, load_notes, loaded_rss_mb, print_loaded_rss,
                    run_child, table)

FEATURES = ["tags", "objects", "read"]
PHOTOS = ["dog.jpg", "eagle.jpg", "giraffe.jpg", "horses.jpg", "person.jpg", "kite.jpg"]
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
DEFAULT_THREADS = 2
DEFAULT_COUNTS = {"tags": 60, "objects": 60, "read": 24}
CLIENTS = [1, 4]
WORKER_TIMEOUT = 900
ANALYZE = "/computervision/imageanalysis:analyze?api-version=2024-02-01&features="

INVOICE = ["INVOICE 2026-0042", "Example Trading Ltd", "12 Harbour Road, Portsmouth", "Item 1: Paper, 500 sheets 7.50",
           "Item 2: Blue pens x 10 4.20", "Item 3: Stapler 12.99", "Subtotal 24.69", "VAT 20% 4.94", "Total due 29.63 GBP"]
RECEIPT = ["CAFE CENTRAL", "Espresso 2.40", "Croissant 1.90", "Water 1.50", "TOTAL 5.80", "Thank you"]
PRINT = ["Payment is due within 30 days of the invoice date.", "Please quote the invoice number with your payment.",
         "Bank: Example Bank plc, sort code 12-34-56", "Account 12345678, reference INV-42"]
TEXT_IMAGES = [("invoice.jpg", (1000, 700), 40, INVOICE), ("banner.jpg", (900, 260), 64, ["HELLO 2026", "Opening soon"]),
               ("receipt.jpg", (420, 900), 34, RECEIPT), ("print.jpg", (1100, 400), 18, PRINT)]


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway(common.Gateway):
    loading = "the vision models"

    def __init__(self, binary: Path, threads: int):
        self.threads = threads
        super().__init__(binary)

    def settings(self) -> dict[str, str]:
        return {
            "COGWAY__MODELS__THREADS": str(self.threads),
            "COGWAY__SERVICES__LANGUAGE": "false",
            "COGWAY__SERVICES__SPEECH": "false",
            "COGWAY__SERVICES__TRANSLATION": "false",
            "COGWAY__SERVICES__VISION": "true",
        }

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        client = Client(self.port)
        try:
            return client.request(method, path, body, headers)
        finally:
            client.close()

    def probe(self, path: str, timeout: float) -> tuple[int, bytes]:
        try:
            status, _, body = self.request("GET", path)
        except (Failure, OSError) as e:
            return 0, repr(e).encode()
        return status, body

    def after_ready(self):
        body = json.dumps({"name": "vision-bench", "rps": 1_000_000}).encode()
        status, _, answer = self.request("POST", "/admin/keys", body, {
            "Ocp-Apim-Subscription-Key": self.admin_key, "Content-Type": "application/json"})
        if status not in (200, 201):
            raise self._fail(f"POST /admin/keys answered {status}: {answer[:300]!r}")
        self.key = json.loads(answer)["key"]


class AnalyzeOp:
    """A client thread's op: one connection, one analysis per call; fails on anything but 200."""

    def __init__(self, gateway: Gateway, feature: str):
        self.client, self.path = Client(gateway.port), ANALYZE + feature
        self.headers = {"Ocp-Apim-Subscription-Key": gateway.key, "Content-Type": "application/octet-stream"}

    def __call__(self, image: bytes) -> int:
        status, _, body = self.client.request("POST", self.path, image, self.headers)
        if status != 200:
            raise Failure(f"{self.path}: {status} {body[:200]!r}")
        return 1

    def analyze(self, image: bytes) -> dict:
        status, _, body = self.client.request("POST", self.path, image, self.headers)
        if status != 200:
            raise Failure(f"{self.path}: {status} {body[:200]!r}")
        return json.loads(body)

    def close(self):
        self.client.close()


def gateway_outputs(feature: str, answer: dict, classes: set[str]):
    """What the agreement check compares: the top class name, the object names, or the lines."""
    if feature == "tags":
        return next((t["name"] for t in answer["tagsResult"]["values"] if t["name"] in classes), None)
    if feature == "objects":
        return sorted({o["tags"][0]["name"] for o in answer["objectsResult"]["values"]})
    return [line["text"] for block in answer["readResult"]["blocks"] for line in block["lines"]]


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Row:
    feature: str
    system: str
    clients: int
    images: int = 0
    secs: float = 0.0
    p50: float = float("nan")
    p99: float = float("nan")
    error: str | None = None

    @property
    def rate(self) -> float:
        return self.images / self.secs if self.secs > 0 else 0.0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    outputs: dict[tuple[str, str], dict] = field(default_factory=dict)  # (feature, system) -> image -> output
    memory: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


def row_from_run(feature: str, system: str, run: Run) -> Row:
    row = Row(feature, system, run.clients, run.requests, run.elapsed, run.p50, run.p99)
    if run.errors:
        row.error = f"{run.errors} failed: {run.first_error}"
    return row


def run_gateway(args, report: Report, inputs: dict[str, list[tuple[str, bytes]]], classes: set[str]):
    try:
        gateway = Gateway(args.cogway_bin, args.threads)
    except Skip as e:
        report.notes.append(f"gateway skipped: {e}")
        print(f"  gateway skipped: {e}", flush=True)
        return
    try:
        report.memory.append(f"gateway: {gateway.rss_mb('VmRSS'):.0f} MB VmRSS with the vision models loaded")
        for feature in args.features:
            images = inputs[feature]
            op = AnalyzeOp(gateway, feature)
            try:
                report.outputs[(feature, "cogway")] = {
                    name: gateway_outputs(feature, op.analyze(data), classes) for name, data in images}
            finally:
                op.close()
            for clients in CLIENTS:
                run = drive(lambda f=feature: AnalyzeOp(gateway, f), [data for _, data in images], clients,
                            count=args.counts[feature])
                row = row_from_run(feature, f"cogway ({clients} client{'s' if clients > 1 else ''})", run)
                report.rows.append(row)
                print(f"  {feature:<8} cogway x{clients}: {row.rate:.2f} images/s, p50 {row.p50 * 1000:.0f} ms; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        report.memory.append(f"gateway: {gateway.rss_mb('VmHWM'):.0f} MB VmHWM after the runs")
    finally:
        gateway.stop()


def run_workers(args, report: Report, python: Path, image_dir: Path):
    jobs = [("tags", "python onnxruntime"), ("objects", "python onnxruntime"),
            ("read", "python rapidocr (defaults)"), ("read", "python rapidocr (min side 320)")]
    for feature, system in jobs:
        if feature not in args.features:
            continue
        cmd = [str(python), str(Path(__file__).resolve()), "worker", feature, "--threads", str(args.threads),
               "--count", str(args.counts[feature]), "--images", str(image_dir)]
        if "320" in system:
            cmd += ["--min-side", "320"]
        row = Row(feature, system, 1)
        report.rows.append(row)
        try:
            child = run_child(cmd, WORKER_TIMEOUT)
            if child.code != 0:
                raise child_failure(f"the {feature} worker", child)
            lines = json_lines(child.stdout)
            done = next((line for line in lines if "latencies" in line), None)
            if done is None:
                raise Skip(f"the {feature} worker printed no result")
        except Skip as e:
            row.error = str(e)
            print(f"  {feature:<8} {system}: skipped: {e}", flush=True)
            continue
        latencies = sorted(done["latencies"])
        row.images, row.secs = len(latencies), sum(latencies)
        row.p50 = latencies[len(latencies) // 2]
        row.p99 = latencies[max(0, -(-99 * len(latencies) // 100) - 1)]
        report.outputs[(feature, system)] = done["outputs"]
        report.versions.update(done.get("versions", {}))
        report.memory.append(f"{system} ({feature}): {loaded_rss_mb(lines) or 0:.0f} MB with the model loaded, "
                             f"peak {child.peak_rss_mb:.0f} MB")
        print(f"  {feature:<8} {system}: {row.rate:.2f} images/s, p50 {row.p50 * 1000:.0f} ms", flush=True)


# ---------------------------------------------------------------------------------------------
# The workers (run in the benchmark virtualenv)


def worker_render(out: Path):
    """Renders the text images as JPEG (Pillow, DejaVu Sans)."""
    from PIL import Image, ImageDraw, ImageFont

    out.mkdir(parents=True, exist_ok=True)
    for name, size, points, lines in TEXT_IMAGES:
        image = Image.new("RGB", size, "white")
        draw, font = ImageDraw.Draw(image), ImageFont.truetype(FONT, points)
        for i, line in enumerate(lines):
            draw.text((30, 30 + int(i * points * 1.6)), line, font=font, fill="black")
        image.save(out / name, quality=92)
    (out / "lines.json").write_text(json.dumps({name: lines for name, _, _, lines in TEXT_IMAGES}))


def center_crop(image, size=224):
    from PIL import Image

    scale = size * 256 / 224 / min(image.size)
    w, h = max(size, round(image.width * scale)), max(size, round(image.height * scale))
    image = image.resize((w, h), Image.BILINEAR)
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


def nanodet_decode(outputs: dict, width: int, height: int, labels: list[str]) -> list[str]:
    import numpy as np

    found = []
    for stride in (8, 16, 32):
        scores, boxes = outputs[f"cls_{stride}"][0], outputs[f"box_{stride}"][0]
        grid = 416 // stride
        bins = boxes.reshape(-1, 4, 11)
        soft = np.exp(bins - bins.max(-1, keepdims=True))
        dist = (soft / soft.sum(-1, keepdims=True) * np.arange(11)).sum(-1) * stride
        for cell, cls in zip(*np.where(scores > 0.35)):
            cx, cy = (cell % grid) * stride, (cell // grid) * stride
            l, t, r, b = dist[cell]
            found.append((float(scores[cell, cls]), int(cls), ((cx - l) * width / 416, (cy - t) * height / 416,
                                                               (cx + r) * width / 416, (cy + b) * height / 416)))
    found.sort(key=lambda f: -f[0])
    kept = []
    for score, cls, box in found:
        def iou(other):
            x0, y0 = max(box[0], other[0]), max(box[1], other[1])
            x1, y1 = min(box[2], other[2]), min(box[3], other[3])
            inter = max(0, x1 - x0) * max(0, y1 - y0)
            union = (box[2] - box[0]) * (box[3] - box[1]) + (other[2] - other[0]) * (other[3] - other[1]) - inter
            return inter / union if union > 0 else 0
        if all(k[1] != cls or iou(k[2]) <= 0.5 for k in kept):
            kept.append((score, cls, box))
    return sorted({labels[cls] for _, cls, _ in kept})


def worker(argv: list[str]):
    import argparse

    ap = argparse.ArgumentParser(prog="vision_bench.py worker")
    ap.add_argument("feature", choices=FEATURES + ["render"])
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--min-side", type=int)
    args = ap.parse_args(argv)
    if args.feature == "render":
        worker_render(args.images)
        return
    import numpy as np
    import onnxruntime
    from PIL import Image

    versions = {"onnxruntime": onnxruntime.__version__}
    if args.feature == "read":
        files = [args.images / name for name, _, _, _ in TEXT_IMAGES]
        import rapidocr
        from rapidocr import RapidOCR

        params = {"Det.limit_side_len": args.min_side} if args.min_side else None
        engine = RapidOCR(params=params) if params else RapidOCR()
        versions["rapidocr"] = getattr(rapidocr, "__version__", "3.10.0")

        def run(path):
            result = engine(str(path))
            return list(result.txts or [])
    else:
        files = [MODELS / "darknet-photos" / name for name in PHOTOS]
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = args.threads
        model_dir = MODELS / ("efficientnet-lite0" if args.feature == "tags" else "nanodet-m")
        session = onnxruntime.InferenceSession(str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"])
        output_names = [o.name for o in session.get_outputs()]
        if args.feature == "tags":
            labels = [entry["name"] for entry in json.loads((model_dir / "labels.json").read_text())]

            def run(path):
                image = center_crop(Image.open(path).convert("RGB"))
                x = np.asarray(image, np.float32).transpose(2, 0, 1)[None]
                logits = session.run(["logits"], {"image": x})[0][0]
                return labels[int(np.argmax(logits))]
        else:
            labels = (model_dir / "labels.txt").read_text().split("\n")

            def run(path):
                image = Image.open(path).convert("RGB")
                x = np.asarray(image.resize((416, 416), Image.BILINEAR), np.float32).transpose(2, 0, 1)[None]
                outputs = dict(zip(output_names, session.run(None, {"image": x})))
                return nanodet_decode(outputs, image.width, image.height, labels)
    print_loaded_rss()
    outputs = {path.name: run(path) for path in files}  # the warm-up pass
    latencies = []
    for i in range(args.count):
        started = time.perf_counter()
        run(files[i % len(files)])
        latencies.append(time.perf_counter() - started)
    print(json.dumps({"latencies": latencies, "outputs": outputs, "versions": versions}), flush=True)


# ---------------------------------------------------------------------------------------------
# Output


def agreement(report: Report, feature: str, baseline: str, expected: dict | None) -> str | None:
    ours, theirs = report.outputs.get((feature, "cogway")), report.outputs.get((feature, baseline))
    if ours is None or theirs is None:
        return None
    if feature == "read":
        total = sum(len(lines) for lines in expected.values())
        same = lambda out: sum(len(set(out.get(k, [])) & set(v)) for k, v in expected.items())  # noqa: E731
        return (f"read: lines read exactly as drawn, of {total}: cogway {same(ours)}, {baseline} {same(theirs)}")
    same = sum(1 for k in ours if ours[k] == theirs.get(k))
    detail = "; ".join(f"{k}: {ours[k]} / {theirs.get(k)}" for k in sorted(ours))
    return f"{feature}: cogway and {baseline} agree on {same} of {len(ours)} photos ({detail})"


def render(args, report: Report, start_load: float, expected: dict | None, markdown: bool) -> str:
    cells = [[r.feature, r.system, str(r.images) if not r.error else "-", f"{r.rate:.2f}" if not r.error else "-",
              f"{r.p50 * 1000:.0f}" if not r.error else "-", f"{r.p99 * 1000:.0f}" if not r.error else "-"]
             for r in report.rows]
    out = [table(["feature", "system", "images", "images/s", "p50 ms", "p99 ms"], cells, markdown, 2), ""]
    for feature in args.features:
        rows = [r for r in report.rows if r.feature == feature and not r.error]
        base = [r for r in rows if not r.system.startswith("cogway")]
        for ours in (r for r in rows if r.system.startswith("cogway")):
            for theirs in base:
                out.append(f"- {feature}: {ours.system} / {theirs.system}: {ours.rate / theirs.rate:.2f}x images/s, "
                           f"p50 {ours.p50 / theirs.p50:.2f}x")
        for theirs in {r.system for r in base}:
            line = agreement(report, feature, theirs, expected)
            if line:
                out.append(f"- {line}")
    out += [f"- {m}" for m in report.memory]
    out.append(f"- machine: {cpu_model()}, {os.cpu_count()} CPUs; {build_kind(args.cogway_bin)}; threads {args.threads}; "
               f"versions {', '.join(f'{k} {v}' for k, v in sorted(report.versions.items()))}")
    out += [f"- note: {n}" for n in report.notes + load_notes(start_load)]
    out += [f"- error: {r.feature} {r.system}: {r.error}" for r in report.rows if r.error]
    return "\n".join(out)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker(sys.argv[2:])
        return 0
    ap = arg_parser(__doc__)
    ap.add_argument("--markdown", type=Path, help="also write the results as markdown to this file")
    ap.add_argument("--only", choices=FEATURES, help="one feature only")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    for feature in FEATURES:
        ap.add_argument(f"--{feature}-count", type=int, default=DEFAULT_COUNTS[feature],
                        help=f"timed images per system for {feature} (default {DEFAULT_COUNTS[feature]})")
    add_cogway_bin(ap)
    args = ap.parse_args()
    args.features = [args.only] if args.only else FEATURES
    args.counts = {f: getattr(args, f"{f}_count") for f in FEATURES}
    if args.threads < 1 or min(args.counts.values()) < 1:
        ap.error("threads and counts must be positive")
    start_load = os.getloadavg()[0]
    started = time.monotonic()
    report = Report()
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="cogway-vision-bench-") as tmp:
        image_dir = Path(tmp)
        render_run = subprocess.run([str(python), str(Path(__file__).resolve()), "worker", "render", "--images",
                                     str(image_dir)], capture_output=True, text=True, timeout=120)
        if render_run.returncode != 0:
            raise SystemExit(f"rendering the text images failed: {render_run.stderr[-500:]}")
        expected = json.loads((image_dir / "lines.json").read_text())
        photos = [(name, (MODELS / "darknet-photos" / name).read_bytes()) for name in PHOTOS]
        texts = [(name, (image_dir / name).read_bytes()) for name, _, _, _ in TEXT_IMAGES]
        inputs = {"tags": photos, "objects": photos, "read": texts}
        classes = {entry["name"] for entry in json.loads((MODELS / "efficientnet-lite0" / "labels.json").read_text())}
        print("through the gateway", flush=True)
        run_gateway(args, report, inputs, classes)
        print("python baselines", flush=True)
        run_workers(args, report, python, image_dir)
    report.notes.append(f"the whole benchmark took {time.monotonic() - started:.0f} s")
    print()
    print(render(args, report, start_load, expected, markdown=False))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("## Vision benchmark\n\n" + render(args, report, start_load, expected, True) + "\n")
        print(f"\nmarkdown written to {args.markdown}")
    return 1 if any(r.error for r in report.rows) else 0


if __name__ == "__main__":
    sys.exit(main())
