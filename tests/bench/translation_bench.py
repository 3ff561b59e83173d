#!/usr/bin/env python3
"""Translation benchmark: Cogway's Translator route against the engines it wraps, measured in one run on this machine.

    python3 tests/bench/translation_bench.py [--markdown PATH] [--only apertium|neural] [--threads N] ...

What is measured
  Apertium en->es (rule-based), the same texts everywhere:
    * cogway         POST /translate?api-version=3.0&from=en&to=es, one element per request, through the
                     release gateway over HTTP on 127.0.0.1 (keep-alive connections, one per client thread).
                     The gateway keeps persistent Apertium pipelines (translation.pipelines_per_direction,
                     2 by default) and feeds them null-separated inputs.
    * apertium CLI   `apertium eng-spa` started per request (subprocess, the text on stdin): what an
                     integration without persistent pipelines does.
    Two workloads: "short", one ordinary English sentence per request (taken in turn from ~50 sentences
    written below), 8 client threads for 15 s after a 2 s warm-up; "long", one ~20,000-character text
    (those sentences joined into paragraphs) per request, 4 client threads doing 10 requests each after
    one warm-up request each. Reported: requests/s, characters/s (input characters), p50 and p99 latency,
    and the gateway / CLI ratios.

  Neural zh-Hans->en, the Argos zh->en package (CTranslate2, int8) of the model store:
    * cogway         POST /translate?api-version=3.0&from=zh-Hans&to=en with 10 elements (one short
                     sentence each) per request, 2 client threads; the gateway batches the sentences
                     of concurrent requests into one CTranslate2 call (ct2rs, models.threads threads).
    * python ct2     PyPI ctranslate2 + sentencepiece on the same package, unpacked into a temporary
                     directory: SentencePiece pieces in, ctranslate2.Translator(model/, device="cpu",
                     inter_threads=1, intra_threads=N), translate_batch(beam_size=1) on the same
                     batches of 10, one after another; pieces joined back with "\u2581" -> " ".
    Both: ~40 everyday Chinese sentences (below), one untimed round for warm-up (its outputs are the
    samples compared), then --neural-rounds timed rounds. Reported: sentences/s both ways, the ratio,
    how many of the 40 outputs are identical, and 3 sample translations from each.

  Memory: the gateway's VmRSS (/proc/PID/status) once its engines are loaded and after all the
  gateway runs, its VmHWM, and the RSS of the Apertium pipeline processes it started (children of
  the gateway, not counted in its own RSS); the Python CTranslate2 worker's peak RSS (ru_maxrss).

How
  One gateway (fresh SQLite database in a temporary directory, Language and Speech services off,
  models.threads = --threads) serves every gateway run; the script creates a key through the admin
  API with rps 1,000,000 and no quota, so the rate limiter and usage accounting run but refuse
  nothing. The gateway runs first and is stopped before the baselines run, so nothing it holds
  competes with them. The load generator (Python threads, closed loop: each client sends its next
  request when the previous answer is read) shares the cores with the system under test, the same
  way for both sides. Latency is client wall-clock per request (the response body read included);
  throughput is completed requests / (last completion - start). Every request must succeed; failures
  are counted and the first one is printed. The Python CTranslate2 baseline runs in the benchmark
  virtualenv as a child process (this script with `worker ct2`); its timing covers tokenization,
  translation and detokenization, as the gateway's does. The only network peer is 127.0.0.1 (plus
  the package index for the one-time setup).

  Run it on an otherwise idle machine: the script warns when the load average shows competition.

Setup (done by the script, idempotent; `make bench-translation` does the install itself first)
  * the virtualenv $COGWAY_CACHE/bench-venv with tests/bench/requirements.txt (pinned; shared with
    the speech benchmark, reinstalled when the file changes);
  * needs `apertium` with the eng-spa pair (Debian apertium-eng-spa, installed by `make setup`) and
    $COGWAY_MODELS_DIR/argos-zh-en/zh_en.argosmodel (`make models`).

Environment: COGWAY_BIN (the gateway; default $CARGO_TARGET_DIR/release/cogway), CARGO_TARGET_DIR
(default $COGWAY_CACHE/target), COGWAY_CACHE (default ~/.cache/cogway), COGWAY_MODELS_DIR.
The orchestrating part uses the standard library only.
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py, also for `worker ct2` in the virtualenv
import common
from common import (MODELS, Client, Failure, Run, Skip, add_cogway_bin, arg_parser, build_kind, child_failure,
                    cpu_model, drive, ensure_venv, json_lines, load_notes, loaded_rss_mb, print_loaded_rss,
                    proc_status_mb, run_child, table)

ARGOS_PACKAGE = MODELS / "argos-zh-en" / "zh_en.argosmodel"
ARGOS_ROOT = "translate-zh_en-1_9"  # the folder inside the zip
APERTIUM_CMD = ["apertium", "eng-spa"]

DEFAULT_THREADS = 2  # the gateway's models.threads and Python CTranslate2's intra_threads
SHORT_CLIENTS, SHORT_SECS, SHORT_WARMUP_SECS = 8, 15.0, 2.0
LONG_CLIENTS, LONG_REQUESTS, LONG_CHARS = 4, 10, 20_000  # LONG_REQUESTS per client
NEURAL_CLIENTS, NEURAL_BATCH, NEURAL_ROUNDS = 2, 10, 5
SAMPLES = 3

# Time limits, in seconds (those of pip and of the gateway's start and stop are in common.py).
REQUEST_TIMEOUT = 300  # one `apertium` run (a 20 KB text takes a few seconds); HTTP requests: common.py
WORKER_TIMEOUT = 900  # the whole Python CTranslate2 worker

# ~50 ordinary English sentences: the short workload takes them in turn; the long text joins them.
ENGLISH = [
    "The train to the city leaves every twenty minutes.",
    "My sister works as a nurse at the local hospital.",
    "We usually have dinner at seven in the evening.",
    "Please close the door when you leave the room.",
    "The children are playing in the garden.",
    "I bought fresh bread and milk at the market this morning.",
    "The meeting has been moved to Thursday afternoon.",
    "He reads the newspaper while he drinks his coffee.",
    "It rained all day, so we stayed at home.",
    "The library opens at nine and closes at six.",
    "She wants to learn to play the guitar.",
    "Our neighbours have a small black dog.",
    "The museum is free on the first Sunday of the month.",
    "I need to buy a new pair of shoes for the winter.",
    "The restaurant on the corner serves very good fish.",
    "They are going to spend their holidays in the mountains.",
    "Can you tell me where the nearest bank is?",
    "The weather will be sunny and warm tomorrow.",
    "My father repairs old bicycles in his free time.",
    "The students must finish their homework before Friday.",
    "We walked along the river after lunch.",
    "This house was built more than a hundred years ago.",
    "The doctor told him to rest for a few days.",
    "I have lived in this town since I was a child.",
    "The bus was late because of the heavy traffic.",
    "She sends her parents a letter every month.",
    "The shop sells fruit, vegetables and flowers.",
    "We need more chairs for the guests.",
    "The film starts at half past eight.",
    "He forgot his umbrella on the train.",
    "The teacher explained the lesson again.",
    "My brother plays football every Saturday morning.",
    "The hotel room had a beautiful view of the sea.",
    "Please send me the report by the end of the week.",
    "The cat sleeps on the sofa all afternoon.",
    "We are planning a party for her birthday.",
    "The road to the village is narrow and steep.",
    "I usually go to work by bike.",
    "The company opened a new office in the capital.",
    "Fresh water is important for good health.",
    "The old bridge was closed for repairs last year.",
    "They sold their car and bought a bigger one.",
    "The price of bread has gone up again.",
    "I will call you when I arrive at the airport.",
    "Our garden is full of roses in the summer.",
    "The children went to bed early because they were tired.",
    "She speaks three languages very well.",
    "The post office is next to the pharmacy.",
    "We watched the sun set over the lake.",
    "Thank you very much for your help yesterday.",
]

# ~40 short everyday Chinese sentences, one sentence each (the gateway splits elements into
# sentences; the baseline translates each string as given, so both see the same 40 inputs).
CHINESE = [
    "我们明天早上九点在火车站见面。",
    "今天天气很好，我们去公园散步吧。",
    "请问附近有没有便宜的餐厅？",
    "我每天早上喝一杯咖啡。",
    "这本书非常有意思。",
    "你周末有什么打算？",
    "我的手机没电了。",
    "他在一家大公司工作。",
    "这个苹果多少钱？",
    "我们下个月去北京旅游。",
    "请把窗户关上。",
    "孩子们在学校学习中文。",
    "我昨天晚上看了一部电影。",
    "医院在银行的旁边。",
    "她喜欢听音乐和画画。",
    "这家超市早上八点开门。",
    "我忘了带钥匙。",
    "你能帮我一个忙吗？",
    "火车晚点了半个小时。",
    "我妈妈做的饭很好吃。",
    "明天可能会下雨。",
    "我想预订一张去上海的机票。",
    "他每天骑自行车上班。",
    "这个房间太小了。",
    "我们应该多喝水。",
    "请给我一杯热茶。",
    "图书馆周日不开门。",
    "我的朋友下周过生日。",
    "这条路很安全。",
    "你最喜欢的颜色是什么？",
    "会议推迟到下午三点。",
    "我正在学习开车。",
    "商店里的人很多。",
    "他的哥哥是一名医生。",
    "请在这里签名。",
    "我们的航班已经取消了。",
    "冬天这里非常冷。",
    "我需要买一些水果和蔬菜。",
    "这个问题很容易回答。",
    "谢谢你的帮助。",
]


def long_text(chars: int) -> str:
    """At least `chars` characters of paragraphs of 5 sentences of ENGLISH (each paragraph starts
    further along the list, so the groupings vary), joined by blank lines."""
    paragraphs, total, k = [], 0, 0
    while total < chars:
        start = (k * 7) % len(ENGLISH)
        paragraph = " ".join(ENGLISH[(start + i) % len(ENGLISH)] for i in range(5))
        paragraphs.append(paragraph)
        total += len(paragraph) + 2
        k += 1
    return "\n\n".join(paragraphs)


def batches(items: list[str], size: int) -> list[list[str]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


# ---------------------------------------------------------------------------------------------
# Processes (the rest of them: common.py)


def descendants(pid: int) -> list[int]:
    """Every live process below pid (from the parent field of /proc/*/stat)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway(common.Gateway):
    """One `cogway serve` on 127.0.0.1 with a fresh SQLite database, Translation service only; `key`
    is the key it creates through the admin API once ready."""

    loading = "its engines"

    def __init__(self, binary: Path, threads: int):
        self.threads = threads
        super().__init__(binary)

    def settings(self) -> dict[str, str]:
        return {
            "COGWAY__MODELS__THREADS": str(self.threads),
            "COGWAY__SERVICES__LANGUAGE": "false",  # not part of the comparison; their models cost memory
            "COGWAY__SERVICES__SPEECH": "false",
            "COGWAY__SERVICES__TRANSLATION": "true",
            # Packages someone uploaded to the store must not add models (and memory) to the run.
            "COGWAY__TRANSLATION__USER_MODELS_DIR": str(self.workdir / "argos-user"),
        }

    def after_ready(self):
        self.key = self._create_key()

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60) -> tuple[int, dict, bytes]:
        """One request on a connection of its own; status 0 when it could not be made."""
        try:
            client = Client(self.port, timeout)
        except OSError as e:
            return 0, {}, repr(e).encode()
        try:
            return client.request(method, path, body, headers)
        except Failure as e:
            return 0, {}, str(e).encode()
        finally:
            client.close()

    def probe(self, path: str, timeout: float) -> tuple[int, bytes]:
        status, _, body = self.request("GET", path, timeout=timeout)
        return status, body

    def _create_key(self) -> str:
        """A key with no practical rate limit and no quota: the limiter and the usage accounting
        still run on every request, but refuse nothing (the admin key has the default 100 rps)."""
        body = json.dumps({"name": "translation-bench", "rps": 1_000_000}).encode()
        status, _, answer = self.request("POST", "/admin/keys", body, {
            "Ocp-Apim-Subscription-Key": self.admin_key, "Content-Type": "application/json"})
        if status not in (200, 201):
            raise self._fail(f"POST /admin/keys answered {status}: {answer[:300]!r}")
        return json.loads(answer)["key"]

    def children_rss_mb(self) -> tuple[int, float]:
        """(number, total VmRSS MB) of the processes the gateway started (its Apertium pipelines)."""
        pids = descendants(self.proc.pid)
        return len(pids), sum(proc_status_mb(p, "VmRSS") or 0.0 for p in pids)


def translate_path(source: str, target: str) -> str:
    return f"/translate?api-version=3.0&from={source}&to={target}"


def gateway_translate(client: Client, key: str, source: str, target: str,
                      texts: list[str]) -> tuple[list[str], dict]:
    """The translations of texts through POST /translate, and the response headers."""
    body = json.dumps([{"Text": t} for t in texts], ensure_ascii=False).encode()
    status, headers, data = client.request("POST", translate_path(source, target), body, {
        "Ocp-Apim-Subscription-Key": key, "Content-Type": "application/json"})
    if status != 200:
        raise Failure(f"POST /translate answered {status}: {data[:300]!r}")
    answer = json.loads(data)
    if len(answer) != len(texts):
        raise Failure(f"{len(answer)} results for {len(texts)} elements")
    out = [element["translations"][0]["text"] for element in answer]
    if any(t.strip() and not o.strip() for t, o in zip(texts, out)):
        raise Failure("an empty translation")
    return out, headers


def apertium_cli(text: str) -> str:
    """`apertium eng-spa` started for this one text."""
    try:
        run = subprocess.run(APERTIUM_CMD, input=text.encode(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             timeout=REQUEST_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as e:
        raise Failure(f"{' '.join(APERTIUM_CMD)}: {e}") from e
    out = run.stdout.decode(errors="replace")
    if run.returncode != 0 or not out.strip():
        raise Failure(f"{' '.join(APERTIUM_CMD)} exited {run.returncode}: {run.stderr.decode(errors='replace')[-300:]}")
    return out


class GatewayOp:
    """A client thread's op against the gateway: one connection, one request per call."""

    def __init__(self, gateway: Gateway, source: str, target: str, units):
        self.client = Client(gateway.port)
        self.key, self.source, self.target, self.units = gateway.key, source, target, units

    def __call__(self, texts: list[str]) -> int:
        gateway_translate(self.client, self.key, self.source, self.target, texts)
        return self.units(texts)

    def close(self):
        self.client.close()


def cli_op():
    def op(texts: list[str]) -> int:
        apertium_cli(texts[0])
        return len(texts[0])

    return op


def chars(texts: list[str]) -> int:
    return sum(len(t) for t in texts)


# ---------------------------------------------------------------------------------------------
# Results


@dataclass
class Row:
    workload: str  # "short" or "long"
    system: str
    run: Run | None = None
    skipped: str | None = None


@dataclass
class Neural:
    system: str
    clients: int
    sentences: int = 0
    secs: float = 0.0
    outputs: list[str] | None = None  # of the warm-up round, in CHINESE's order
    errors: int = 0
    first_error: str | None = None
    skipped: str | None = None

    @property
    def rate(self) -> float:
        return self.sentences / self.secs if self.secs > 0 else 0.0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    neural: list[Neural] = field(default_factory=list)
    routes: dict[str, str] = field(default_factory=dict)  # pair -> X-Cogway-Route
    samples: dict[str, str] = field(default_factory=dict)  # system -> translation of ENGLISH[0]
    memory: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    versions: dict[str, str] = field(default_factory=dict)


GATEWAY, CLI = "cogway", "apertium CLI"
GATEWAY_NEURAL, PYTHON_CT2 = "cogway", "python ctranslate2"


def measure(report: Report, workload: str, system: str, fn):
    row = Row(workload, system)
    print(f"  {workload:<6} {system:<14} ", end="", flush=True)
    try:
        row.run = fn()
    except Skip as e:
        row.skipped = str(e)
    report.rows.append(row)
    r = row.run
    if r is None:
        print(f"skipped: {row.skipped}", flush=True)
        return
    print(f"{r.requests} requests in {r.elapsed:.1f} s: {r.rate:.1f} req/s, {r.units_rate:,.0f} chars/s, "
          f"p50 {r.p50 * 1000:.1f} ms, p99 {r.p99 * 1000:.1f} ms"
          + (f", {r.errors} FAILED (first: {r.first_error})" if r.errors else "")
          + f"; load {os.getloadavg()[0]:.1f}", flush=True)


def run_gateway_apertium(args, gateway: Gateway, report: Report):
    run_workloads(args, report, GATEWAY, lambda: GatewayOp(gateway, "en", "es", chars))


def run_workloads(args, report: Report, system: str, make_op):
    """The short and long Apertium workloads for one system, each after its discarded warm-up."""
    short_inputs = [[s] for s in ENGLISH]
    long_inputs = [[long_text(args.long_chars)]]

    def short():
        drive(make_op, short_inputs, args.short_clients, seconds=SHORT_WARMUP_SECS)  # warm-up, discarded
        return drive(make_op, short_inputs, args.short_clients, seconds=args.short_secs)

    def long():
        drive(make_op, long_inputs, args.long_clients, count=args.long_clients)  # one each, discarded
        return drive(make_op, long_inputs, args.long_clients, count=args.long_clients * args.long_requests)

    measure(report, "short", system, short)
    measure(report, "long", system, long)


def run_cli(args, report: Report):
    if shutil.which(APERTIUM_CMD[0]) is None:
        for workload in ("short", "long"):
            report.rows.append(Row(workload, CLI, skipped=f"`{APERTIUM_CMD[0]}` is not on PATH (run `make setup`)"))
        return
    try:
        report.samples[CLI] = apertium_cli(ENGLISH[0]).strip()
    except Failure as e:
        for workload in ("short", "long"):
            report.rows.append(Row(workload, CLI, skipped=str(e)))
        return
    run_workloads(args, report, CLI, cli_op)


def run_gateway_neural(args, gateway: Gateway, report: Report):
    result = Neural(GATEWAY_NEURAL, args.neural_clients)
    report.neural.append(result)
    print(f"  neural {GATEWAY_NEURAL:<20} ", end="", flush=True)
    groups = batches(CHINESE, args.neural_batch)
    client = Client(gateway.port)
    try:
        outputs = []
        for group in groups:  # the warm-up round, one request at a time; its outputs are compared
            out, headers = gateway_translate(client, gateway.key, "zh-Hans", "en", group)
            outputs += out
        result.outputs = outputs
        report.routes["zh-Hans->en"] = headers.get("x-cogway-route", "(no X-Cogway-Route header)")
    except Failure as e:
        result.skipped = str(e)
        print(f"skipped: {e}", flush=True)
        return
    finally:
        client.close()
    run = drive(lambda: GatewayOp(gateway, "zh-Hans", "en", len), groups, args.neural_clients,
                count=len(groups) * args.neural_rounds)
    result.sentences, result.secs = run.units, run.elapsed
    result.errors, result.first_error = run.errors, run.first_error
    print(f"{result.sentences} sentences in {result.secs:.1f} s: {result.rate:.1f} sentences/s"
          + (f", {run.errors} FAILED (first: {run.first_error})" if run.errors else "")
          + f"; load {os.getloadavg()[0]:.1f}", flush=True)


def run_gateway(args, report: Report):
    """Everything measured through the gateway, on one gateway; then its memory."""
    def skip_all(why: str):
        if args.only != "neural":
            report.rows += [Row("short", GATEWAY, skipped=why), Row("long", GATEWAY, skipped=why)]
        if args.only != "apertium":
            report.neural.append(Neural(GATEWAY_NEURAL, args.neural_clients, skipped=why))
        print(f"  skipped: {why}", flush=True)

    binary = args.cogway_bin
    if not binary.is_file():
        skip_all(f"no gateway binary at {binary} (set COGWAY_BIN or build it with `make release`)")
        return
    print(f"  starting {binary}", flush=True)
    try:
        gateway = Gateway(binary, args.threads)
    except (Skip, OSError) as e:
        skip_all(str(e))
        return
    try:
        loaded = gateway.rss_mb("VmRSS")
        n, children = gateway.children_rss_mb()
        report.memory.append(f"gateway VmRSS with its engines loaded (before the first request): {mb(loaded)} MB "
                             f"(+ {n} preloaded Apertium pipeline processes, {children:.0f} MB)")
        client = Client(gateway.port)
        try:
            out, headers = gateway_translate(client, gateway.key, "en", "es", [ENGLISH[0]])
            report.samples[GATEWAY] = out[0]
            report.routes["en->es"] = headers.get("x-cogway-route", "(no X-Cogway-Route header)")
        except Failure as e:
            report.notes.append(f"the first en->es request failed: {e}")
        finally:
            client.close()
        if args.only != "neural":
            run_gateway_apertium(args, gateway, report)
        if args.only != "apertium":
            run_gateway_neural(args, gateway, report)
        rss, hwm = gateway.rss_mb("VmRSS"), gateway.rss_mb("VmHWM")
        n, children = gateway.children_rss_mb()
        report.memory.append(f"gateway VmRSS after the runs: {mb(rss)} MB (peak VmHWM {mb(hwm)} MB); its {n} "
                             f"Apertium pipeline processes (not in its RSS): {children:.0f} MB")
    finally:
        gateway.stop()


def unpack_argos(into: Path) -> Path:
    """The package's root folder (model/ and sentencepiece.model) unpacked from the zip."""
    if not ARGOS_PACKAGE.is_file():
        raise Skip(f"{ARGOS_PACKAGE} is missing (run `make models`)")
    with zipfile.ZipFile(ARGOS_PACKAGE) as z:
        for member in z.namelist():
            if member.startswith(f"{ARGOS_ROOT}/model/") or member == f"{ARGOS_ROOT}/sentencepiece.model":
                z.extract(member, into)
    root = into / ARGOS_ROOT
    if not (root / "model" / "model.bin").is_file() or not (root / "sentencepiece.model").is_file():
        raise Skip(f"{ARGOS_PACKAGE} has no {ARGOS_ROOT}/model/model.bin or sentencepiece.model")
    return root


def run_python_ct2(args, report: Report, python: Path | None, python_missing: str):
    result = Neural(PYTHON_CT2, 1)
    report.neural.append(result)
    print(f"  neural {PYTHON_CT2:<20} ", end="", flush=True)
    try:
        if python is None:
            raise Skip(f"no benchmark virtualenv ({python_missing})")
        with tempfile.TemporaryDirectory(prefix="cogway-bench-argos-") as tmp:
            root = unpack_argos(Path(tmp))
            cmd = [str(python), str(Path(__file__).resolve()), "worker", "ct2", "--package", str(root),
                   "--threads", str(args.threads), "--batch", str(args.neural_batch),
                   "--rounds", str(args.neural_rounds)]
            child = run_child(cmd, WORKER_TIMEOUT)
        if child.code != 0:
            raise child_failure("the ctranslate2 worker", child)
        lines = json_lines(child.stdout)
        done = next((line for line in lines if "secs" in line), None)
        if done is None:
            raise Skip("the ctranslate2 worker printed no result")
    except Skip as e:
        result.skipped = str(e)
        print(f"skipped: {e}", flush=True)
        return
    result.sentences, result.secs, result.outputs = done["sentences"], done["secs"], done["outputs"]
    report.versions.update(done.get("versions", {}))
    loaded = loaded_rss_mb(lines)
    report.memory.append(f"python ctranslate2 worker: {mb(loaded)} MB with the model loaded, peak "
                         f"{child.peak_rss_mb:.0f} MB (ru_maxrss, its interpreter included)")
    print(f"{result.sentences} sentences in {result.secs:.1f} s: {result.rate:.1f} sentences/s; "
          f"load {os.getloadavg()[0]:.1f}", flush=True)


# ---------------------------------------------------------------------------------------------
# The worker (runs in the benchmark virtualenv)


def worker_ct2(argv: list[str]):
    ap = argparse.ArgumentParser(prog="translation_bench.py worker ct2")
    ap.add_argument("--package", type=Path, required=True, help="the unpacked package root")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    ap.add_argument("--batch", type=int, default=NEURAL_BATCH)
    ap.add_argument("--rounds", type=int, default=NEURAL_ROUNDS)
    args = ap.parse_args(argv)

    import ctranslate2
    import sentencepiece

    tokenizer = sentencepiece.SentencePieceProcessor(model_file=str(args.package / "sentencepiece.model"))
    translator = ctranslate2.Translator(str(args.package / "model"), device="cpu", inter_threads=1,
                                        intra_threads=args.threads)
    print_loaded_rss()

    def translate(group: list[str]) -> list[str]:
        pieces = tokenizer.encode(group, out_type=str)
        results = translator.translate_batch(pieces, beam_size=1)
        return ["".join(r.hypotheses[0]).replace("\u2581", " ").strip() for r in results]

    groups = batches(CHINESE, args.batch)
    outputs = [text for group in groups for text in translate(group)]  # the warm-up round
    started = time.perf_counter()
    sentences = 0
    for _ in range(args.rounds):
        for group in groups:
            sentences += len(translate(group))
    secs = time.perf_counter() - started
    print(json.dumps({"secs": secs, "sentences": sentences, "outputs": outputs,
                      "versions": {"ctranslate2": ctranslate2.__version__,
                                   "sentencepiece": sentencepiece.__version__}}), flush=True)


# ---------------------------------------------------------------------------------------------
# Output


def fmt_ms(secs: float) -> str:
    return "-" if math.isnan(secs) else f"{secs * 1000:,.1f}"


def ratio(a: float | None, b: float | None) -> str:
    """a / b, or "-" when either is missing, zero or not a number."""
    if not a or not b or math.isnan(a) or math.isnan(b):
        return "-"
    return f"{a / b:.3g}x"


def mb(value: float | None) -> str:
    return "?" if value is None else f"{value:.0f}"


APERTIUM_COLUMNS = ["workload", "system", "clients", "requests", "failed", "req/s", "chars/s", "p50 ms", "p99 ms"]
NEURAL_COLUMNS = ["system", "clients", "sentences", "seconds", "sentences/s", "failed"]


def apertium_cells(row: Row) -> list[str]:
    r = row.run
    if r is None:
        return [row.workload, row.system, "skipped"] + [""] * (len(APERTIUM_COLUMNS) - 3)
    return [row.workload, row.system, str(r.clients), str(r.requests), str(r.errors), f"{r.rate:,.1f}",
            f"{r.units_rate:,.0f}", fmt_ms(r.p50), fmt_ms(r.p99)]


def neural_cells(n: Neural) -> list[str]:
    if n.skipped:
        return [n.system, str(n.clients), "skipped"] + [""] * (len(NEURAL_COLUMNS) - 3)
    return [n.system, str(n.clients), str(n.sentences), f"{n.secs:.1f}", f"{n.rate:.1f}", str(n.errors)]


def apertium_ratios(report: Report) -> list[str]:
    def find(workload, system):
        return next((r.run for r in report.rows if (r.workload, r.system) == (workload, system) and r.run), None)

    out = []
    for workload in ("short", "long"):
        g, c = find(workload, GATEWAY), find(workload, CLI)
        if g and c:
            out.append(f"{workload}: {ratio(g.units_rate, c.units_rate)} the characters/s "
                       f"({ratio(g.rate, c.rate)} requests/s), p50 {ratio(g.p50, c.p50)}, p99 {ratio(g.p99, c.p99)}")
    return out


def neural_lines(report: Report) -> list[str]:
    g = next((n for n in report.neural if n.system == GATEWAY_NEURAL and not n.skipped), None)
    p = next((n for n in report.neural if n.system == PYTHON_CT2 and not n.skipped), None)
    out = []
    if g and p:
        out.append(f"gateway / Python CTranslate2: {ratio(g.rate, p.rate)} the sentences/s "
                   f"({g.rate:.1f} vs {p.rate:.1f})")
    if g and p and g.outputs and p.outputs:
        same = sum(a == b for a, b in zip(g.outputs, p.outputs))
        out.append(f"identical outputs: {same} of {len(CHINESE)}")
    for i in range(min(SAMPLES, len(CHINESE))):
        if not ((g and g.outputs) or (p and p.outputs)):
            break
        out.append(f"sample {i + 1}: {CHINESE[i]}")
        for n in (g, p):
            if n and n.outputs:
                out.append(f"    {n.system + ':':<20} {n.outputs[i]}")
    return out


def machine_lines(args, report: Report, start_load: float) -> list[str]:
    cpu = cpu_model()
    binary = args.cogway_bin
    kind = build_kind(binary)
    lines = [
        f"machine: {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({cpu}), load average at the start "
        f"{start_load:.2f}",
        f"gateway: {binary} ({kind}); Translation service only; models.threads={args.threads}, HTTP workers one "
        f"per core, translation.pipelines_per_direction default (2), beam 1, batches of up to 32 sentences",
        f"short: one of {len(ENGLISH)} sentences ({min(map(len, ENGLISH))}-{max(map(len, ENGLISH))} characters) per "
        f"request, {args.short_clients} clients for {args.short_secs:.0f} s after a {SHORT_WARMUP_SECS:.0f} s warm-up; "
        f"long: one {len(long_text(args.long_chars)):,}-character text per request, {args.long_clients} clients x "
        f"{args.long_requests} requests after one each for warm-up",
        f"apertium CLI: `{' '.join(APERTIUM_CMD)}` started per request, the text on stdin",
        f"neural: {len(CHINESE)} Chinese sentences in requests (batches) of {args.neural_batch}, 1 warm-up round + "
        f"{args.neural_rounds} timed rounds; gateway with {args.neural_clients} clients, Python ctranslate2 "
        f"(inter_threads=1, intra_threads={args.threads}, beam 1) one batch after another",
    ]
    if report.versions:
        lines.append("baseline packages: " + ", ".join(f"{k} {v}" for k, v in report.versions.items()))
    for pair, route in report.routes.items():
        lines.append(f"X-Cogway-Route ({pair}): {route}")
    for system in (GATEWAY, CLI):
        if system in report.samples:
            lines.append(f"{system} on {ENGLISH[0]!r}: {report.samples[system]!r}")
    return lines


def render(args, report: Report, start_load: float, markdown: bool) -> str:
    out = []
    if report.rows:
        out += ["Apertium en->es: gateway (persistent pipelines) vs the apertium CLI started per request", "",
                table(APERTIUM_COLUMNS, [apertium_cells(r) for r in report.rows], markdown, 2), ""]
        ratios = apertium_ratios(report)
        if ratios:
            out += ["gateway / CLI:"] + [f"- {line}" if markdown else f"  {line}" for line in ratios] + [""]
    if report.neural:
        out += ["Neural zh-Hans->en (Argos zh->en 1.9, CTranslate2 int8, beam 1): gateway vs Python CTranslate2",
                "", table(NEURAL_COLUMNS, [neural_cells(n) for n in report.neural], markdown, 1), ""]
        lines = neural_lines(report)
        if markdown:
            lines = [f"- {line.strip()}" for line in lines]
        out += lines + [""]
    if report.memory:
        out += ["Memory:"] + [f"- {line}" for line in report.memory] + [""]
    notes = report.notes + [f"{r.workload} / {r.system} skipped: {r.skipped}" for r in report.rows if r.skipped]
    notes += [f"neural / {n.system} skipped: {n.skipped}" for n in report.neural if n.skipped]
    notes += [f"{r.workload} / {r.system}: {r.run.errors} failed requests, the first: {r.run.first_error}"
              for r in report.rows if r.run and r.run.errors]
    notes += [f"neural / {n.system}: {n.errors} failed requests, the first: {n.first_error}"
              for n in report.neural if n.errors]
    out += [f"- {line}" for line in machine_lines(args, report, start_load) + notes]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "worker" and sys.argv[2] == "ct2":
        worker_ct2(sys.argv[3:])
        return 0
    ap = arg_parser(__doc__)
    ap.add_argument("--markdown", type=Path, help="also write the results as markdown to this file")
    ap.add_argument("--only", choices=["apertium", "neural"], help="run one half only")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                    help=f"the gateway's models.threads and Python CTranslate2's intra_threads (default {DEFAULT_THREADS})")
    ap.add_argument("--short-clients", type=int, default=SHORT_CLIENTS)
    ap.add_argument("--short-secs", type=float, default=SHORT_SECS, help="timed seconds of the short workload")
    ap.add_argument("--long-clients", type=int, default=LONG_CLIENTS)
    ap.add_argument("--long-requests", type=int, default=LONG_REQUESTS, help="timed requests per long client")
    ap.add_argument("--long-chars", type=int, default=LONG_CHARS, help="least length of the long text")
    ap.add_argument("--neural-clients", type=int, default=NEURAL_CLIENTS)
    ap.add_argument("--neural-batch", type=int, default=NEURAL_BATCH, help="sentences (elements) per request")
    ap.add_argument("--neural-rounds", type=int, default=NEURAL_ROUNDS,
                    help=f"timed passes over the {len(CHINESE)} sentences")
    add_cogway_bin(ap)
    args = ap.parse_args()
    numbers = [args.threads, args.short_clients, args.long_clients, args.long_requests, args.neural_clients,
               args.neural_batch, args.neural_rounds, args.long_chars]
    if min(numbers) < 1 or args.short_secs <= 0:
        ap.error("counts, sizes and durations must be positive")
    if args.neural_batch > 1000:
        ap.error("--neural-batch: Azure's limit is 1,000 elements per request")
    if args.long_chars > 50_000:
        ap.error("--long-chars: Azure's limit is 50,000 characters per request")

    started = time.monotonic()
    start_load = os.getloadavg()[0]
    if start_load > 0.75:
        print(f"warning: the 1-minute load average is {start_load:.2f}: something else is using the CPU", flush=True)
    report = Report()
    python, python_missing = None, ""
    if args.only != "apertium":
        try:
            python = ensure_venv()
        except (Skip, subprocess.SubprocessError, OSError) as e:
            python_missing = str(e)

    print("through the gateway", flush=True)
    run_gateway(args, report)
    print("baselines", flush=True)
    if args.only != "neural":
        run_cli(args, report)
    if args.only != "apertium":
        run_python_ct2(args, report, python, python_missing)

    # Only the load average at the start: the one during the runs is mostly the benchmark's own (8
    # clients, 13 Apertium processes per pipeline; each progress line shows it).
    report.notes += load_notes(start_load)
    report.notes.append(f"the whole benchmark took {time.monotonic() - started:.0f} s")
    print()
    print(render(args, report, start_load, markdown=False))
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("## Translation benchmark\n\n" + render(args, report, start_load, markdown=True) + "\n")
        print(f"\nmarkdown written to {args.markdown}")
    failed = any(r.run and r.run.errors for r in report.rows) or any(n.errors for n in report.neural)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
