#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs (a few KB in all) into fuzz/seeds/<target>/.

The seeds are committed; run this again only to change them. It needs Pillow (the project's
virtualenv has it) and sox (scripts/setup.sh installs it) for the image and compressed audio
seeds. Each input is laid out as cogway_gateway::fuzzing reads it (gateway/src/fuzzing.rs).
"""

import io
import math
import os
import struct
import subprocess
import tempfile
import wave
import zipfile
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent


def write(target: str, name: str, data: bytes) -> None:
    folder = HERE / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def wav(rate: int = 8000, samples: int = 160) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 3))) for i in range(samples)))
    return out.getvalue()


def sox(kind: str, source: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.wav"), os.path.join(tmp, "out." + kind)
        Path(src).write_bytes(source)
        subprocess.run(["sox", src, dst], check=True)
        return Path(dst).read_bytes()


def audio() -> None:
    # Byte 0: the content type (index into AUDIO_TYPES) and, high bit, the recognizer's resampling.
    clip = wav()
    write("audio_decode", "wav", b"\x01" + clip)
    write("audio_decode", "wav-sniffed-16k", b"\x80" + clip)
    write("audio_decode", "flac", b"\x04" + sox("flac", clip))
    write("audio_decode", "mp3", b"\x83" + sox("mp3", wav(16000, 1200)))
    write("audio_decode", "pcm", b"\x06" + clip[44:])


def image() -> None:
    picture = Image.new("RGB", (50, 50), (200, 30, 30))
    for fmt in ("PNG", "GIF", "JPEG"):
        out = io.BytesIO()
        picture.save(out, fmt, quality=30) if fmt == "JPEG" else picture.save(out, fmt)
        write("image_decode", fmt.lower(), out.getvalue())


SSML = (
    '<speak version="1.0" xmlns="http://www.w3.org/2001/10/synthesis" xml:lang="en-US">'
    '<voice name="en-US-JoeNeural"><prosody rate="+20%" pitch="low">Hello</prosody> '
    '<break time="300ms"/><say-as interpret-as="date" format="mdy">12/31/2024</say-as> '
    '<phoneme alphabet="ipa" ph="t&#x259;mei&#x325;&#x27E;o&#x28A;">tomato</phoneme> '
    '<sub alias="World Wide Web">WWW</sub><lexicon uri="https://example.com/l.xml"/></voice></speak>'
)

PLS = (
    '<?xml version="1.0"?><lexicon version="1.0" alphabet="ipa" xml:lang="en-US" '
    'xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"><lexeme><grapheme>BTW</grapheme>'
    "<alias>by the way</alias></lexeme><lexeme><grapheme>tomato</grapheme><phoneme>təˈmeɪtoʊ</phoneme>"
    "</lexeme></lexicon>"
)


def text() -> None:
    write("ssml", "voice", SSML.encode())
    write("ssml", "plain", b'<speak version="1.0" xml:lang="de-DE">Guten Tag &amp; <s>Satz</s><p>Absatz</p></speak>')
    write("lexicon", "alias-and-phoneme", PLS.encode())
    write("lexicon", "with-ssml", PLS.encode() + b"\0" + SSML.encode())
    write(
        "html_markup",
        "tags",
        b'<p class="x">Fish &amp; chips</p><br/>a < b <span class="notranslate">Keep <b>me</b></span>'
        b"<script>var a='<b>';</script><!-- c -->",
    )
    write(
        "html_markup",
        "dictionary",
        b'The <mstrans:dictionary translation="wordomatic">word</mstrans:dictionary> is <b>here</b>.',
    )


def uploads() -> None:
    for name, method in (("stored", zipfile.ZIP_STORED), ("deflated", zipfile.ZIP_DEFLATED)):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", method) as z:
            z.writestr("cats/a.jpg", b"\xff\xd8\xff jpeg")
            z.writestr("dogs/", b"")
            z.writestr("dogs/b.png", b"\x89PNG png png png")
            z.writestr("__MACOSX/cats/._a.jpg", b"x")
        write("zip_tag_folders", name, out.getvalue())
    # Byte 0: chunk size; byte 1: limit in 64-byte steps; the Content-Type line; the body.
    body = (
        b"--XyZ\r\nContent-Disposition: form-data; name=\"definition\"\r\n\r\n{\"locale\":\"en-US\"}\r\n"
        b"--XyZ\r\nContent-Disposition: form-data; name=\"temperature\"\r\n\r\n0.2\r\n"
        b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\n"
        b"Content-Type: audio/wav\r\n\r\nRIFF....WAVE\r\n--XyZ--\r\n"
    )
    write("multipart_form", "form", b"\x07\xff" + b"multipart/form-data; boundary=XyZ\n" + body)
    write("multipart_form", "one-chunk", b"\xff\x10" + b"multipart/form-data; boundary=\"XyZ\"\n" + body)


JSON = [
    b'{"kind":"SentimentAnalysis","parameters":{"stringIndexType":"Utf16CodeUnit","piiCategories":["Person"],'
    b'"sentenceCount":3,"sortBy":"Rank"},"analysisInput":{"documents":[{"id":"1","text":"Hi","language":"en"}]}}',
    b'{"documents":[{"id":"1","text":"Bonjour","countryHint":"FR"},{"id":"2","text":" "}]}',
    b'{"displayName":"j","analysisInput":{"documents":[{"id":"1","text":"a"}]},'
    b'"tasks":[{"kind":"KeyPhraseExtraction","taskName":"t","parameters":{}}]}',
    b'{"input":["a","b"],"model":"m","encoding_format":"base64"}',
    b'[{"text":"I love it","label":"pos"}]',
    b'[{"Text":"<b>Hello</b> <mstrans:dictionary translation=\\"x\\">y</mstrans:dictionary>"},{"text":"&amp;"}]',
    b'[{"Text":"house","Translation":"casa"}]',
    b'{"q":["a","b"],"source":"auto","target":"es","format":"html","api_key":"k"}',
    b'{"locale":"de-DE","displayName":"d","model":{"self":"x"},"properties":{"wordLevelTimestampsEnabled":true,'
    b'"profanityFilterMode":"Masked","phraseList":["Cogway"]}}',
    b'{"baseModel":"whisper","phrases":["Contoso","Cogway"],"description":"d"}',
    b'{"model":"tts-1","input":"Hello","voice":"alloy","response_format":"wav","speed":1.5}',
    b'{"url":"https://example.com/a.jpg","name":"p","description":"d"}',
    b'{"name":"key-1","services":["language"],"rps":5,"chars_per_hour":10,"admin":false}',
]


def requests() -> None:
    # Byte 0: the route family (gateway/src/fuzzing.rs, request_json).
    for i, body in enumerate(JSON):
        write("request_json", f"family-{i:02}", bytes([i]) + body)


if __name__ == "__main__":
    audio()
    image()
    text()
    uploads()
    requests()
