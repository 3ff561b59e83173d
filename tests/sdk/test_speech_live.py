"""Live speech over WebSocket with the official clients, unchanged, pointed at the gateway:

- the Azure Speech SDK (azure-cognitiveservices-speech 1.53.0) with `SpeechConfig(host="ws://...")`:
  SpeechRecognizer (recognize once, continuous recognition of audio pushed in real time with
  partial results), TranslationRecognizer en -> es with a voice, SpeechSynthesizer;
- the OpenAI SDK (openai 3.51.0) for a Realtime transcription session
  (`client.realtime.connect(extra_query={"intent": "transcription"})`);
- a plain WebSocket client (websockets) for what the SDKs never send: session limits and broken
  frames.

Speech comes from espeak-ng; every test checks the words that were said.
"""

import base64
import io
import re
import struct
import subprocess
import threading
import time
import unicodedata
import wave

import azure.cognitiveservices.speech as speechsdk
import numpy as np
import openai
import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as ws_connect

SENTENCES = ["Good morning everyone.", "Today we will talk about the weather in Paris.", "Tomorrow it will rain all day."]
KEY_WORDS = [["morning", "everyone"], ["weather", "paris"], ["tomorrow", "rain"]]
LEAD_SECS, PAUSE_SECS, TAIL_SECS = 0.5, 1.2, 1.0
EVENT_TIMEOUT_SECS = 120


def normalize(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9']+", " ", plain).split())


def assert_has_words(text: str, expected: list[str]) -> None:
    found = set(normalize(text).split())
    missing = [w for w in expected if w not in found]
    assert not missing, f"{missing} missing from {text!r}"


def assert_phrases_heard(texts: list[str]) -> None:
    """One phrase per sentence of the clip, each with at least one of its key words, and at most one
    key word of the six missed in all: Whisper base mishears an espeak word now and then (it wrote
    "winner" for "weather" when the phrase began 10 ms earlier), which is not what is under test."""
    assert len(texts) == len(KEY_WORDS), texts
    missed = []
    for text, words in zip(texts, KEY_WORDS):
        found = set(normalize(text).split())
        missing = [w for w in words if w not in found]
        assert len(missing) < len(words), f"{words} all missing from {text!r}"
        missed += missing
    assert len(missed) <= 1, f"{missed} missing from {texts}"


def espeak_pcm(text: str, voice: str = "en-us") -> tuple[bytes, int]:
    """16-bit mono PCM of espeak-ng speaking `text`, and its rate."""
    done = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, timeout=60, check=True)
    with wave.open(io.BytesIO(done.stdout), "rb") as w:
        return w.readframes(w.getnframes()), w.getframerate()


def silence(seconds: float, rate: int) -> bytes:
    return b"\0\0" * int(seconds * rate)


@pytest.fixture(scope="module")
def clip():
    """Three sentences with pauses between them: (pcm, rate, [(start, end) of each sentence in s])."""
    pcm, spans, rate = b"", [], 0
    for i, sentence in enumerate(SENTENCES):
        speech, rate = espeak_pcm(sentence)
        pcm += silence(LEAD_SECS if i == 0 else PAUSE_SECS, rate)
        start = len(pcm) / 2 / rate
        pcm += speech
        spans.append((start, len(pcm) / 2 / rate))
    pcm += silence(TAIL_SECS, rate)
    return pcm, rate, spans


def wav_file(tmp_path, pcm: bytes, rate: int, name: str) -> str:
    path = tmp_path / name
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return str(path)


def ws_host(endpoint: str) -> str:
    return endpoint.replace("http://", "ws://")


@pytest.fixture(scope="module")
def translate_key(cogway):
    return cogway.create_key("sdk-live-translate", ["speech", "translation"])


# ---------------------------------------------------------------------------------------------
# Azure Speech SDK


def test_recognize_once_from_a_file(cogway, speech_key, tmp_path):
    pcm, rate = espeak_pcm("The quick brown fox jumps over the lazy dog.")
    config = speechsdk.SpeechConfig(host=ws_host(cogway.endpoint), subscription=speech_key)
    config.speech_recognition_language = "en-US"
    config.output_format = speechsdk.OutputFormat.Detailed
    audio = speechsdk.audio.AudioConfig(filename=wav_file(tmp_path, pcm, rate, "fox.wav"))
    recognizer = speechsdk.SpeechRecognizer(speech_config=config, audio_config=audio)
    result = recognizer.recognize_once()
    assert result.reason == speechsdk.ResultReason.RecognizedSpeech, (
        result.reason,
        getattr(result.cancellation_details, "error_details", None),
    )
    assert_has_words(result.text, ["quick", "brown", "fox", "lazy", "dog"])
    seconds = len(pcm) / 2 / rate
    assert 0 <= result.offset / 1e7 < 1.0 and 1.0 < result.duration / 1e7 <= seconds + 0.1
    # Detailed output: the best hypotheses with their forms, as the service sends them.
    import json

    best = json.loads(result.json)["NBest"][0]
    assert_has_words(best["Lexical"], ["quick", "fox"])
    assert 0.0 < best["Confidence"] <= 1.0


def push_in_real_time(stream, pcm: bytes, rate: int, stop: threading.Event) -> None:
    """Writes 100 ms of audio every 100 ms, as a microphone would, then closes the stream."""
    chunk = rate // 10 * 2
    started = time.monotonic()
    for i, at in enumerate(range(0, len(pcm), chunk)):
        if stop.is_set():
            break
        stream.write(pcm[at : at + chunk])
        time.sleep(max(0.0, started + (i + 1) * 0.1 - time.monotonic()))
    stream.close()


def test_continuous_recognition_streams_partial_results_and_one_phrase_per_sentence(cogway, speech_key, clip):
    pcm, rate, spans = clip
    config = speechsdk.SpeechConfig(host=ws_host(cogway.endpoint), subscription=speech_key)
    config.speech_recognition_language = "en-US"
    fmt = speechsdk.audio.AudioStreamFormat(samples_per_second=rate, bits_per_sample=16, channels=1)
    stream = speechsdk.audio.PushAudioInputStream(stream_format=fmt)
    recognizer = speechsdk.SpeechRecognizer(
        speech_config=config, audio_config=speechsdk.audio.AudioConfig(stream=stream)
    )
    partials, finals, ended, cancel = [], [], threading.Event(), []
    started = time.monotonic()
    recognizer.recognizing.connect(lambda e: partials.append((time.monotonic() - started, e.result.text)))
    recognizer.recognized.connect(
        lambda e: finals.append((time.monotonic() - started, e.result.reason, e.result.text, e.result.offset, e.result.duration))
    )
    recognizer.canceled.connect(lambda e: (cancel.append(e.cancellation_details), ended.set()))
    recognizer.session_stopped.connect(lambda e: ended.set())
    recognizer.start_continuous_recognition_async().get()
    stop = threading.Event()
    pusher = threading.Thread(target=push_in_real_time, args=(stream, pcm, rate, stop), daemon=True)
    pusher.start()
    try:
        assert ended.wait(EVENT_TIMEOUT_SECS), "the session did not end"
    finally:
        stop.set()
        recognizer.stop_continuous_recognition_async().get()
    assert cancel and cancel[0].reason == speechsdk.CancellationReason.EndOfStream, [
        (c.reason, c.error_details) for c in cancel
    ]
    phrases = [f for f in finals if f[1] == speechsdk.ResultReason.RecognizedSpeech and f[2].strip()]
    assert len(phrases) == 3, finals
    assert_phrases_heard([p[2] for p in phrases])
    for (_, _, text, offset, duration), (start, end) in zip(phrases, spans):
        # Offsets are the sentence's place in the stream (100-ns ticks), not the time of arrival.
        assert abs(offset / 1e7 - start) < 0.6 and abs((offset + duration) / 1e7 - end) < 0.6, (text, offset, duration, start, end)
    # Partial results arrive while the first sentence is still being spoken or just after.
    first_end = spans[0][1]
    assert partials, "no recognizing events"
    assert partials[0][0] < phrases[0][0], (partials[0], phrases[0])
    assert partials[0][0] < first_end + 3.0, partials[0]


def test_translation_recognizer_translates_and_speaks_the_translation(cogway, translate_key, tmp_path):
    pcm, rate = espeak_pcm("The dog is in the house.")
    config = speechsdk.translation.SpeechTranslationConfig(host=ws_host(cogway.endpoint), subscription=translate_key)
    config.speech_recognition_language = "en-US"
    config.add_target_language("es")
    config.voice_name = "es-ES-ElviraNeural"  # an Azure voice: spoken by the server's Spanish neural voice
    audio = speechsdk.audio.AudioConfig(filename=wav_file(tmp_path, pcm, rate, "dog.wav"))
    recognizer = speechsdk.translation.TranslationRecognizer(translation_config=config, audio_config=audio)
    synthesized = []
    recognizer.synthesizing.connect(lambda e: synthesized.append((e.result.reason, bytes(e.result.audio))))
    result = recognizer.recognize_once()
    assert result.reason == speechsdk.ResultReason.TranslatedSpeech, (
        result.reason,
        getattr(result.cancellation_details, "error_details", None),
    )
    assert_has_words(result.text, ["dog", "house"])
    spanish = normalize(result.translations["es"])
    assert "perro" in spanish and "casa" in spanish, result.translations
    audio_bytes = b"".join(a for reason, a in synthesized if reason == speechsdk.ResultReason.SynthesizingAudio)
    assert any(reason == speechsdk.ResultReason.SynthesizingAudioCompleted for reason, _ in synthesized)
    with wave.open(io.BytesIO(audio_bytes), "rb") as w:
        assert w.getnframes() / w.getframerate() > 0.5
    # Spoken by the Spanish neural voice (Kokoro): Whisper hears the translation in it.
    heard = requests.post(
        f"{cogway.endpoint}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {translate_key}"},
        files={"file": ("translation.wav", audio_bytes, "audio/wav")},
        data={"model": "whisper-1", "language": "es"},
        timeout=180,
    )
    assert heard.status_code == 200, heard.text
    heard_words = normalize(heard.json()["text"])
    assert "perro" in heard_words and "casa" in heard_words, heard.json()


def test_speech_synthesizer_speaks_spanish_with_the_neural_voice(cogway, speech_key):
    """The SDK wraps the text in `<speak xml:lang='en-US'>` whatever the voice: the Spanish voice
    still speaks it (not the English one)."""
    config = speechsdk.SpeechConfig(host=ws_host(cogway.endpoint), subscription=speech_key)
    config.speech_synthesis_voice_name = "es-ES-DoraNeural"
    synthesizer = speechsdk.SpeechSynthesizer(speech_config=config, audio_config=None)
    result = synthesizer.speak_text_async("Buenos días. Mañana vamos a visitar el museo con mis amigos.").get()
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted, (
        result.reason,
        getattr(result.cancellation_details, "error_details", None),
    )
    heard = requests.post(
        f"{cogway.endpoint}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {speech_key}"},
        files={"file": ("dora.wav", bytes(result.audio_data), "audio/wav")},
        data={"model": "whisper-1", "language": "es"},
        timeout=180,
    )
    assert heard.status_code == 200, heard.text
    assert_has_words(heard.json()["text"], ["buenos", "manana", "museo", "amigos"])


def test_speech_synthesizer_streams_audio_the_recognizer_understands(cogway, speech_key):
    config = speechsdk.SpeechConfig(host=ws_host(cogway.endpoint), subscription=speech_key)
    synthesizer = speechsdk.SpeechSynthesizer(speech_config=config, audio_config=None)
    chunks, boundaries = [], []
    synthesizer.synthesizing.connect(lambda e: chunks.append(len(e.result.audio_data)))
    synthesizer.synthesis_word_boundary.connect(
        lambda e: boundaries.append((e.text, e.audio_offset / 1e7, e.duration.total_seconds()))
    )
    text = "Call Stella and ask her to bring these things. She can meet us at the station."
    result = synthesizer.speak_text_async(text).get()
    assert result.reason == speechsdk.ResultReason.SynthesizingAudioCompleted, (
        result.reason,
        getattr(result.cancellation_details, "error_details", None),
    )
    assert len(chunks) >= 2, chunks  # sentence by sentence, in frames
    assert result.audio_duration.total_seconds() > 2.0
    # The SDK wrote the WAV header for the raw audio the server sent; the short-audio route hears it.
    answer = requests.post(
        f"{cogway.endpoint}/speech/recognition/conversation/cognitiveservices/v1?language=en-US",
        headers={"Ocp-Apim-Subscription-Key": speech_key, "Content-Type": "audio/wav"},
        data=bytes(result.audio_data),
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    assert_has_words(answer.json()["DisplayText"], ["stella", "things", "station"])
    # Word boundaries: every word, in order, at estimated times that Whisper's word times confirm.
    assert [normalize(w) for w, _, _ in boundaries] == normalize(text).split(), boundaries
    starts = [at for _, at, _ in boundaries]
    assert starts == sorted(starts) and starts[-1] + boundaries[-1][2] <= result.audio_duration.total_seconds() + 0.01
    heard = requests.post(
        f"{cogway.endpoint}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {speech_key}"},
        files={"file": ("speech.wav", bytes(result.audio_data), "audio/wav")},
        data={"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities[]": "word"},
        timeout=120,
    ).json()["words"]
    for word, at, _ in boundaries:
        whisper = [w["start"] for w in heard if normalize(w["word"]) == normalize(word)]
        if whisper:  # a word Whisper heard differently has nothing to compare with
            assert min(abs(at - s) for s in whisper) < 0.5, (word, at, whisper)


def test_a_wrong_key_is_refused_at_the_upgrade(cogway):
    config = speechsdk.SpeechConfig(host=ws_host(cogway.endpoint), subscription="not-a-key")
    synthesizer = speechsdk.SpeechSynthesizer(speech_config=config, audio_config=None)
    result = synthesizer.speak_text_async("Hello.").get()
    assert result.reason == speechsdk.ResultReason.Canceled
    assert result.cancellation_details.error_code == speechsdk.CancellationErrorCode.AuthenticationFailure


# ---------------------------------------------------------------------------------------------
# Limits and hostile frames (plain WebSocket client)


def test_sessions_past_the_key_share_are_refused_with_429(cogway):
    key = cogway.create_key("sdk-live-limits", ["speech"])
    url = f"{ws_host(cogway.endpoint)}/speech/recognition/conversation/cognitiveservices/v1?language=en-US"
    headers = {"Ocp-Apim-Subscription-Key": key}
    held = [ws_connect(url, additional_headers=headers) for _ in range(2)]  # speech.max_streams_per_key
    try:
        with pytest.raises(InvalidStatus) as refused:
            ws_connect(url, additional_headers=headers)
        assert refused.value.response.status_code == 429
        assert int(refused.value.response.headers["Retry-After"]) >= 1
    finally:
        for socket in held:
            socket.close()
    # The slots come back when the sockets close.
    deadline = time.monotonic() + 10
    while True:
        try:
            ws_connect(url, additional_headers=headers).close()
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "the slots were not freed"
            time.sleep(0.2)


def test_a_frame_that_lies_about_its_header_length_closes_the_session(cogway, speech_key):
    url = f"{ws_host(cogway.endpoint)}/speech/recognition/interactive/cognitiveservices/v1?language=en-US"
    with ws_connect(url, additional_headers={"Ocp-Apim-Subscription-Key": speech_key}) as socket:
        socket.send(struct.pack(">H", 60000) + b"Path:audio\r\n")
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
        assert closed.value.rcvd.code == 4000 and "header" in closed.value.rcvd.reason


def test_realtime_without_the_transcription_intent_is_a_400(cogway, speech_key):
    with pytest.raises(InvalidStatus) as refused:
        ws_connect(f"{ws_host(cogway.endpoint)}/v1/realtime?model=gpt-realtime", additional_headers={"Authorization": f"Bearer {speech_key}"})
    assert refused.value.response.status_code == 400


# ---------------------------------------------------------------------------------------------
# OpenAI Realtime transcription


def to_24k(pcm: bytes, rate: int) -> bytes:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32)
    n = int(len(samples) * 24_000 / rate)
    return np.interp(np.arange(n) * rate / 24_000, np.arange(len(samples)), samples).astype(np.int16).tobytes()


def realtime_session(cogway, key: str, pcm24: bytes, turn_detection, commit: bool, items: int) -> list:
    """Streams `pcm24` in real time; returns the events until `items` transcriptions completed and
    the error event for a bogus client event sent after them."""
    events = []
    with openai.OpenAI(base_url=f"{cogway.endpoint}/v1", api_key=key, max_retries=0) as client:
        with client.realtime.connect(extra_query={"intent": "transcription"}) as connection:
            connection.send(
                {
                    "type": "session.update",
                    "session": {
                        "type": "transcription",
                        "audio": {
                            "input": {
                                "format": {"type": "audio/pcm", "rate": 24000},
                                "transcription": {"model": "gpt-4o-transcribe", "language": "en"},
                                "turn_detection": turn_detection,
                            }
                        },
                    },
                }
            )

            def send_audio():
                chunk = 4800  # 100 ms of 24 kHz 16-bit audio
                started = time.monotonic()
                for i, at in enumerate(range(0, len(pcm24), chunk)):
                    connection.send(
                        {"type": "input_audio_buffer.append", "audio": base64.b64encode(pcm24[at : at + chunk]).decode()}
                    )
                    time.sleep(max(0.0, started + (i + 1) * 0.1 - time.monotonic()))
                if commit:
                    connection.send({"type": "input_audio_buffer.commit"})

            threading.Thread(target=send_audio, daemon=True).start()
            deadline = time.monotonic() + EVENT_TIMEOUT_SECS
            done = 0
            while time.monotonic() < deadline:
                event = connection.recv()
                events.append(event)
                if event.type == "conversation.item.input_audio_transcription.completed":
                    done += 1
                    if done == items:
                        connection.send({"type": "transcription_session.bogus"})
                if event.type == "error":
                    break
    return events


def test_realtime_transcription_with_server_vad(cogway, speech_key, clip):
    pcm, rate, spans = clip
    events = realtime_session(
        cogway, speech_key, to_24k(pcm, rate), {"type": "server_vad", "silence_duration_ms": 500}, commit=False, items=3
    )
    types = [e.type for e in events]
    assert types[0] == "session.created" and "session.updated" in types, types
    completed = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
    assert len(completed) == 3, types
    assert_phrases_heard([e.transcript for e in completed])
    started = [e for e in events if e.type == "input_audio_buffer.speech_started"]
    stopped = [e for e in events if e.type == "input_audio_buffer.speech_stopped"]
    assert len(started) == 3 and len(stopped) == 3
    for s, e, (start, end) in zip(started, stopped, spans):
        assert abs(s.audio_start_ms / 1000 - start) < 0.6 and abs(e.audio_end_ms / 1000 - end) < 0.6
    # Each item: started, then its deltas, then stopped, committed and completed, in that order.
    item = completed[0].item_id
    order = [e.type for e in events if getattr(e, "item_id", None) == item]
    assert order[0] == "input_audio_buffer.speech_started" and order[-1].endswith(".completed"), order
    # Deltas stream the words of the longer sentences before they end.
    second = completed[1].item_id
    before_end = [e for e in events[: events.index(completed[1])] if e.type.endswith(".delta") and e.item_id == second]
    assert before_end and normalize(before_end[0].delta), order
    assert events[-1].type == "error" and "not supported" in events[-1].error.message


def test_realtime_transcription_with_client_commits(cogway, speech_key, clip):
    pcm, rate, _ = clip
    events = realtime_session(cogway, speech_key, to_24k(pcm, rate), None, commit=True, items=1)
    types = [e.type for e in events]
    assert "input_audio_buffer.speech_started" not in types, types
    completed = [e for e in events if e.type == "conversation.item.input_audio_transcription.completed"]
    assert len(completed) == 1, types
    for words in KEY_WORDS:
        assert_has_words(completed[0].transcript, words)
