"""Two Cogway replicas on one PostgreSQL and one Redis, with nginx in front of both.

`scripts/test_cluster.sh` (`make test-cluster`) starts the throwaway PostgreSQL and Redis and
passes them as `COGWAY_CLUSTER_PG_URL` and `COGWAY_CLUSTER_REDIS_URL`; the binary is `$COGWAY_BIN`
(else `$CARGO_TARGET_DIR/debug/cogway`, else `~/.cache/cogway/target/debug/cogway`).

The session fixture [`cluster`] starts replicas `a` and `b` (same database, Redis, JWT secret and
admin key; short job leases so a dead replica's jobs are taken over within seconds) and an nginx
that sends requests to both in turn, logging `$upstream_addr`. Each replica's standard error goes
to a file of the session's temporary directory; when a test fails, the last lines of both (and of
nginx's error log) are added to its report.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest
import requests

LISTENING = re.compile(r"cogway listening on port (\d+)")
ADMIN_KEY = "cluster-admin-key-" + secrets.token_hex(8)
JWT_SECRET = "cluster-jwt-secret-" + secrets.token_hex(16)
LEASE_SECS = 3
POLL_MS = 300
PORT_TIMEOUT_SECS = 120
READY_TIMEOUT_SECS = 300
LOG_TAIL_LINES = 40

# The running cluster, for the failure report hook.
_CLUSTER: "Cluster | None" = None


def cogway_binary() -> Path:
    explicit = os.environ.get("COGWAY_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "debug" / "cogway"
    return Path.home() / ".cache" / "cogway" / "target" / "debug" / "cogway"


def models_dir() -> Path:
    """As tests/tests/common/mod.rs: `$COGWAY_MODELS_DIR`, else the cache's `models`."""
    explicit = os.environ.get("COGWAY_MODELS_DIR")
    if explicit:
        return Path(explicit)
    cache = os.environ.get("COGWAY_CACHE")
    return (Path(cache) if cache else Path.home() / ".cache" / "cogway") / "models"


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM if pytest dies without cleaning up (Linux)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        return f"({path}: {err})"
    return "\n".join(text.splitlines()[-lines:]) or "(empty)"


class Replica:
    """One `cogway serve` process on a fixed port (so nginx's upstream and a restart agree)."""

    def __init__(self, name: str, binary: Path, workdir: Path, port: int, env: dict[str, str]):
        self.name = name
        self.binary = binary
        self.workdir = workdir
        self.port = port
        self.env = env
        self.log_path = workdir / f"replica-{name}.stderr.log"
        self.process: subprocess.Popen | None = None
        self._lines: "queue.Queue[str | None]" = queue.Queue()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> None:
        env = dict(os.environ)
        env.update(self.env)
        env["COGWAY__CLUSTER__REPLICA_ID"] = self.name
        # Appending: a restarted replica keeps the log of its first life.
        log = open(self.log_path, "a", encoding="utf-8")
        log.write(f"=== replica {self.name} starting at {time.strftime('%H:%M:%S')} ===\n")
        log.flush()
        self._lines = queue.Queue()
        self.process = subprocess.Popen(
            [
                str(self.binary), "serve", "--port", str(self.port), "--host", "127.0.0.1",
                "--database", env["COGWAY__DATABASE__URL"], "--models-dir", str(models_dir()),
            ],
            stdin=subprocess.PIPE,  # kept open: the server exits when it closes
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=self.workdir,  # no stray ./cogway.toml gets picked up
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        log.close()
        lines = self._lines
        stdout = self.process.stdout

        def drain() -> None:  # the server must never block on a full stdout pipe
            for line in stdout:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, daemon=True).start()

    def fail(self, why: str) -> None:
        code = self.process.poll() if self.process else None
        state = f"exit code {code}" if code is not None else "still running"
        pytest.fail(f"replica {self.name}: {why} ({state}); its stderr:\n{tail(self.log_path)}", pytrace=False)

    def wait_listening(self, timeout: float = PORT_TIMEOUT_SECS) -> None:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"no 'listening on port' line within {timeout:.0f} s")
            try:
                line = self._lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.fail("exited before it listened")
            match = LISTENING.search(line)
            if match:
                assert int(match.group(1)) == self.port, line
                return

    def wait_ready(self, timeout: float = READY_TIMEOUT_SECS) -> float:
        """Waits for `GET /ready` == 200 (models loaded); returns the seconds it took."""
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                self.fail("exited while loading its models")
            try:
                r = requests.get(self.url("/ready"), timeout=5)
                if r.status_code == 200:
                    return time.monotonic() - started
                last = f"HTTP {r.status_code}: {r.text[:300]}"
            except requests.RequestException as err:
                last = repr(err)
            time.sleep(0.5)
        self.fail(f"GET /ready was not 200 within {timeout:.0f} s (last: {last})")
        return 0.0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no graceful stop, its leases stay until they run out."""
        if self.alive():
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
{user}
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 256; }}
http {{
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    log_format upstream '$remote_addr [$time_local] "$request" $status upstream=$upstream_addr';
    access_log {dir}/access.log upstream;
    client_max_body_size 200m;
    upstream cogway {{
        # round robin; a replica that fails stays in the rotation (the tests count where requests went)
        server {a} max_fails=0;
        server {b} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://cogway;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_read_timeout 300s;
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, workdir: Path, upstreams: list[str]):
        self.dir = workdir / "nginx"
        self.dir.mkdir()
        self.port = free_port()
        self.access_log = self.dir / "access.log"
        self.error_log = self.dir / "nginx-error.log"
        # As root the workers would run as nobody; they only proxy small requests here, but keep
        # them as root so they can use the temporary directories whatever their modes.
        user = "user root;" if os.geteuid() == 0 else ""
        conf = NGINX_CONF.format(dir=self.dir, user=user, port=self.port, a=upstreams[0], b=upstreams[1])
        (self.dir / "nginx.conf").write_text(conf)
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.process = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")],
            stdin=subprocess.DEVNULL,
            stdout=open(self.dir / "nginx.stdout.log", "w"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,  # nginx does not watch its stdin as the replicas do
        )
        deadline = time.monotonic() + 20
        while True:
            if self.process.poll() is not None:
                pytest.fail(f"nginx exited: {tail(self.dir / 'nginx.stdout.log')}\n{tail(self.error_log)}",
                            pytrace=False)
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("nginx did not listen within 20 s", pytrace=False)
                time.sleep(0.1)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def access_lines(self) -> list[str]:
        try:
            return self.access_log.read_text().splitlines()
        except FileNotFoundError:
            return []

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class Cluster:
    def __init__(self, workdir: Path, pg_url: str, redis_url: str, replicas: dict[str, Replica], lb: Nginx):
        self.workdir = workdir
        self.pg_url = pg_url
        self.redis_url = redis_url
        self.replicas = replicas
        self.lb = lb
        self.admin_key = ADMIN_KEY
        self.s3_url = os.environ.get("COGWAY_CLUSTER_S3_URL")

    def bucket_keys(self, prefix: str) -> list[str]:
        """The keys under `prefix` in the replicas' S3 bucket (boto3 comes with moto)."""
        import boto3

        assert self.s3_url, "no S3 bucket in this cluster"
        endpoint, bucket = self.s3_url.rsplit("/", 1)
        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="cluster-test", aws_secret_access_key="cluster-test-secret")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)
        return [item["Key"] for item in listing.get("Contents", [])]

    @property
    def a(self) -> Replica:
        return self.replicas["a"]

    @property
    def b(self) -> Replica:
        return self.replicas["b"]

    def create_key(self, on: Replica, body: dict) -> tuple[str, str]:
        """Creates a key through `on`'s admin API; returns (key, id)."""
        r = requests.post(on.url("/admin/keys"), headers={"Ocp-Apim-Subscription-Key": ADMIN_KEY},
                          json=body, timeout=30)
        assert r.status_code == 201, f"creating a key on {on.name}: HTTP {r.status_code} {r.text}"
        v = r.json()
        return v["key"], v["info"]["id"]

    def revoke_key(self, on: Replica, key_id: str) -> None:
        r = requests.delete(on.url(f"/admin/keys/{key_id}"), headers={"Ocp-Apim-Subscription-Key": ADMIN_KEY},
                            timeout=30)
        assert r.status_code == 204, f"revoking on {on.name}: HTTP {r.status_code} {r.text}"

    def sql(self, query: str) -> list[list[str]]:
        """Runs `query` with psql on the cluster's database; rows of text fields."""
        out = subprocess.run(
            ["psql", self.pg_url, "-X", "-q", "-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
            capture_output=True, text=True, timeout=30,
        )
        assert out.returncode == 0, f"psql failed: {out.stderr}"
        return [line.split("\t") for line in out.stdout.splitlines() if line]

    def logs(self) -> str:
        parts = [f"--- replica {r.name} ({'alive' if r.alive() else 'not running'}), last lines of {r.log_path}:\n"
                 f"{tail(r.log_path)}" for r in self.replicas.values()]
        parts.append(f"--- nginx error log:\n{tail(self.lb.error_log, 15)}")
        return "\n".join(parts)


@pytest.fixture(scope="session")
def cluster():
    global _CLUSTER
    pg_url = os.environ.get("COGWAY_CLUSTER_PG_URL")
    redis_url = os.environ.get("COGWAY_CLUSTER_REDIS_URL")
    if not pg_url or not redis_url:
        pytest.fail("COGWAY_CLUSTER_PG_URL and COGWAY_CLUSTER_REDIS_URL are not set: run scripts/test_cluster.sh "
                    "(make test-cluster), which starts PostgreSQL and Redis for these tests", pytrace=False)
    binary = cogway_binary()
    if not binary.is_file():
        pytest.fail(f"cogway binary not found at {binary} (set COGWAY_BIN or build it)", pytrace=False)
    # Inside the script's temporary directory when it gave one (removed even if pytest is killed).
    workdir = Path(tempfile.mkdtemp(prefix="cogway-cluster-test-", dir=os.environ.get("COGWAY_CLUSTER_TMP")))
    env = {
        "COGWAY__AUTH__JWT_SECRET": JWT_SECRET,
        "COGWAY__AUTH__ADMIN_KEY": ADMIN_KEY,
        "COGWAY__SERVER__EXIT_ON_STDIN_CLOSE": "true",
        "COGWAY__SERVER__WORKERS": "2",
        "COGWAY__DATABASE__URL": pg_url,
        "COGWAY__REDIS__URL": redis_url,
        "COGWAY__JOBS__LEASE_SECS": str(LEASE_SECS),
        "COGWAY__JOBS__POLL_MS": str(POLL_MS),
        "COGWAY__SERVICES__VISION": "false",
        "COGWAY__SERVICES__TRANSLATION": "false",
        "NO_COLOR": "1",  # plain log files
        # Job claims and takeovers, and a transcription's stages, are logged at info.
        "RUST_LOG": "warn,cogway_gateway::jobs=info,cogway_gateway::routes::speech::batch=info",
    }
    s3_url = os.environ.get("COGWAY_CLUSTER_S3_URL")
    if s3_url:
        # Job inputs in the shared bucket, not in PostgreSQL.
        endpoint, bucket = s3_url.rsplit("/", 1)
        env.update({
            "COGWAY__BLOBS__BACKEND": "s3",
            "COGWAY__BLOBS__S3__ENDPOINT": endpoint,
            "COGWAY__BLOBS__S3__BUCKET": bucket,
            "COGWAY__BLOBS__S3__ACCESS_KEY_ID": "cluster-test",
            "COGWAY__BLOBS__S3__SECRET_ACCESS_KEY": "cluster-test-secret",
            "COGWAY__BLOBS__S3__PREFIX": "cluster",
        })
    replicas = {name: Replica(name, binary, workdir, free_port(), env) for name in ("a", "b")}
    lb = None
    started = time.monotonic()
    try:
        # Both at once, as an orchestrator starts them (they migrate the same database).
        for r in replicas.values():
            r.start()
        for r in replicas.values():
            r.wait_listening()
        for r in replicas.values():
            r.wait_ready()
        print(f"\ncluster: replicas a ({replicas['a'].addr}) and b ({replicas['b'].addr}) ready "
              f"{time.monotonic() - started:.1f} s after start")
        lb = Nginx(workdir, [r.addr for r in replicas.values()])
        _CLUSTER = Cluster(workdir, pg_url, redis_url, replicas, lb)
        yield _CLUSTER
    finally:
        _CLUSTER = None
        if lb is not None:
            lb.stop()
        for r in replicas.values():
            r.stop()
        if os.environ.get("COGWAY_CLUSTER_KEEP"):
            print(f"cluster: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _CLUSTER is not None:
        report.sections.append(("cluster logs", _CLUSTER.logs()))
