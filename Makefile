# The two commands a newcomer needs:
#   make demo   set everything up, then a simulated day against the local AWS stand-in
#   make test   every check and test (what CI runs)
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# The venv's tools first: cargo-lambda, moto_server, sam, cfn-lint, and python3 with ziglang
# (cargo lambda's cross-linker for --arm64).
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# `sam validate` only needs a region; nothing here talks to a real account.
export AWS_DEFAULT_REGION ?= ap-northeast-2

.PHONY: help check fmt-check lambda-tools setup compile build sam-build sam-build-x86_64 sam-build-arm64 demo test lint unit integration template bench clean

help:
	@echo "The two commands:"
	@echo "  make demo        set up the local stand-in and run a simulated day of ec2-autostop"
	@echo "  make test        everything CI checks (what .ci/run runs): the phases below"
	@echo "The edit loop:"
	@echo "  make check       cargo fmt --check, clippy -D warnings, unit and property tests (no AWS stand-in)"
	@echo "The phases of make test, each runnable alone:"
	@echo "  make setup       the venvs (.venv, .venv-checkov): moto, cargo-lambda, sam, cfn-lint, pytest, checkov"
	@echo "  make lint        cargo fmt --check and clippy -D warnings (make test lints in its debug build instead)"
	@echo "  make fmt-check   cargo fmt --check"
	@echo "  make compile     the debug build of the tests and the functions (in make test, clippy -D warnings on the way)"
	@echo "  make unit        cargo test --workspace: unit, property and doc tests"
	@echo "  make template    cfn-lint, sam validate, asl-validator, checkov on template.yaml"
	@echo "  make integration the pytest suite in tests/ against the local stand-ins"
	@echo "  make sam-build   sam build for x86_64 and arm64 into .aws-sam/<arch>/build, then checked"
	@echo "                   (make test runs each architecture in the background, beside the other phases)"
	@echo "Other targets:"
	@echo "  make build       release bootstraps for Lambda (arm64 when its Rust target is installed)"
	@echo "  make sam-build-x86_64, make sam-build-arm64   one architecture of sam-build"
	@echo "  make lambda-tools  the copy of cargo-lambda sam-build runs (at a path no clone changes)"
	@echo "  make bench       Rust vs Python + boto3 benchmark; writes bench-results/ (see BENCHMARKS.md)"
	@echo "  make node_modules  npm ci (asl-validator, the IAM evaluator, the second ASL interpreter)"
	@echo "  make clean       remove .local, .aws-sam and node_modules"

# The edit loop: what fails most often, in a minute or two on a warm target directory.
check: lint unit

setup:
	@scripts/setup.sh

demo: setup
	cargo build --workspace
	$(PY) scripts/demo.py

# Everything CI checks, in timed phases, ordered to keep both cores busy: scripts/test.sh says how
# (the venvs beside the debug build, linted as it compiles; `sam build` for both architectures in
# the background while unit, template and integration run in front).
test:
	@scripts/test.sh

# The debug build of everything `unit` and `integration` run.
compile:
	cargo test --workspace --no-run
	cargo build --workspace

CLIPPY_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/clippy
lint: fmt-check
	CARGO_TARGET_DIR=$(CLIPPY_TARGET_DIR) cargo clippy --workspace --all-targets -- -D warnings

fmt-check:
	cargo fmt --all --check

unit:
	cargo test --workspace

# checkov has its own venv (scripts/setup.sh): its pinned dependencies conflict with .venv's.
CHECKOV := .venv-checkov/bin/checkov --quiet --compact --skip-download --framework cloudformation

template: setup node_modules
	@# The serverless rules after the template: `-a` takes every name that follows it.
	cfn-lint template.yaml -a cfn_lint_serverless.rules
	sam validate --lint --template template.yaml
	npx --no-install asl-validator --json-path statemachine/alb-scheduler.asl.json
	npx --no-install asl-validator --json-path statemachine/alb-fleet.asl.json
	@# checkov fails on any finding not skipped with a reason in the resource's Metadata: on the
	@# template as written, then as SAM expands it (generated roles, API stage, every conditional
	@# resource), which is where its IAM checks see the policies.
	$(CHECKOV) -f template.yaml
	$(PY) tests/sam.py .local/template-translated.json
	$(CHECKOV) -f .local/template-translated.json

node_modules: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch node_modules

# The suite in INTEGRATION_WORKERS processes (pytest-xdist, one test file per process at a time),
# each with its own stand-ins on ports of its own: its tests wait on them half of the time. Each
# process saves the AWS calls it recorded; the permission test then evaluates all of them.
INTEGRATION_WORKERS ?= 2
CALLS_DIR := $(CURDIR)/.local/logs/calls
integration: setup node_modules
	cargo build --workspace
	rm -rf $(CALLS_DIR)
	LIGHTSOUT_CALLS_DIR=$(CALLS_DIR) $(PY) -m pytest tests -n $(INTEGRATION_WORKERS) --dist loadfile \
	  --durations=25 --ignore tests/test_calls_allowed.py
	LIGHTSOUT_CALLS_DIR=$(CALLS_DIR) $(PY) -m pytest tests/test_calls_allowed.py

build: setup
	@if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then \
	  cargo lambda build --release --arm64; \
	else \
	  echo "build: the aarch64-unknown-linux-gnu Rust target is not installed; building x86_64"; \
	  cargo lambda build --release --x86-64; \
	fi

# `sam build` of every function in template.yaml, as `sam deploy` would ship it (SAM's Rust builder
# runs `cargo lambda build --release --bin <Binary>` per function), for x86_64 into
# .aws-sam/x86_64/build and, when the aarch64 Rust target is (or can be) installed, for arm64 into
# .aws-sam/arm64/build; scripts/check_artifacts.py then checks each: a bootstrap of the right
# machine for every function, no function missing or extra.
# The two builds run side by side: each alone keeps about one of the two cores busy (codegen-units=1
# and a link per function), and cargo locks a target directory for a whole build, so each
# architecture builds in a target directory of its own, CARGO_TARGET_DIR/sam-x86_64 and
# CARGO_TARGET_DIR/sam-arm64 (apart from the debug build too, which `make test` runs beside it);
# both stay warm between CI runs. Each has its own .aws-sam/<arch>, because SAM rewrites the
# build.toml next to its build directory at start. Not --cached: SAM hashes the whole checkout
# (.venv, target, .local) for each function, ~25 s each, and fails when a file goes away meanwhile;
# cargo's own fingerprints already make a warm rebuild take seconds. Not --parallel: the builds of
# one architecture queue on cargo's lock of its target directory.
#
# cargo-lambda cross-links through cargo-zigbuild's wrapper scripts, whose directory is named after
# the path of the cargo-lambda executable, and the wrappers' paths reach every C build script
# (aws-lc-sys, under the whole SDK) through CC_<target>: run from each clone's .venv, a new clone
# rebuilt the SDK from scratch even with a warm target directory. So sam runs a copy of it at a
# path that does not depend on the clone, next to the target directories it builds into.
SAM_BUILD := sam build --template template.yaml
SAM_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
LAMBDA_TOOLS := $(SAM_TARGET_DIR)/sam-tools
lambda-tools: setup
	@mkdir -p $(LAMBDA_TOOLS)
	@cmp -s $(VENV)/bin/cargo-lambda $(LAMBDA_TOOLS)/cargo-lambda \
	  || { cp $(VENV)/bin/cargo-lambda $(LAMBDA_TOOLS)/cargo-lambda.new \
	       && mv $(LAMBDA_TOOLS)/cargo-lambda.new $(LAMBDA_TOOLS)/cargo-lambda; }

sam-build: setup lambda-tools
	@mkdir -p .local
	@if rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu \
	    || rustup target add aarch64-unknown-linux-gnu; then \
	  $(MAKE) --no-print-directory -j2 sam-build-x86_64 sam-build-arm64 \
	    && echo "sam-build: x86_64 and arm64 built and checked"; \
	else \
	  rm -rf .aws-sam/arm64; \
	  $(MAKE) --no-print-directory sam-build-x86_64 \
	    && echo "sam-build: arm64 NOT BUILT: the aarch64-unknown-linux-gnu Rust target is not installed" \
	    && echo "  and 'rustup target add aarch64-unknown-linux-gnu' failed; only x86_64 was built and checked."; \
	fi

sam-build-x86_64: SAM_CARGO_TARGET_DIR = $(SAM_TARGET_DIR)/sam-x86_64
sam-build-arm64: SAM_CARGO_TARGET_DIR = $(SAM_TARGET_DIR)/sam-arm64
sam-build-x86_64 sam-build-arm64: sam-build-%: lambda-tools
	@rm -rf .aws-sam/$*
	@echo "sam-build: $* into .aws-sam/$*/build (cargo: $(SAM_CARGO_TARGET_DIR); sam's log: .local/sam-build-$*.log)"
	@set -o pipefail; start=$$SECONDS; \
	PATH=$(LAMBDA_TOOLS):$$PATH CARGO_TARGET_DIR=$(SAM_CARGO_TARGET_DIR) $(SAM_BUILD) --build-dir .aws-sam/$*/build \
	    --parameter-overrides Architecture=$* 2>&1 | tee .local/sam-build-$*.log \
	  | sed -un 's/^Building codeuri: .* functions: /sam-build: $*: /p' \
	  || { tail -n 40 .local/sam-build-$*.log; echo "sam-build: $*: sam build failed"; exit 1; }; \
	echo "sam-build: $*: sam build took $$((SECONDS - start)) s"
	$(PY) scripts/check_artifacts.py .aws-sam/$*/build $*

# Not part of `make test`: it takes minutes and its numbers are read, not asserted.
BENCH_ARGS ?=
bench: setup
	$(PY) -m pip install --quiet -r tests/bench/requirements.txt
	@# wrk drives the SQS pipeline's HTTP load (Debian's package).
	@command -v wrk >/dev/null || apt-get install -y -q wrk || echo "bench: wrk could not be installed; the pipeline part needs it"
	cargo build --release --workspace
	@# One small function under each alternative profile, to compare against `release`.
	for profile in release-thin release-z release-fat release-plain; do \
	  cargo build -p delete-route53-record --profile $$profile || exit 1; \
	done
	@# arm64 sizes, where the aarch64 target is (or can be) installed; zig (ziglang) links.
	@if rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu \
	    || rustup target add aarch64-unknown-linux-gnu; then \
	  cargo lambda build --release --arm64 --workspace --exclude lightsout; \
	else \
	  echo "bench: the aarch64-unknown-linux-gnu target is not installed: arm64 sizes are not measured"; \
	fi
	$(PY) tests/bench/bench.py $(BENCH_ARGS)

clean:
	rm -rf .local .aws-sam node_modules
