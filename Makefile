# Cogway: `make run` sets up and starts the gateway; `make test` sets up and runs every test.
SHELL := /bin/bash
export COGWAY_CACHE ?= $(HOME)/.cache/cogway
export CARGO_TARGET_DIR ?= $(COGWAY_CACHE)/target
VENV := $(COGWAY_CACHE)/venv
PROFILE_DIR := $(CARGO_TARGET_DIR)/debug

.PHONY: setup models build release run test test-rust test-sdk fmt lint bench bench-speech clean-cache

setup:
	bash scripts/setup.sh

models: setup

build:
	cargo build --workspace --all-targets

release:
	cargo build --release -p cogway-gateway

run: setup release
	$(CARGO_TARGET_DIR)/release/cogway serve

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

test-rust: build
	COGWAY_BIN=$(PROFILE_DIR)/cogway cargo test --workspace -- --test-threads=2

test-sdk: build
	COGWAY_BIN=$(PROFILE_DIR)/cogway $(VENV)/bin/python -m pytest -q tests/sdk

test: setup lint test-rust test-sdk

bench: setup release
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway cargo bench -p cogway-tests --bench gateway_overhead

# Speech to text and text to speech against faster-whisper, whisper-rs and piper-tts (installs its
# own pinned baselines into $(COGWAY_CACHE)/bench-venv). Extra flags: make bench-speech BENCH_ARGS="--markdown FILE".
bench-speech: setup release
	cargo build --release -p cogway-speech --example whisper_direct
	COGWAY_BIN=$(CARGO_TARGET_DIR)/release/cogway $(VENV)/bin/python tests/bench/speech_bench.py $(BENCH_ARGS)
