# Cogway: `make run` sets up and starts the gateway; `make test` sets up and runs every test.
SHELL := /bin/bash
export COGWAY_CACHE ?= $(HOME)/.cache/cogway
export CARGO_TARGET_DIR ?= $(COGWAY_CACHE)/target
# MKL=1: the release gateway's CTranslate2 with Intel MKL (feature `mkl`), fetched from PyPI by
# setup into $(MKLROOT); the default build uses ruy alone (docs/architecture.md, "Neural models").
MKL ?= 0
export COGWAY_MKL := $(MKL)
export MKLROOT ?= $(COGWAY_CACHE)/mkl
RELEASE_FEATURES := $(if $(filter 1,$(MKL)),--features mkl)
VENV := $(COGWAY_CACHE)/venv
BENCH_VENV := $(COGWAY_CACHE)/bench-venv
PROFILE_DIR := $(CARGO_TARGET_DIR)/debug

.PHONY: setup models build release run test test-rust test-sdk test-api test-cluster test-deploy bench-cluster fuzz fmt lint bench bench-speech bench-live bench-translation bench-vision bench-ner bench-anomaly bench-venv clean-cache

setup:
	bash scripts/setup.sh

models: setup

build:
	cargo build --workspace --all-targets

release:
	cargo build --release -p cogway-gateway $(RELEASE_FEATURES)

run: setup release
	$(CARGO_TARGET_DIR)/release/cogway serve

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# The NER agreement test runs on its own so that its figure (entities agreeing with spaCy) is printed.
test-rust: build
	COGWAY_BIN=$(PROFILE_DIR)/cogway cargo test --workspace -- --test-threads=2 --skip entities_agree_with_spacy
	cargo test -p cogway-language --test spacy_agreement -- --nocapture

test-sdk: build
	COGWAY_BIN=$(PROFILE_DIR)/cogway $(VENV)/bin/python -m pytest -q tests/sdk

test: setup lint test-rust test-sdk test-cluster test-deploy

# Two replicas on one PostgreSQL and one Redis behind nginx (tests/cluster): shared keys, quotas, rate
# limits and revocations; a job runs once and is taken over when its replica is killed. Installs
# postgresql, redis-server and nginx-light when missing; the engines are throwaway (scripts/test_cluster.sh).
# Then the whole end-to-end suite again on that PostgreSQL (COGWAY_CLUSTER_SKIP_E2E=1 skips it).
test-cluster: build
	COGWAY_BIN=$(PROFILE_DIR)/cogway bash scripts/test_cluster.sh

# Redis-backed limits against in-process ones, and 1 against 2 replicas behind nginx, on the same
# throwaway engines (tests/bench/cluster_bench.py). Extra flags: BENCH_ARGS="--markdown FILE".
bench-cluster: setup release
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway bash scripts/test_cluster.sh --bench $(BENCH_ARGS)

# The deployment files (Helm chart, docker/compose.cluster.yaml, nginx config) checked offline.
test-deploy:
	bash scripts/test_deploy.sh

# Schemathesis against the gateway's /openapi.json (pinned in tests/api/requirements.txt, installed
# into $(COGWAY_CACHE)/api-venv): no 5xx, no response outside the documented schema. Settings:
# API_MAX_EXAMPLES (20 per operation), API_MAX_TIME (900 s), API_CHECKS, API_ARGS (scripts/test_api.sh).
test-api:
	cargo build -p cogway-gateway
	COGWAY_BIN=$${COGWAY_BIN:-$(PROFILE_DIR)/cogway} bash scripts/test_api.sh

# Every cargo-fuzz target of fuzz/ for FUZZ_SECONDS each, at nice 19, in its own target dir
# ($(COGWAY_CACHE)/fuzz-target); fails if one crashed. Installs cargo-fuzz when missing. docs/fuzzing.md.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) CARGO_TARGET_DIR=$(COGWAY_CACHE)/fuzz-target bash scripts/fuzz.sh

bench: setup release
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway cargo bench -p cogway-tests --bench gateway_overhead

# Speech to text and text to speech against faster-whisper, whisper-rs and piper-tts (installs its
# own pinned baselines into $(COGWAY_CACHE)/bench-venv). Extra flags: make bench-speech BENCH_ARGS="--markdown FILE".
bench-speech: setup release
	cargo build --release -p cogway-speech --example whisper_direct
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway $(VENV)/bin/python tests/bench/speech_bench.py $(BENCH_ARGS)

# Live speech latency (tests/bench/live_bench.py): two 10 s clips streamed in real time through the Speech
# SDK and an OpenAI Realtime session, against WhisperLive-style chunking on faster-whisper. Extra flags:
# make bench-live BENCH_ARGS="--markdown FILE".
bench-live: setup release
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway $(VENV)/bin/python tests/bench/live_bench.py $(BENCH_ARGS)

# Apertium en->es through the gateway against the apertium CLI started per request, and neural zh->en
# against Python CTranslate2 on the same Argos model (pinned in tests/bench/requirements.txt, installed
# into $(BENCH_VENV); the stamp is the one the benchmark scripts check). Extra flags:
# make bench-translation BENCH_ARGS="--markdown FILE".
bench-translation: setup release bench-venv
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway $(VENV)/bin/python tests/bench/translation_bench.py $(BENCH_ARGS)

# Tags, objects and read through the gateway (1 and 4 clients) against onnxruntime on the same ONNX
# files and against rapidocr 3.10.0 (installed into $(BENCH_VENV) from tests/bench/requirements.txt).
# Extra flags: make bench-vision BENCH_ARGS="--markdown FILE".
bench-vision: setup release bench-venv
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway $(VENV)/bin/python tests/bench/vision_bench.py $(BENCH_ARGS)

# The Rust NER port (release example ner_lines) against spaCy 3.8 itself, NER alone and the full
# pipeline, on the agreement test's corpus. Extra flags: make bench-ner BENCH_ARGS="--passes 20".
bench-ner: setup
	cargo build --release -p cogway-language --example ner_lines
	$(VENV)/bin/python tests/bench/ner_bench.py $(BENCH_ARGS)

# Anomaly detection (entire/detect, spectral residual and seasonal models) in Rust against the same
# method in numpy (tests/bench/anomaly_bench.py), points/s and the ratio; both must flag the same points.
bench-anomaly: setup
	cargo build --release -p cogway-decision --example anomaly_points
	$(VENV)/bin/python tests/bench/anomaly_bench.py $(BENCH_ARGS)

# The benchmarks' baselines (pinned in tests/bench/requirements.txt) in $(BENCH_VENV); the stamp is
# the one the benchmark scripts check.
bench-venv:
	test -x $(BENCH_VENV)/bin/python || $(VENV)/bin/python -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --disable-pip-version-check -r tests/bench/requirements.txt
	sha256sum tests/bench/requirements.txt | cut -d' ' -f1 > $(BENCH_VENV)/.requirements.sha256
