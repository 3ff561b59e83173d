"""Replicas and shared limits, measured in one run (`make bench-cluster`).

1. The added latency of Redis-backed limits: two replicas on the same PostgreSQL, one with
   `redis.url` (rate limit + quota checked by Redis scripts), one without (in-process governor and
   counters). The same cheap request (language detection of a short text, by a key with a
   character quota, so both the rate check and the quota charge run) is sent sequentially to each
   in alternation; medians and 90th percentiles, and their ratio.
2. Two replicas against one: throughput of a CPU-bound request (named-entity recognition of a
   paragraph) with 4 concurrent clients, against one replica directly, nginx in front of that one
   replica, and nginx in front of two replicas, on this machine.

Run by `scripts/test_cluster.sh --bench` (which starts the throwaway PostgreSQL and Redis); it
reuses the cluster tests' process helpers (tests/cluster/conftest.py).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cluster"))
import conftest as cluster  # noqa: E402

ANALYZE = "/language/:analyze-text?api-version=2023-04-01"
SHORT = "The weather is lovely today."
PARAGRAPH = (
    "Satya Nadella announced on Monday in Seattle that Microsoft will open a new research lab in Berlin "
    "with Angela Merkel and the Technical University of Munich. The lab, led by Maria Schmidt, will hire "
    "200 engineers by March 2027 and work with Siemens and SAP on industrial software. Later, Tim Cook "
    "visited Paris to meet Emmanuel Macron at the Elysee Palace about Apple's investment in France."
)


def doc_body(kind: str, text: str) -> dict:
    return {"kind": kind, "analysisInput": {"documents": [{"id": "1", "language": "en", "text": text}]}}


def start(name: str, workdir: Path, env: dict[str, str]) -> cluster.Replica:
    replica = cluster.Replica(name, cluster.cogway_binary(), workdir, cluster.free_port(), env)
    replica.start()
    replica.wait_listening()
    replica.wait_ready()
    return replica


def create_key(replica: cluster.Replica, admin_key: str, body: dict) -> str:
    r = requests.post(replica.url("/admin/keys"), json=body,
                      headers={"Ocp-Apim-Subscription-Key": admin_key}, timeout=30)
    r.raise_for_status()
    return r.json()["key"]


def latency(session: requests.Session, url: str, key: str, body: dict) -> float:
    t = time.perf_counter()
    r = session.post(url, json=body, headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)
    elapsed = time.perf_counter() - t
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return elapsed


def fresh_dir(parent: Path, name: str) -> Path:
    """A directory of its own for each nginx (the helper puts its files in `<dir>/nginx`)."""
    path = parent / name
    path.mkdir()
    return path


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def throughput(url: str, key: str, body: dict, clients: int, seconds: float) -> tuple[float, int]:
    done = [0] * clients
    errors = [0] * clients
    stop = time.monotonic() + seconds

    def client(i: int) -> None:
        s = requests.Session()
        while time.monotonic() < stop:
            r = s.post(url, json=body, headers={"Ocp-Apim-Subscription-Key": key}, timeout=60)
            if r.status_code == 200:
                done[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(done) / (time.monotonic() - t), sum(errors)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=600, help="sequential requests per replica (latency)")
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds per throughput run")
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--markdown", help="also write the results as a Markdown table to this file")
    args = ap.parse_args()
    pg_url = os.environ["COGWAY_CLUSTER_PG_URL"]
    redis_url = os.environ["COGWAY_CLUSTER_REDIS_URL"]
    admin = "bench-admin-key-" + secrets.token_hex(8)
    workdir = Path(tempfile.mkdtemp(prefix="cogway-cluster-bench-"))
    base_env = {
        "COGWAY__AUTH__JWT_SECRET": "bench-jwt-secret-" + secrets.token_hex(16),
        "COGWAY__AUTH__ADMIN_KEY": admin,
        "COGWAY__SERVER__EXIT_ON_STDIN_CLOSE": "true",
        "COGWAY__SERVER__WORKERS": "2",
        "COGWAY__DATABASE__URL": pg_url,
        "COGWAY__SERVICES__VISION": "false",
        "COGWAY__SERVICES__TRANSLATION": "false",
        "COGWAY__SERVICES__SPEECH": "false",
        "RUST_LOG": "warn",
    }
    lines: list[str] = []
    replicas: list[cluster.Replica] = []
    lb = None
    try:
        with_redis = start("redis", workdir, {**base_env, "COGWAY__REDIS__URL": redis_url})
        replicas.append(with_redis)
        local = start("local", workdir, base_env)
        replicas.append(local)
        key = create_key(with_redis, admin, {"name": "bench", "rps": 100000, "charsPerHour": 10**12})

        # 1. Redis-backed limits against in-process ones, alternating so drift hits both alike.
        body = doc_body("LanguageDetection", SHORT)
        sessions = {r.name: requests.Session() for r in (with_redis, local)}
        for r in (with_redis, local):  # warm up: connections, key caches, Redis counters
            for _ in range(50):
                latency(sessions[r.name], r.url(ANALYZE), key, body)
        times: dict[str, list[float]] = {"redis": [], "local": []}
        for _ in range(args.requests):
            for r in (with_redis, local):
                times[r.name].append(latency(sessions[r.name], r.url(ANALYZE), key, body))
        med_r, med_l = statistics.median(times["redis"]), statistics.median(times["local"])
        p90_r, p90_l = pct(times["redis"], 0.9), pct(times["local"], 0.9)
        lines.append("| Limits | median ms | p90 ms |")
        lines.append("|---|---|---|")
        lines.append(f"| in-process (governor, counters) | {med_l * 1000:.2f} | {p90_l * 1000:.2f} |")
        lines.append(f"| Redis (GCRA + quota scripts) | {med_r * 1000:.2f} | {p90_r * 1000:.2f} |")
        lines.append(f"| Redis - in-process | {(med_r - med_l) * 1000:+.2f} | {(p90_r - p90_l) * 1000:+.2f} |")
        lines.append(f"| ratio Redis / in-process | {med_r / med_l:.2f}x | {p90_r / p90_l:.2f}x |")
        lines.append("")
        print("\n".join(lines), flush=True)

        # 2. One replica against two (both with Redis, as a cluster runs).
        local.stop()
        replicas.remove(local)
        second = start("redis-2", workdir, {**base_env, "COGWAY__REDIS__URL": redis_url})
        replicas.append(second)
        body = doc_body("EntityRecognition", PARAGRAPH)
        for r in (with_redis, second):
            for _ in range(5):
                latency(sessions.get(r.name) or requests.Session(), r.url(ANALYZE), key, body)
        rows = []
        direct, errs = throughput(with_redis.url(ANALYZE), key, body, args.clients, args.seconds)
        rows.append(("1 replica, direct", direct, errs))
        lb = cluster.Nginx(fresh_dir(workdir, "lb1"), [with_redis.addr, with_redis.addr])  # the helper takes two upstreams
        one_lb, errs = throughput(lb.url(ANALYZE), key, body, args.clients, args.seconds)
        rows.append(("nginx -> 1 replica", one_lb, errs))
        lb.stop()
        lb = cluster.Nginx(fresh_dir(workdir, "lb2"), [with_redis.addr, second.addr])
        two_lb, errs = throughput(lb.url(ANALYZE), key, body, args.clients, args.seconds)
        rows.append(("nginx -> 2 replicas", two_lb, errs))
        table = [f"| {args.clients} clients, NER of a {len(PARAGRAPH)}-character paragraph | requests/s | vs 1 replica direct | errors |",
                 "|---|---|---|---|"]
        for name, rate, errs in rows:
            table.append(f"| {name} | {rate:.1f} | {rate / direct:.2f}x | {errs} |")
        print("\n".join(table), flush=True)
        lines.extend(table)
        cores = os.cpu_count()
        lines.append("")
        lines.append(f"({cores} cores; every process, the client included, shares them.)")
        if args.markdown:
            Path(args.markdown).write_text("\n".join(lines) + "\n", encoding="utf-8")
    finally:
        if lb is not None:
            lb.stop()
        for r in replicas:
            r.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
