"""Starts one Cogway gateway for the SDK tests and hands them its endpoint and keys.

The binary is `$COGWAY_BIN`, else `$CARGO_TARGET_DIR/debug/cogway`, else
`~/.cache/cogway/target/debug/cogway`. The server listens on a free port of 127.0.0.1, keeps its
database in a temporary directory, and exits when its standard input closes, so it cannot outlive
the test session.
"""

import os
import queue
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

LISTENING = re.compile(r"cogway listening on port (\d+)")
PORT_TIMEOUT_SECS = 60
READY_TIMEOUT_SECS = 120
STOP_TIMEOUT_SECS = 10


def cogway_binary() -> Path:
    explicit = os.environ.get("COGWAY_BIN")
    if explicit:
        return Path(explicit)
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return Path(target) / "debug" / "cogway"
    return Path.home() / ".cache" / "cogway" / "target" / "debug" / "cogway"


class Server:
    """A running gateway process, with its standard error kept for failure messages."""

    def __init__(self, binary: Path, workdir: Path, admin_key: str):
        env = dict(os.environ)
        env.update(
            {
                "COGWAY__AUTH__ADMIN_KEY": admin_key,
                "COGWAY__SERVER__EXIT_ON_STDIN_CLOSE": "true",
                "COGWAY__SERVER__HOST": "127.0.0.1",
            }
        )
        database = f"sqlite:///{workdir / 'cogway.db'}"
        self.process = subprocess.Popen(
            [str(binary), "serve", "--port", "0", "--database", database],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=workdir,  # no stray ./cogway.toml gets picked up
            env=env,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        self._stderr: list[str] = []
        self._stdout_lines: "queue.Queue[str | None]" = queue.Queue()
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        threading.Thread(target=self._drain_stdout, daemon=True).start()

    def _drain_stderr(self) -> None:
        for line in self.process.stderr:
            self._stderr.append(line)

    def _drain_stdout(self) -> None:
        for line in self.process.stdout:
            self._stdout_lines.put(line)
        self._stdout_lines.put(None)

    def stderr(self) -> str:
        # Give the reader thread a moment to catch the last lines of a dying process.
        time.sleep(0.2)
        return "".join(self._stderr[-200:])

    def fail(self, why: str) -> None:
        code = self.process.poll()
        status = f"exit code {code}" if code is not None else "still running"
        pytest.fail(f"{why} ({status}); server stderr:\n{self.stderr()}", pytrace=False)

    def wait_for_port(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail(f"cogway printed no 'listening on port' line within {timeout:.0f} s")
            try:
                line = self._stdout_lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                continue
            if line is None:
                self.fail("cogway exited before it started listening")
            match = LISTENING.search(line)
            if match:
                return int(match.group(1))

    def wait_until_ready(self, endpoint: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.fail("cogway exited while loading its models")
            try:
                response = requests.get(f"{endpoint}/ready", timeout=5)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:300]}"
            except requests.RequestException as err:
                last = repr(err)
            time.sleep(0.5)
        self.fail(f"GET /ready did not turn 200 within {timeout:.0f} s (last: {last})")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except (OSError, ValueError):
                pass


class Running:
    """A gateway that answers `/ready`, and its admin key for making more keys."""

    def __init__(self, server: Server, endpoint: str, admin_key: str):
        self.server = server
        self.endpoint = endpoint
        self.admin_key = admin_key

    def create_key(self, name: str, services: list[str]) -> str:
        """A new normal key allowed to use `services`."""
        response = requests.post(
            f"{self.endpoint}/admin/keys",
            headers={"Ocp-Apim-Subscription-Key": self.admin_key},
            json={"name": name, "services": services},
            timeout=30,
        )
        if response.status_code != 201:
            self.server.fail(f"POST /admin/keys answered HTTP {response.status_code}: {response.text}")
        key = response.json()["key"]
        assert isinstance(key, str) and key, response.text
        return key


@pytest.fixture(scope="session")
def cogway(tmp_path_factory):
    """Yields a [`Running`] gateway shared by every SDK test of the session."""
    binary = cogway_binary()
    if not binary.is_file():
        pytest.fail(f"cogway binary not found at {binary} (set COGWAY_BIN or build it)", pytrace=False)
    workdir = tmp_path_factory.mktemp("cogway")
    admin_key = secrets.token_hex(16)
    server = Server(binary, workdir, admin_key)
    try:
        port = server.wait_for_port(PORT_TIMEOUT_SECS)
        endpoint = f"http://127.0.0.1:{port}"
        server.wait_until_ready(endpoint, READY_TIMEOUT_SECS)
        yield Running(server, endpoint, admin_key)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def gateway(cogway):
    """`(endpoint, key)`: the running gateway and a normal key for the Language service."""
    return cogway.endpoint, cogway.create_key("sdk-test", ["language"])


@pytest.fixture(scope="session")
def speech_key(cogway):
    """A normal key for the Speech service only."""
    return cogway.create_key("sdk-speech-test", ["speech"])


@pytest.fixture(scope="session")
def endpoint(gateway):
    return gateway[0]


@pytest.fixture(scope="session")
def client(gateway):
    from azure.ai.textanalytics import TextAnalyticsClient
    from azure.core.credentials import AzureKeyCredential

    endpoint, key = gateway
    with TextAnalyticsClient(endpoint, AzureKeyCredential(key)) as c:
        yield c
