#!/usr/bin/env bash
# `make fuzz`: builds the cargo-fuzz targets of fuzz/ and runs each for a fixed time, one after the
# other, at the lowest CPU priority. Prints one summary line per target and exits non-zero if any
# target crashed (a panic, a 5xx for client input, a sanitizer report, a timeout or running out of
# memory). See docs/fuzzing.md.
#
# Settings (environment):
#   FUZZ_SECONDS    time per target (default 60)
#   FUZZ_TARGETS    targets to run, space-separated (default: every target of fuzz/Cargo.toml)
#   FUZZ_SANITIZER  address (default) or none; address falls back to none if it cannot build
#   FUZZ_TIMEOUT    seconds one input may take before it counts as a hang (default 30)
# The stable toolchain of rust-toolchain.toml builds the targets: RUSTC_BOOTSTRAP=1 lets it accept
# the -Z flags cargo-fuzz passes. cargo-fuzz is installed from crates.io when missing.
# Corpora grow in $COGWAY_CACHE/fuzz-corpus/<target> (seeded from fuzz/seeds/<target>), crashing
# inputs land in $COGWAY_CACHE/fuzz-artifacts/<target>, logs in $COGWAY_CACHE/fuzz-logs.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cache=${COGWAY_CACHE:-$HOME/.cache/cogway}
seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}
timeout=${FUZZ_TIMEOUT:-30}
cargo_fuzz_version=0.13.2
export CARGO_TARGET_DIR=$cache/fuzz-target
export RUSTC_BOOTSTRAP=1
# The cc crate builds the C libraries with -fsanitize=address too; SQLite's amalgamation has two
# function-local static arrays of the same name, which ASan reports as an ODR violation at start.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_odr_violation=0}
cd "$here" || exit 1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz $cargo_fuzz_version"
  nice -n 19 cargo install cargo-fuzz --locked --version "$cargo_fuzz_version" || exit 1
fi

targets=${FUZZ_TARGETS:-$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -vx cogway-fuzz)}
logs=$cache/fuzz-logs
mkdir -p "$logs"

# One build of every target first (the first one compiles whisper.cpp, CTranslate2 and the rest
# of the gateway's dependencies with coverage instrumentation: it takes long, later ones are quick).
echo "fuzz: building the targets (sanitizer: $sanitizer) in $CARGO_TARGET_DIR"
if ! nice -n 19 cargo fuzz build --sanitizer "$sanitizer" > "$logs/build.log" 2>&1; then
  if [ "$sanitizer" = address ]; then
    echo "fuzz: the AddressSanitizer build failed (see $logs/build.log); building with --sanitizer none"
    sanitizer=none
    nice -n 19 cargo fuzz build --sanitizer none > "$logs/build.log" 2>&1 ||
      { tail -30 "$logs/build.log"; echo "fuzz: the build failed"; exit 1; }
  else
    tail -30 "$logs/build.log"
    echo "fuzz: the build failed"
    exit 1
  fi
fi

failed=0
summary=()
for target in $targets; do
  corpus=$cache/fuzz-corpus/$target
  artifacts=$cache/fuzz-artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  seeds=()
  [ -d "fuzz/seeds/$target" ] && seeds=("fuzz/seeds/$target")
  log=$logs/$target.log
  # The first corpus folder is where new inputs are written; the seeds are only read.
  nice -n 19 cargo fuzz run --sanitizer "$sanitizer" "$target" "$corpus" "${seeds[@]}" -- \
    -max_total_time="$seconds" -timeout="$timeout" -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" > "$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^Done \([0-9]*\) runs in.*/\1/p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus_files=$(find "$corpus" -type f | wc -l)
  if [ "$rc" = 0 ]; then
    line="fuzz: $target: ok, ${runs:-?} runs in ${seconds} s, coverage ${cov:-?}, corpus $corpus_files inputs"
  else
    failed=1
    crash=$(grep -o 'Test unit written to .*' "$log" | tail -1 | sed 's/Test unit written to //')
    kind=$(grep -m1 -o 'ERROR: libFuzzer: [a-z-]*\|ERROR: AddressSanitizer: [a-z-]*\|panicked at [^:]*:[0-9]*' "$log" | head -1)
    line="fuzz: $target: FAILED (exit $rc${kind:+, $kind}), input: ${crash:-none written}, log: $log"
  fi
  echo "$line"
  summary+=("$line")
done

echo
echo "fuzz summary (sanitizer: $sanitizer, $seconds s per target):"
printf '  %s\n' "${summary[@]}"
if [ "$failed" != 0 ]; then
  echo "fuzz: a target failed. Reproduce with: RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=$CARGO_TARGET_DIR cargo fuzz run --sanitizer $sanitizer <target> <input>;"
  echo "      once fixed, copy the input to tests/data/fuzz-regressions/<target>/ (docs/fuzzing.md)."
fi
exit "$failed"
