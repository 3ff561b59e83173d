#!/usr/bin/env python3
"""Live speech benchmark: how soon streamed speech is recognized, Cogway against WhisperLive-style chunking.

    python tests/bench/live_bench.py [--markdown PATH] [--threads N] [--cogway-bin PATH]

What is measured
  Two clips of about 10 s are streamed in real time (100 ms of audio every 100 ms of wall time,
  the clock of the first chunk being 0) and every result is stamped when it arrives:
    * beckett_10s      a human recording from the model store (models/manifest.toml: test-speech);
    * three_sentences  three espeak-ng sentences with 1.2 s pauses (9.5 s), as tests/sdk speaks them.
  Engines, all on the Whisper base weights, greedy decoding, language en, 2 threads (--threads):
    * cogway sdk       the release gateway through the official Speech SDK (azure-cognitiveservices-
                       speech, continuous recognition from a push stream): `recognizing` events are
                       the partial results, `recognized` the final ones; the stream is closed at the
                       end of the clip.
    * cogway realtime  the same gateway through an OpenAI Realtime transcription session (plain
                       WebSocket, server_vad, 24 kHz PCM): `delta` events are the partial results,
                       `completed` the final ones; `input_audio_buffer.commit` at the end of the clip.
    * whisperlive      the baseline: WhisperLive's chunking written here after its published method
                       (not its code), on faster-whisper (PyPI, CTranslate2, int8 as WhisperLive runs
                       on a CPU) with the CT2 model the gateway's ggml file was converted from: once
                       at least 1 s of audio is pending, transcribe everything since the last
                       finalized point (at most 30 s); every segment but the last is final, the last
                       is the partial result, and becomes final when it comes back unchanged
                       SAME_OUTPUT_TIMES times or the audio ends. It runs in the benchmark virtualenv
                       as a worker process that paces the audio itself.
  Reported per engine and clip:
    * first partial    seconds from the onset of speech (the first 20 ms frame above 10 % of the
                       clip's peak RMS) to the first partial result with text;
    * all final        seconds from the end of the speech (the last 20 ms frame above 10 % of the
                       peak RMS; silence may follow in the clip) to the last final result;
    * phrase delay     mean seconds from the end of each final phrase's audio (as the engine
                       times it) to its arrival;
    * partials         partial results received; WER of the joined final results against the
                       reference (the sentences said for three_sentences, faster-whisper float32's
                       offline transcript for beckett_10s);
    * CPU s            CPU seconds the engine's process spent while the clip streamed (gateway:
                       /proc/PID/stat; worker: getrusage), and its peak RSS.

  One run per engine and clip, after one warm-up stream per engine. Run it on an otherwise idle
  machine: the engines share the 2 cores with the client that paces the audio.

Setup (done by the script): the benchmark virtualenv and CT2 model as tests/bench/speech_bench.py
makes them; the inputs in $COGWAY_CACHE/bench/audio. The orchestrating part runs in the project
virtualenv ($COGWAY_CACHE/venv: the Speech SDK, websockets and numpy of tests/requirements.txt).
"""
import base64
import json
import os
import sys
import threading
import time
import wave
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common
import speech_bench
from common import Skip, add_cogway_bin, arg_parser, build_kind, cpu_model, json_lines, load_notes

CHUNK_SECS = 0.1
SAME_OUTPUT_TIMES = 10  # the baseline's repeats of an unchanged partial that make it final
MIN_CHUNK_SECS = 1.0  # the baseline's least pending audio per transcription
MAX_WINDOW_SECS = 30.0
RESULT_WAIT_SECS = 60  # results still awaited after the end of a clip
REALTIME_RATE = 24_000
SENTENCES = ["Good morning everyone.", "Today we will talk about the weather in Paris.", "Tomorrow it will rain all day."]
LEAD_SECS, PAUSE_SECS, TAIL_SECS = 0.5, 1.2, 1.0


@dataclass
class Stream:
    """What one engine gave for one clip: (arrival s, text) of partials; (arrival s, end of its
    audio s, text) of finals."""
    partials: list[tuple[float, str]] = field(default_factory=list)
    finals: list[tuple[float, float, str]] = field(default_factory=list)
    cpu_secs: float | None = None
    peak_rss_mb: float | None = None
    error: str | None = None


# ---------------------------------------------------------------------------------------------
# Inputs


def read_pcm(path: Path) -> tuple[bytes, int]:
    with wave.open(str(path)) as w:
        if w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise Skip(f"{path} is not 16-bit mono")
        return w.readframes(w.getnframes()), w.getframerate()


def write_wav(path: Path, pcm: bytes, rate: int):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def three_sentences(out_dir: Path) -> Path:
    import subprocess

    path = out_dir / "three_sentences.wav"
    pcm, rate = b"", 16_000
    for i, sentence in enumerate(SENTENCES):
        raw = out_dir / f"sentence{i}.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), sentence], check=True, capture_output=True,
                       timeout=60)
        resampled = out_dir / f"sentence{i}.16k.wav"
        subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(resampled)], check=True,
                       capture_output=True, timeout=60)
        speech, _ = read_pcm(resampled)
        pcm += b"\0\0" * int((LEAD_SECS if i == 0 else PAUSE_SECS) * rate) + speech
    pcm += b"\0\0" * int(TAIL_SECS * rate)
    write_wav(path, pcm, rate)
    return path


def speech_bounds(pcm: bytes, rate: int) -> tuple[float, float]:
    """Where speech starts and ends in the clip: the first and the last 20 ms frame above 10 %
    of the clip's peak RMS."""
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32)
    frame = rate // 50
    frames = samples[: len(samples) // frame * frame].reshape(-1, frame)
    rms = np.sqrt((frames ** 2).mean(axis=1))
    loud = np.nonzero(rms > 0.1 * rms.max())[0]
    if not len(loud):
        return 0.0, len(samples) / rate
    return float(loud[0]) * frame / rate, float(loud[-1] + 1) * frame / rate


def resample_24k(pcm: bytes, rate: int) -> bytes:
    import numpy as np

    samples = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    n = int(len(samples) * REALTIME_RATE / rate)
    out = np.interp(np.arange(n) * rate / REALTIME_RATE, np.arange(len(samples)), samples)
    return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()


def paced(pcm: bytes, rate: int, send, started: float):
    """Calls send(chunk) for each 100 ms of pcm at its real-time moment after `started`."""
    step = int(rate * CHUNK_SECS) * 2
    for i, at in enumerate(range(0, len(pcm), step)):
        delay = started + i * CHUNK_SECS - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        send(pcm[at:at + step])


# ---------------------------------------------------------------------------------------------
# Cogway


def proc_cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stream_sdk(gateway, pcm: bytes, rate: int) -> Stream:
    import azure.cognitiveservices.speech as speechsdk

    config = speechsdk.SpeechConfig(host=f"ws://127.0.0.1:{gateway.port}", subscription=gateway.key)
    config.speech_recognition_language = "en-US"
    fmt = speechsdk.audio.AudioStreamFormat(samples_per_second=rate, bits_per_sample=16, channels=1)
    push = speechsdk.audio.PushAudioInputStream(stream_format=fmt)
    recognizer = speechsdk.SpeechRecognizer(config, speechsdk.audio.AudioConfig(stream=push))
    out, done, t0 = Stream(), threading.Event(), [0.0]

    def recognized(e):
        if e.result.reason == speechsdk.ResultReason.RecognizedSpeech and e.result.text:
            end = (e.result.offset + e.result.duration) / 1e7
            out.finals.append((time.monotonic() - t0[0], end, e.result.text))

    recognizer.recognizing.connect(lambda e: out.partials.append((time.monotonic() - t0[0], e.result.text)))
    recognizer.recognized.connect(recognized)
    recognizer.canceled.connect(lambda e: (setattr(out, "error", e.cancellation_details.error_details or None),
                                           done.set()))
    recognizer.session_stopped.connect(lambda e: done.set())
    recognizer.start_continuous_recognition_async().get()
    cpu = proc_cpu_secs(gateway.proc.pid)
    t0[0] = time.monotonic()
    paced(pcm, rate, push.write, t0[0])
    push.close()
    done.wait(RESULT_WAIT_SECS)
    out.cpu_secs = proc_cpu_secs(gateway.proc.pid) - cpu
    recognizer.stop_continuous_recognition_async().get()
    return out


def stream_realtime(gateway, pcm: bytes, rate: int) -> Stream:
    from websockets.sync.client import connect

    audio = resample_24k(pcm, rate)
    out = Stream()
    url = f"ws://127.0.0.1:{gateway.port}/v1/realtime?intent=transcription"
    with connect(url, additional_headers={"Authorization": f"Bearer {gateway.key}"}, max_size=None) as ws:
        ws.send(json.dumps({"type": "session.update", "session": {"type": "transcription", "audio": {"input": {
            "format": {"type": "audio/pcm", "rate": REALTIME_RATE},
            "transcription": {"model": "whisper-1", "language": "en"},
            "turn_detection": {"type": "server_vad", "silence_duration_ms": 500}}}}}))
        changed = threading.Condition()
        ends: dict[str, float] = {}  # committed item -> end of its audio (s)
        completed: set[str] = set()
        commit_sent = [False]
        commit_answered = [False]  # the closing commit got its `committed` or an `error`
        gone = [False]
        t0 = [0.0]

        def receive():
            heard = ""
            try:
                for message in ws:
                    event = json.loads(message)
                    kind, now = event["type"], time.monotonic() - t0[0]
                    with changed:
                        if kind.endswith("transcription.delta"):
                            heard += event["delta"]
                            out.partials.append((now, heard))
                        elif kind == "input_audio_buffer.speech_stopped":
                            ends[event["item_id"]] = event["audio_end_ms"] / 1000
                        elif kind == "input_audio_buffer.committed":
                            ends.setdefault(event["item_id"], len(audio) / 2 / REALTIME_RATE)
                            commit_answered[0] |= commit_sent[0]
                        elif kind.endswith("transcription.completed"):
                            heard = ""
                            completed.add(event["item_id"])
                            out.finals.append((now, ends.get(event["item_id"], 0.0), event["transcript"]))
                        elif kind == "error":
                            commit_answered[0] |= commit_sent[0]
                            if not commit_sent[0]:
                                out.error = event["error"]["message"]
                        changed.notify_all()
            except Exception as e:  # the socket closed
                out.error = out.error or repr(e)
            with changed:
                gone[0] = True
                changed.notify_all()

        cpu = proc_cpu_secs(gateway.proc.pid)
        t0[0] = time.monotonic()
        reader = threading.Thread(target=receive, daemon=True)
        reader.start()
        paced(audio, REALTIME_RATE, lambda c: ws.send(json.dumps(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(c).decode()})), t0[0])
        with changed:
            commit_sent[0] = True
        # An empty buffer answers the commit with an error: every utterance was committed already.
        ws.send(json.dumps({"type": "input_audio_buffer.commit"}))
        with changed:
            changed.wait_for(lambda: gone[0] or (commit_answered[0] and set(ends) <= completed), RESULT_WAIT_SECS)
        out.cpu_secs = proc_cpu_secs(gateway.proc.pid) - cpu
    return out


# ---------------------------------------------------------------------------------------------
# The baseline (a worker process in the benchmark virtualenv)


def worker_whisperlive(argv: list[str]):
    import argparse
    import resource

    import numpy as np
    from faster_whisper import WhisperModel

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--compute-type", default="int8")
    ap.add_argument("--input", action="append", required=True)
    args = ap.parse_args(argv)
    model = WhisperModel(args.model, device="cpu", compute_type=args.compute_type, cpu_threads=args.threads,
                         num_workers=1, local_files_only=True)
    common.print_loaded_rss()
    for path in args.input:
        pcm, rate = read_pcm(Path(path))
        samples = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0
        # the reference for a clip without a script: faster-whisper's offline transcript
        offline = "".join(s.text for s in model.transcribe(samples, language="en", beam_size=1, best_of=1,
                                                           condition_on_previous_text=False)[0]).strip()
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu = usage.ru_utime + usage.ru_stime
        events = whisperlive_stream(model, samples, rate)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"input": path, "offline": offline, "cpu_secs": usage.ru_utime + usage.ru_stime - cpu,
                          **events}), flush=True)


def whisperlive_stream(model, samples, rate: int) -> dict:
    """WhisperLive's chunking over audio arriving in real time; the audio arrives on a thread."""
    received = [0]
    t0 = time.monotonic()

    def arrive():
        step = int(rate * CHUNK_SECS)
        for i in range(0, len(samples), step):
            delay = t0 + (i // step) * CHUNK_SECS - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            received[0] = min(len(samples), i + step)

    feeder = threading.Thread(target=arrive, daemon=True)
    feeder.start()
    partials, finals = [], []
    offset, previous, same = 0, "", 0
    while True:
        ended = not feeder.is_alive() and received[0] >= len(samples)
        available = received[0]
        if available - offset > MAX_WINDOW_SECS * rate:
            offset = available - int(5 * rate)  # WhisperLive drops audio it could not place
        pending = (available - offset) / rate
        if pending < MIN_CHUNK_SECS and not ended:
            time.sleep(0.1)
            continue
        if pending <= 0:
            break
        window = samples[offset:available]
        segments = [s for s in model.transcribe(window, language="en", beam_size=1, best_of=1, vad_filter=True,
                                                condition_on_previous_text=False)[0]]
        now = time.monotonic() - t0
        if ended:
            for s in segments:
                if s.text.strip():
                    finals.append((now, (offset / rate) + min(s.end, pending), s.text.strip()))
            break
        if not segments:
            # nothing heard: the audio before the last second is dropped (WhisperLive's offset moves on)
            offset = max(offset, available - rate)
            continue
        for s in segments[:-1]:
            if s.text.strip():
                finals.append((now, offset / rate + min(s.end, pending), s.text.strip()))
        if len(segments) > 1:
            offset += int(min(segments[-2].end, pending) * rate)
        last = segments[-1].text.strip()
        if last:
            partials.append((now, last))
        same = same + 1 if last and last == previous else 0
        previous = last
        if same >= SAME_OUTPUT_TIMES:
            finals.append((now, offset / rate + min(segments[-1].end, pending), last))
            offset = available
            previous, same = "", 0
    return {"partials": partials, "finals": finals}


def stream_baseline(ctx, wavs: list[Path]) -> dict[str, Stream]:
    if ctx.python is None:
        raise Skip(f"no benchmark virtualenv ({ctx.python_missing})")
    if ctx.ct2_dir is None:
        raise Skip(f"no CT2 model ({ctx.ct2_missing})")
    # the first input once more, first, as the warm-up
    args = ["--model", str(ctx.ct2_dir), "--threads", str(ctx.threads)]
    for wav in [wavs[0], *wavs]:
        args += ["--input", str(wav)]
    child = common.run_child([str(ctx.python), str(Path(__file__).resolve()), "worker", *args],
                             600, speech_bench.worker_env())
    if child.code != 0:
        raise common.child_failure("whisperlive worker", child)
    lines = [line for line in json_lines(child.stdout) if "input" in line][1:]
    out = {}
    for line in lines:
        stream = Stream([tuple(p) for p in line["partials"]], [tuple(f) for f in line["finals"]],
                        line["cpu_secs"], child.peak_rss_mb)
        out[line["input"]] = (stream, line["offline"])
    return out


# ---------------------------------------------------------------------------------------------
# The report


@dataclass
class Context:
    threads: int
    cogway_bin: Path | None
    python: Path | None = None
    python_missing: str = ""
    ct2_dir: Path | None = None
    ct2_missing: str = ""
    notes: list[str] = field(default_factory=list)


def row(engine: str, clip: str, stream: Stream | None, bounds: tuple[float, float], reference: str,
        why: str = "") -> list[str]:
    onset, speech_end = bounds
    if stream is None or (stream.error and not stream.finals):
        return [engine, clip] + ["-"] * 7 + [f"skipped: {why or (stream.error if stream else '')}"[:120]]
    first = next((t for t, text in stream.partials if text.strip()), None)
    last = max((t for t, _, _ in stream.finals), default=None)
    delays = [t - end for t, end, _ in stream.finals]
    hypothesis = " ".join(text for _, _, text in stream.finals)

    def num(v, fmt="{:.2f}"):
        return "-" if v is None else fmt.format(v)

    return [engine, clip, num(None if first is None else first - onset), num(None if last is None else last - speech_end),
            num(sum(delays) / len(delays) if delays else None), str(len(stream.partials)),
            num(speech_bench.wer(reference, hypothesis) * 100, "{:.1f}%"), num(stream.cpu_secs),
            num(stream.peak_rss_mb, "{:.0f}"), hypothesis[:90]]


COLUMNS = ["engine", "clip", "first partial s", "all final s", "phrase delay s", "partials", "WER", "CPU s",
           "peak RSS MB", "final text"]


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        worker_whisperlive(sys.argv[2:])
        return 0
    ap = arg_parser(__doc__)
    ap.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    ap.add_argument("--threads", type=int, default=2)
    add_cogway_bin(ap)
    args = ap.parse_args()
    started, start_load = time.monotonic(), os.getloadavg()[0]
    ctx = Context(args.threads, args.cogway_bin if args.cogway_bin.is_file() else None)
    try:
        ctx.python = common.ensure_venv()
    except Skip as e:
        ctx.python_missing = str(e)
    try:
        ctx.ct2_dir = speech_bench.ensure_ct2_model()
    except Skip as e:
        ctx.ct2_missing = str(e)
    audio_dir = speech_bench.BENCH / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    clips = {name: path for name, path in speech_bench.prepare_audio(ctx.notes).items() if name == "beckett_10s"}
    clips["three_sentences"] = three_sentences(audio_dir)
    pcms = {name: read_pcm(path) for name, path in clips.items()}

    results: dict[tuple[str, str], Stream | None] = {}
    why: dict[str, str] = {}
    print("baseline: WhisperLive-style chunking on faster-whisper", flush=True)
    try:
        baseline = stream_baseline(ctx, list(clips.values()))
    except Skip as e:
        baseline, why["whisperlive"] = {}, str(e)
    references = {"three_sentences": " ".join(SENTENCES)}
    for name, path in clips.items():
        stream, offline = baseline.get(str(path), (None, ""))
        results[("whisperlive", name)] = stream
        references.setdefault(name, offline)

    if ctx.cogway_bin is None:
        why["cogway"] = f"no gateway binary at {args.cogway_bin}"
    else:
        print("cogway: Speech SDK and OpenAI Realtime", flush=True)
        gateway = speech_bench.Gateway(ctx.cogway_bin, {"COGWAY__MODELS__THREADS": str(ctx.threads),
                                                        "COGWAY__SERVICES__TRANSLATION": "false",
                                                        "COGWAY__SERVICES__VISION": "false"})
        try:
            for engine, fn in (("cogway sdk", stream_sdk), ("cogway realtime", stream_realtime)):
                fn(gateway, *pcms["three_sentences"])  # warm-up
                for name in clips:
                    results[(engine, name)] = fn(gateway, *pcms[name])
                    results[(engine, name)].peak_rss_mb = gateway.rss_mb("VmHWM")
        finally:
            gateway.stop()

    lines = []
    for engine in ("cogway sdk", "cogway realtime", "whisperlive"):
        for name, (pcm, rate) in pcms.items():
            lines.append(row(engine, name, results.get((engine, name)), speech_bounds(pcm, rate),
                             references.get(name, ""), why.get(engine.split()[0], "")))
    notes = [
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} vCPUs ({cpu_model()}), {ctx.threads} threads per engine, one run "
        "after one warm-up stream",
        f"gateway: {ctx.cogway_bin} ({build_kind(ctx.cogway_bin) if ctx.cogway_bin else 'none'}), speech service "
        "only (its RSS holds both Whisper models, the VAD and the Piper voice), default live settings (a partial "
        "result every 500 ms of audio, 500 ms of silence ends a phrase)",
        "whisperlive: faster-whisper int8 with its Silero VAD filter, 1 s least chunk, a partial final after "
        f"{SAME_OUTPUT_TIMES} unchanged repeats; peak RSS of the worker counts its interpreter",
        "first partial: from the onset of speech to the first partial result; all final: from the end of the "
        "speech (the clip goes on with silence: 1 s for three_sentences) to the last final result; phrase delay: "
        "mean of (arrival - end of the phrase's audio as the engine times it)",
        *load_notes(start_load, os.getloadavg()[0], ctx.threads),
        *ctx.notes,
        f"the whole benchmark took {time.monotonic() - started:.0f} s",
    ]
    common.report(COLUMNS, lines, notes, args.markdown, text_columns=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
