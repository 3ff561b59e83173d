#!/usr/bin/env python3
"""Anomaly detection benchmark: Cogway's Rust detector against the same method written in numpy, on the
same series, in one run.

    python3 tests/bench/anomaly_bench.py [--points N] [--repeat R] [--markdown PATH]

What is measured
  `entire/detect` on a generated series (a cycle, a slow rise, hash jitter, a spike every 997 points), without
  HTTP, for the two models a v1.1 request can reach with a known period:
    * sr        minutely, period 0: the spectral residual (FFT saliency, service constants), expected values
                from the skeleton points, Azure's margins and severity.
    * seasonal  hourly, period 24: robust seasonal decomposition (3 passes of a weighted local linear trend
                and per-phase medians), robust z-score vote, the same margins.
  rust   = the release example `anomaly_points` (services/decision/examples), one thread.
  numpy  = this script's port of the same steps (vectorised where numpy allows: FFTs, prefix sums, medians).
  Reported: points/s of each, the ratio, and whether both flag the same points (they must).

Needs: numpy in $COGWAY_CACHE/venv (tests/requirements.txt) and the release example
(`make bench-anomaly` builds it).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CACHE = Path(os.environ.get("COGWAY_CACHE", Path.home() / ".cache" / "cogway"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target"))
EPS = 1e-8


def series(points: int, period: int) -> np.ndarray:
    i = np.arange(points)
    cycle = 10.0 * np.sin(2 * math.pi * i / period) if period > 0 else 0.0
    jitter = ((i * 7919) % 101) / 25.0 - 2.0
    spike = np.where(i % 997 == 500, 40.0, 0.0)
    return 100.0 + 0.001 * i + cycle + jitter + spike


def average_filter(v: np.ndarray, window: int) -> np.ndarray:
    c = np.cumsum(v)
    out = np.empty_like(v)
    k = min(window, len(v))
    out[:k] = c[:k] / np.arange(1, k + 1)
    out[k:] = (c[k:] - c[:-k]) / window
    return out


def average_filter_padded(v: np.ndarray, window: int) -> np.ndarray:
    out = average_filter(v, window)
    c = np.cumsum(v)
    for i in range(1, min(window, len(v))):
        before = (c[i] - v[i]) / i
        out[i] = (c[i] + before * (window - i - 1)) / window
    return out


def robust_sigma(r: np.ndarray) -> float:
    dev = np.abs(r - np.median(r))
    mad = np.median(dev) / 0.6745
    return mad if mad > 1e-12 else dev.mean() * 1.2533


def max_anomalies(n: int, ratio: float) -> int:
    return min(max(math.ceil(n * ratio), 1), max(n // 2 - 1, 1))


# The spectral residual model.
def predict_next(v: np.ndarray) -> float:
    n = len(v)
    slopes = ((v[-1] - v[:-1]) / (n - 1 - np.arange(n - 1))).sum()
    return float(np.median(v) + slopes * 0.5 * (n + 1) / (n - 1))


def extended(x: np.ndarray) -> np.ndarray:
    s = np.sort(x)
    q = lambda p: s[int(round((len(x) - 1) * p))]  # noqa: E731
    q1, q2, q3 = q(0.25), q(0.5), q(0.75)
    lo, hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    inside = x[(x >= lo) & (x <= hi)][-6:]
    ahead = np.concatenate([np.full(6 - len(inside), q2), inside])
    return np.concatenate([x, np.full(5, predict_next(ahead))])


def saliency(x: np.ndarray) -> np.ndarray:
    f = np.fft.fft(x)
    mag = np.abs(f)
    log = np.where(mag > EPS, np.log(np.maximum(mag, EPS)), 0.0)
    avg = average_filter(log, 3)
    f = np.where(mag > EPS, f * (np.exp(log - avg) / np.maximum(mag, EPS)), 0)
    return np.abs(np.fft.ifft(f))


def sr_fit(x: np.ndarray, cap: int):
    n = len(x)
    s = saliency(extended(x))[:n]
    raw = np.abs(s - (a := average_filter_padded(s, 100))) / np.maximum(a, EPS)
    order = [i for i in np.argsort(-raw, kind="stable") if raw[i] >= 3.5][: max(cap, 1)]
    anomalous = np.zeros(n, bool)
    anomalous[order] = True
    skeleton = raw <= 1.0
    count = np.concatenate([[0], np.cumsum(skeleton)])
    total = np.concatenate([[0.0], np.cumsum(np.where(skeleton, x, 0.0))])
    every = np.concatenate([[0.0], np.cumsum(x)])
    i = np.arange(n)
    start = i // 2
    c = count[i + 1] - count[start]
    expected = np.where(c > 0, (total[i + 1] - total[start]) / np.maximum(c, 1), every[i + 1] / (i + 1))
    scores = np.clip(raw - 3.5 / 11.5, 0, 1)
    return average_filter(expected, 5), anomalous, scores


# The seasonal model.
def local_linear(x: np.ndarray, w: np.ndarray, window: int) -> np.ndarray:
    n = len(x)
    window = max(1, min(window, n))
    t = np.arange(n) - (n - 1) / 2

    def fit(weights):
        acc = [np.concatenate([[0.0], np.cumsum(v)]) for v in (weights, weights * t, weights * t * t, weights * x, weights * t * x)]
        start = np.minimum(np.maximum(np.arange(n) - window // 2, 0), n - window)
        sw, st, stt, sx, stx = (a[start + window] - a[start] for a in acc)
        with np.errstate(divide="ignore", invalid="ignore"):
            mt, mx = st / sw, sx / sw
            var = stt / sw - mt * mt
            slope = np.where(var > 1e-9, (stx / sw - mt * mx) / var, 0.0)
            line = mx + slope * (t - mt)
        return np.where(sw >= 2, line, np.where(sw > 0.5, mx, np.nan))

    line = fit(w)
    return np.where(np.isnan(line), fit(np.ones(n)), line)


def seasonal_fit(x: np.ndarray, period: int, cap: int):
    n = len(x)
    window = min(max((3 * period + 1) // 2, 7) | 1, n)
    w, seasonal = np.ones(n), np.zeros(n)
    cycles = math.ceil(n / period)
    for _ in range(3):
        trend = local_linear(x - seasonal, w, window)
        detr = np.full(cycles * period, np.nan)
        detr[:n] = np.where(w > 0, x - trend, np.nan)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shape = np.nan_to_num(np.nanmedian(detr.reshape(cycles, period), axis=0))
        shape -= shape.mean()
        seasonal = np.tile(shape, cycles)[:n]
        rem = x - trend - seasonal
        sigma = robust_sigma(rem)
        w = np.where((sigma > 0) & (np.abs(rem - np.median(rem)) > 4 * sigma), 0.0, 1.0)
    expected = trend + seasonal
    r = x - expected
    sigma, centre = robust_sigma(r), np.median(r)
    anomalous = np.zeros(n, bool)
    if sigma > 0:
        for sign in (1, -1):
            z = sign * (r - centre) / sigma
            top = [i for i in np.argsort(-z, kind="stable") if z[i] > 3.5][:cap]
            anomalous[top] = True
    return expected, anomalous, None


def finish(x, expected, anomalous, scores, sensitivity):
    anomalous = anomalous & (np.abs(x - expected) >= EPS)
    share = (100 - sensitivity) / 100
    if scores is not None:
        normal = x[~anomalous]
        base = 0.01 * (normal.max() - normal.min()) if len(normal) else 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            margin = np.where(anomalous & (scores > 0), np.abs(x - expected) / scores * share, base)
    else:
        margin = np.abs(expected) * share
    ub, lb = expected + margin, expected - margin
    ub = np.minimum(np.maximum(ub, ub.min()), max(x.max(), expected.max()))
    lb = np.minimum(np.maximum(lb, min(x.min(), expected.min())), lb.max())
    upper, lower = ub - expected, expected - lb
    above, below = ~anomalous & (x > ub), ~anomalous & (x < lb)
    upper = np.where(above, 1.01 * (x - expected), np.where(below, 1.01 * (expected - x), upper))
    lower = np.where(above | below, upper, lower)
    inside = anomalous & (x >= lb) & (x <= ub)
    anomalous = anomalous & ~inside if sensitivity < 100 else anomalous
    scale = np.where(np.abs(expected) > EPS, np.abs(expected), 0.3)
    severity = np.where(anomalous, np.minimum(np.abs(x - expected) / scale, 1.0), 0.0)
    return anomalous, upper, lower, severity


def numpy_entire(x: np.ndarray, model: str) -> np.ndarray:
    cap = max_anomalies(len(x), 0.25)
    expected, anomalous, scores = sr_fit(x, cap) if model == "sr" else seasonal_fit(x, 24, cap)
    return finish(x, expected, anomalous, scores, 99)[0]


def run_numpy(model: str, points: int, repeat: int) -> dict:
    x = series(points, 0 if model == "sr" else 24)
    flagged = numpy_entire(x, model)
    started = time.perf_counter()
    for _ in range(repeat):
        numpy_entire(x, model)
    seconds = time.perf_counter() - started
    return {"points_per_s": points * repeat / seconds, "anomalies": [int(i) for i in np.flatnonzero(flagged)]}


def run_rust(model: str, points: int, repeat: int) -> dict:
    exe = TARGET / "release" / "examples" / "anomaly_points"
    if not exe.exists():
        sys.exit(f"{exe} missing: cargo build --release -p cogway-decision --example anomaly_points")
    run = subprocess.run([exe, model, str(points), str(repeat)], capture_output=True, text=True, check=True)
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=8640, help="points per series (Azure's most: 8640)")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rows = []
    for model in ("sr", "seasonal"):
        rust = run_rust(model, args.points, args.repeat)
        baseline = run_numpy(model, args.points, args.repeat)
        same = rust["anomalies"] == baseline["anomalies"]
        rows.append((model, rust["points_per_s"], baseline["points_per_s"], len(rust["anomalies"]), same))
    lines = [
        f"entire/detect, {args.points} points, {args.repeat} runs each, one thread ({os.cpu_count()} cores)",
        "",
        "| model | rust points/s | numpy points/s | rust / numpy | anomalies | same anomalies |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for model, rust, base, count, same in rows:
        lines.append(f"| {model} | {rust:,.0f} | {base:,.0f} | {rust / base:.1f}x | {count} | {'yes' if same else 'NO'} |")
    print("\n".join(lines))
    if args.markdown:
        args.markdown.write_text("\n".join(lines) + "\n")
    if not all(r[4] for r in rows):
        sys.exit("the Rust detector and the numpy port disagree on the anomalies")


if __name__ == "__main__":
    main()
