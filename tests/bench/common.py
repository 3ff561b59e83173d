"""What the benchmark scripts of this folder share (speech_bench.py, translation_bench.py, vision_bench.py).

Paths and time limits, processes and their memory (from /proc and wait4()), the benchmark virtualenv,
a `cogway serve` gateway on 127.0.0.1 with a fresh SQLite database, table rendering, load-average
notes and the command line's common parts. The standard library only: the scripts import it from
their orchestrating part and from their workers in the benchmark virtualenv alike.
"""
import argparse
import hashlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("COGWAY_CACHE") or Path.home() / ".cache" / "cogway").expanduser()
MODELS = Path(os.environ.get("COGWAY_MODELS_DIR") or CACHE / "models").expanduser()
TARGET = Path(os.environ.get("CARGO_TARGET_DIR") or CACHE / "target").expanduser()
VENV = CACHE / "bench-venv"
REQUIREMENTS = HERE / "requirements.txt"

# Time limits, in seconds.
REQUEST_TIMEOUT = 300  # one HTTP request to the gateway
MAX_ERRORS = 20  # a load run stops after this many failed requests
PIP_TIMEOUT = 1200
PORT_TIMEOUT = 120
READY_TIMEOUT = 600
STOP_TIMEOUT = 20


class Skip(Exception):
    """An engine, input or part that cannot be measured; the message says why."""


# ---------------------------------------------------------------------------------------------
# Processes and memory


def proc_status_mb(pid: int | str, key: str) -> float | None:
    """A memory line of /proc/PID/status in MB: VmHWM (peak RSS so far) or VmRSS (now)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{key}:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def print_loaded_rss():
    """A worker's JSON line with its RSS once its model is loaded (read back by loaded_rss_mb)."""
    print(json.dumps({"loaded_rss_mb": proc_status_mb("self", "VmRSS")}), flush=True)


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def loaded_rss_mb(lines: list[dict]) -> float | None:
    """The RSS a worker printed with print_loaded_rss, None if it printed none."""
    return next((line["loaded_rss_mb"] for line in lines if "loaded_rss_mb" in line), None)


@dataclass
class ChildResult:
    code: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    timed_out: bool


def run_child(cmd: list[str], timeout: float, env: dict | None = None) -> ChildResult:
    """Runs cmd to completion within timeout (killed after); returns its output and peak RSS,
    taken from wait4()'s rusage of that very process."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True, errors="replace")
    out: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, s=s: out.__setitem__(n, s.read()), daemon=True)
               for n, s in (("stdout", proc.stdout), ("stderr", proc.stderr))]
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    timed_out = False
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    for r in readers:
        r.join(5)
    return ChildResult(proc.returncode, out.get("stdout", ""), out.get("stderr", ""), usage.ru_maxrss / 1024, timed_out)


def child_failure(what: str, child: ChildResult) -> Skip:
    why = "timed out" if child.timed_out else f"exit {child.code}"
    tail = "\n".join(child.stderr.strip().splitlines()[-8:])
    return Skip(f"{what} failed ({why}): {tail}")


# ---------------------------------------------------------------------------------------------
# The benchmark virtualenv


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def ensure_venv() -> Path:
    """The benchmark virtualenv's python, with the pinned requirements (reinstalled when the
    requirements file changes; the stamp is the one both benchmarks and the Makefile write)."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"setup: creating {VENV}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, timeout=PIP_TIMEOUT)
    stamp = VENV / ".requirements.sha256"
    want = sha256(REQUIREMENTS)
    if not stamp.exists() or stamp.read_text().strip() != want:
        print(f"setup: installing {REQUIREMENTS.relative_to(REPO)} into {VENV}", flush=True)
        run = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                              "-r", str(REQUIREMENTS)], capture_output=True, text=True, timeout=PIP_TIMEOUT)
        if run.returncode != 0:
            raise Skip(f"pip install failed: {run.stderr.strip()[-500:]}")
        stamp.write_text(want + "\n")
    return python


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway:
    """One `cogway serve` on 127.0.0.1 with a fresh SQLite database in a temporary directory.

    A script subclasses it with settings() (the COGWAY__ settings under test, which may name paths
    in self.workdir), request() (how it talks to the gateway) and probe() (GET /ready with that
    request); after_ready() may do more before the gateway counts as started (create a key).
    `key` is the key requests use: the admin key unless after_ready() sets another."""

    loading = "models"  # what the gateway loads before /ready answers 200, for an error message

    def __init__(self, binary: Path):
        self.admin_key = secrets.token_hex(16)
        self.key = self.admin_key
        self.workdir = Path(tempfile.mkdtemp(prefix="cogway-bench-"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("COGWAY__")}
        env.update({
            "COGWAY__AUTH__ADMIN_KEY": self.admin_key,
            "COGWAY__MODELS__DIR": str(MODELS),
            "COGWAY__SERVER__EXIT_ON_STDIN_CLOSE": "true",  # it cannot outlive this script
            "COGWAY__LOG__LEVEL": "warn",
        })
        env.update(self.settings())
        self.log = open(self.workdir / "stderr.log", "w")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--host", "127.0.0.1", "--port", "0",
             "--database", f"sqlite://{self.workdir / 'cogway.db'}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, cwd=self.workdir, env=env,
            text=True, errors="replace")
        self.port = None
        try:
            self.port = self._wait_for_port()
            self._wait_until_ready()
            self.after_ready()
        except BaseException:
            self.stop()
            raise

    def settings(self) -> dict[str, str]:
        raise NotImplementedError

    def probe(self, path: str, timeout: float) -> tuple[int, bytes]:
        """(status, body) of GET path; status 0 when the request could not be made."""
        raise NotImplementedError

    def after_ready(self):
        pass

    def _fail(self, why: str) -> Skip:
        tail = "\n".join((self.workdir / "stderr.log").read_text(errors="replace").strip().splitlines()[-8:])
        return Skip(f"gateway: {why}: {tail}")

    def _wait_for_port(self) -> int:
        lines: list[str] = []
        reader = threading.Thread(target=lambda: [lines.append(l) for l in self.proc.stdout], daemon=True)
        reader.start()
        deadline = time.monotonic() + PORT_TIMEOUT
        while time.monotonic() < deadline:
            for line in lines:
                if m := re.search(r"cogway listening on port (\d+)", line):
                    return int(m.group(1))
            if self.proc.poll() is not None:
                raise self._fail(f"exited with {self.proc.returncode} before listening")
            time.sleep(0.1)
        raise self._fail(f"no 'listening on port' line within {PORT_TIMEOUT} s")

    def _wait_until_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self._fail(f"exited while loading {self.loading}")
            status, body = self.probe("/ready", timeout=10)
            if status == 200:
                return
            last = f"{status} {body[:300]!r}"
            time.sleep(0.5)
        raise self._fail(f"GET /ready not 200 within {READY_TIMEOUT} s (last: {last})")

    def rss_mb(self, key: str) -> float | None:
        """The gateway's VmRSS or VmHWM in MB."""
        return proc_status_mb(self.proc.pid, key)

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()  # exit_on_stdin_close: a graceful stop
                self.proc.wait(timeout=STOP_TIMEOUT)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.workdir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Output


def table(columns: list[str], lines: list[list[str]], markdown: bool, text_columns: int) -> str:
    """A table as aligned plain text or as markdown; the first text_columns columns are left-aligned,
    the others right-aligned."""
    if markdown:
        out = ["| " + " | ".join(columns) + " |",
               "|" + "|".join(["---"] * text_columns + ["---:"] * (len(columns) - text_columns)) + "|"]
        return "\n".join(out + ["| " + " | ".join(line) + " |" for line in lines])
    rows = [columns] + lines
    widths = [max(len(line[i]) for line in rows) for i in range(len(columns))]

    def fmt(line):
        return "  ".join(c.ljust(w) if i < text_columns else c.rjust(w)
                         for i, (c, w) in enumerate(zip(line, widths))).rstrip()

    return "\n".join([fmt(columns), "  ".join("-" * w for w in widths)] + [fmt(line) for line in rows[1:]])


def report(columns: list[str], lines: list[list[str]], notes: list[str], markdown: Path | None,
           text_columns: int):
    """Prints a table and its notes as a list; also writes both as Markdown to `markdown` when given."""
    def render(as_markdown: bool) -> str:
        return (table(columns, lines, as_markdown, text_columns) + "\n\n" + "\n".join(f"- {n}" for n in notes))

    print("\n" + render(False))
    if markdown:
        markdown.write_text(render(True) + "\n")


def cpu_model() -> str:
    return next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                 if l.startswith("model name")), "unknown CPU")


def build_kind(binary: Path) -> str:
    return "DEBUG build: not representative" if "/debug/" in str(binary) else "release build"


def load_notes(start: float, peak: float | None = None, threads: int = 0) -> list[str]:
    """Warnings when something besides the benchmark was using the CPU: before it started, or (when
    peak, the highest load average seen during the run, is given) beyond the `threads` its engines
    keep busy."""
    notes = []
    if start > 0.75:
        notes.append(f"the 1-minute load average was {start:.2f} at the start: something else was using the CPU")
    if peak is not None and peak > threads + 0.75:
        notes.append(f"the 1-minute load average reached {peak:.2f} during the run (the benchmark accounts for "
                     f"about {threads}): other processes competed for the cores, so the numbers are noisy")
    return notes


# ---------------------------------------------------------------------------------------------
# The command line


def arg_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of doc and whose epilog is the rest."""
    return argparse.ArgumentParser(description=doc.split("\n\n")[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog=doc.split("\n\n", 1)[1])


def add_cogway_bin(ap: argparse.ArgumentParser):
    default_bin = Path(os.environ.get("COGWAY_BIN") or TARGET / "release" / "cogway")
    ap.add_argument("--cogway-bin", type=Path, default=default_bin,
                    help="the gateway binary (default $COGWAY_BIN, else $CARGO_TARGET_DIR/release/cogway)")


# ---------------------------------------------------------------------------------------------
# Requests


class Failure(Exception):
    """One request that did not succeed."""




class Client:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port (one per client thread; never via a proxy)."""

    def __init__(self, port: int, timeout: float = REQUEST_TIMEOUT):
        self.port, self.timeout = port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self._connect()

    def _connect(self):
        self.close()
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        self.conn.connect()

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None) -> tuple[int, dict, bytes]:
        """(status, headers with lower-case names, body). A connection the server closed while idle
        is opened again and the request sent once more."""
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self._connect()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as e:
                if attempt == 2:
                    raise Failure(f"{method} {path}: {e!r}") from e
                self._connect()
            except (OSError, http.client.HTTPException) as e:
                self._connect()
                raise Failure(f"{method} {path}: {e!r}") from e
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------------------------
# The load generator


@dataclass
class Run:
    clients: int
    latencies: list[float] = field(default_factory=list)  # seconds per successful request
    units: int = 0  # characters (Apertium) or sentences (neural) of the successful requests
    elapsed: float = 0.0  # start to the last completion
    errors: int = 0
    first_error: str | None = None

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def units_rate(self) -> float:
        return self.units / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies) if self.latencies else math.nan

    @property
    def p99(self) -> float:
        """Nearest rank: the smallest latency at or above 99 % of them."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def drive(make_op, inputs: list, clients: int, seconds: float | None = None, count: int | None = None,
          max_errors: int = MAX_ERRORS) -> Run:
    """Runs a closed loop: `clients` threads, each with its own op = make_op() (op(input) -> units,
    op.close() if it has one), send back to back. Inputs are taken in turn from the cycle of
    `inputs`. No request starts after `seconds`, or after `count` requests in all."""
    assert seconds is not None or count is not None
    run = Run(clients)
    lock = threading.Lock()
    state = {"next": 0, "deadline": math.inf, "stop": False}
    barrier = threading.Barrier(clients + 1)
    ends: list[float] = []

    def take():
        with lock:
            i = state["next"]
            if state["stop"] or (count is not None and i >= count) or time.perf_counter() >= state["deadline"]:
                return None
            state["next"] = i + 1
        return inputs[i % len(inputs)]

    def client():
        op = None
        try:
            op = make_op()
        except Exception as e:  # counted below; the barrier must still be passed
            with lock:
                run.errors += 1
                run.first_error = run.first_error or f"client setup: {e!r}"
                state["stop"] = True
        barrier.wait()
        try:
            while op is not None and (item := take()) is not None:
                started = time.perf_counter()
                try:
                    units = op(item)
                except Exception as e:  # Failure, or a connection that could not be opened again
                    with lock:
                        run.errors += 1
                        run.first_error = run.first_error or (str(e) if isinstance(e, Failure) else repr(e))
                        if run.errors >= max_errors:
                            state["stop"] = True
                    continue
                done = time.perf_counter()
                with lock:
                    run.latencies.append(done - started)
                    run.units += units
                    ends.append(done)
        finally:
            if op is not None and hasattr(op, "close"):
                op.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start = time.perf_counter()
    if seconds is not None:
        state["deadline"] = start + seconds
    barrier.wait()
    for t in threads:
        t.join()
    run.elapsed = (max(ends) if ends else time.perf_counter()) - start
    return run
