# SchedulingKit webhooks — the two commands are `make run` and `make test` (see README.md).
#
# Every tool is installed here when missing, outside the clone (~/.cargo/bin and a cache
# directory), so a second clone reuses them. Nothing downloads prebuilt binaries: cargo-leptos
# is built with `no_downloads` and takes wasm-bindgen and wasm-opt from PATH.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

TOOLS_DIR ?= $(HOME)/.cache/schedulingkit-webhooks-tools
CARGO_LEPTOS_VERSION := 0.3.10
BINARYEN_VERSION := 123.0.0
SCHEMATHESIS_VERSION := 4.32.5
# The stock OpenAPI validator the served document is checked with (`make api-fuzz`).
OPENAPI_SPEC_VALIDATOR_VERSION := 0.9.0
# The stock client generator a Python client is generated from the served document with.
OPENAPI_PYTHON_CLIENT_VERSION := 0.29.1
# The stock Standard Webhooks library the README's snippets are tested with.
STANDARDWEBHOOKS_VERSION := 1.1.0
# The wasm-bindgen CLI must equal the wasm-bindgen crate in Cargo.lock.
WASM_BINDGEN_VERSION := $(shell awk '/^name = "wasm-bindgen"$$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)

export PATH := $(TOOLS_DIR)/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
# The name cargo-leptos compiles into leptos (option_env!); set for every cargo command so
# that `cargo test`, clippy and cargo-leptos share one build of the dependencies.
export LEPTOS_OUTPUT_NAME := schedulingkit-webhooks
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1
# A clean CI build gains nothing from incremental compilation but gigabytes of disk.
ifeq ($(CI),true)
export CARGO_INCREMENTAL := 0
endif

RUN_ADDR ?= 127.0.0.1:3000
BIN := schedulingkit-webhooks

.PHONY: run test tools wasm-target cargo-leptos wasm-bindgen wasm-opt chromium e2e-deps \
        schemathesis openapi-spec-validator openapi-python-client verify-deps lint unit e2e api-fuzz \
        generated-client bench clean

## make run: build in release mode, migrate ./data/schedulingkit-webhooks.db, serve on RUN_ADDR.
run: tools
	cargo leptos build --release
	./target/release/$(BIN) precompress target/site/pkg
	mkdir -p data
	./target/release/$(BIN) migrate
	@echo "Serving on http://$(RUN_ADDR)"
	LEPTOS_SITE_ROOT=target/site SKW_ADDR=$(RUN_ADDR) ./target/release/$(BIN) serve

## make test: formatting, clippy, every Rust test (SQLite; PostgreSQL too when reachable, always
## in CI), then the Playwright suite against a freshly built server on a throw-away database, then
## the API's checks: the document validated and fuzzed, and a client generated from it.
test: tools e2e-deps
	@t0=$$(date +%s); \
	$(MAKE) --no-print-directory lint; t1=$$(date +%s); \
	$(MAKE) --no-print-directory unit; t2=$$(date +%s); \
	$(MAKE) --no-print-directory e2e; t3=$$(date +%s); \
	$(MAKE) --no-print-directory api-fuzz; t4=$$(date +%s); \
	$(MAKE) --no-print-directory generated-client; t5=$$(date +%s); \
	echo "make test timings: lint $$((t1 - t0)) s, Rust tests $$((t2 - t1)) s, browser tests $$((t3 - t2)) s, API fuzzing $$((t4 - t3)) s, generated client $$((t5 - t4)) s, total $$((t5 - t0)) s"

lint:
	cargo fmt --all -- --check
	cargo clippy --locked -p migrations -p server --all-targets -- -D warnings
	cargo clippy --locked -p app --features ssr --all-targets -- -D warnings
	cargo clippy --locked -p frontend --target wasm32-unknown-unknown -- -D warnings

unit: verify-deps
	cargo test --locked -p app --features ssr
	SKW_VERIFY_PYTHON="$(TOOLS_DIR)/verify-venv/bin/python" cargo test --locked -p migrations -p server

# Against the release build, as `make run` serves it (precompressed, hashed bundle: the suite
# measures what a first and a second page view transfer).
e2e: tools e2e-deps
	cargo leptos build --release
	./target/release/$(BIN) precompress target/site/pkg
	cd end2end && SKW_E2E_BIN="$(CURDIR)/target/release/$(BIN)" npx playwright test

## The served OpenAPI document checked by openapi-spec-validator, then the JSON API fuzzed from
## it (schemathesis, a bounded number of examples) against the server `make e2e` built.
api-fuzz: schemathesis openapi-spec-validator
	ST="$(TOOLS_DIR)/venv/bin/st" \
	  OPENAPI_SPEC_VALIDATOR="$(TOOLS_DIR)/spec-venv/bin/openapi-spec-validator" \
	  bash end2end/api-fuzz.sh

## A Python client generated from the served document by openapi-python-client creates a webhook,
## publishes an event and reads its delivery (end2end/generated_client_test.py), against the
## debug server `make unit` built; the generator's venv first on PATH (its python has httpx).
generated-client: openapi-python-client
	PATH="$(TOOLS_DIR)/client-venv/bin:$$PATH" bash end2end/generated-client.sh

## make bench: the dispatcher's throughput, latency and isolation (release build; prints a row
## per scenario and a JSON line). DATABASE_URL=postgres://… for PostgreSQL, SKW_BENCH_ONLY=a,b to
## pick scenarios, SKW_BENCH_SCALE=0.1 for a quick look, SKW_BENCH_INSTANCES=2 for two servers
## sharing the database in (b), (c) and (f), SKW_BENCH_SERVER_BIN=path to measure another build
## of the server with the same harness.
bench: tools
	cargo bench --locked -p server --bench dispatch

## Tools ---------------------------------------------------------------------------------

tools: wasm-target cargo-leptos wasm-bindgen wasm-opt

wasm-target:
	@rustup target list --installed | grep -qx wasm32-unknown-unknown \
	  || rustup target add wasm32-unknown-unknown

# Installed only when absent, of another version, or built without `no_downloads`.
cargo-leptos:
	@if python3 -c 'import json,os,sys; d=json.load(open(os.path.expanduser("~/.cargo/.crates2.json")))["installs"]; sys.exit(0 if any(k.startswith("cargo-leptos $(CARGO_LEPTOS_VERSION) ") and "no_downloads" in v.get("features",[]) for k,v in d.items()) else 1)' 2>/dev/null \
	   && command -v cargo-leptos >/dev/null; then :; else \
	  echo "Installing cargo-leptos $(CARGO_LEPTOS_VERSION) with no_downloads (about 15 minutes on 2 cores)"; \
	  cargo install cargo-leptos --locked --version $(CARGO_LEPTOS_VERSION) --features no_downloads; \
	fi

# Without --locked: with it, the CLI wants a webpki-roots release the registry lacks.
wasm-bindgen:
	@test -n "$(WASM_BINDGEN_VERSION)" || { echo "wasm-bindgen not found in Cargo.lock"; exit 1; }
	@if [ "$$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen $(WASM_BINDGEN_VERSION)" ]; then \
	  echo "Installing wasm-bindgen-cli $(WASM_BINDGEN_VERSION)"; \
	  cargo install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION) --force; \
	fi

# wasm-opt for release bundles: binaryen from npm (Debian's older wasm-opt breaks hydration).
wasm-opt:
	@if ! "$(TOOLS_DIR)/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $(firstword $(subst ., ,$(BINARYEN_VERSION))) "; then \
	  echo "Installing binaryen $(BINARYEN_VERSION) into $(TOOLS_DIR)"; \
	  mkdir -p "$(TOOLS_DIR)"; \
	  npm install --no-audit --no-fund --prefix "$(TOOLS_DIR)" binaryen@$(BINARYEN_VERSION) >/dev/null; \
	fi

schemathesis:
	@if [ "$$("$(TOOLS_DIR)/venv/bin/st" --version 2>/dev/null)" != "st, version $(SCHEMATHESIS_VERSION)" ]; then \
	  echo "Installing schemathesis $(SCHEMATHESIS_VERSION) into $(TOOLS_DIR)/venv"; \
	  python3 -m venv "$(TOOLS_DIR)/venv"; \
	  "$(TOOLS_DIR)/venv/bin/pip" install --quiet "schemathesis==$(SCHEMATHESIS_VERSION)"; \
	fi

# A venv of its own, so that its pins and schemathesis' never have to agree.
openapi-spec-validator:
	@if ! "$(TOOLS_DIR)/spec-venv/bin/python" -c "import importlib.metadata as m; assert m.version('openapi-spec-validator') == '$(OPENAPI_SPEC_VALIDATOR_VERSION)'" 2>/dev/null; then \
	  echo "Installing openapi-spec-validator $(OPENAPI_SPEC_VALIDATOR_VERSION) into $(TOOLS_DIR)/spec-venv"; \
	  python3 -m venv "$(TOOLS_DIR)/spec-venv"; \
	  "$(TOOLS_DIR)/spec-venv/bin/pip" install --quiet "openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)"; \
	fi

# The client generator in a venv of its own; its httpx and attrs are what the generated client needs.
openapi-python-client:
	@if ! "$(TOOLS_DIR)/client-venv/bin/python" -c "import importlib.metadata as m; assert m.version('openapi-python-client') == '$(OPENAPI_PYTHON_CLIENT_VERSION)'" 2>/dev/null; then \
	  echo "Installing openapi-python-client $(OPENAPI_PYTHON_CLIENT_VERSION) into $(TOOLS_DIR)/client-venv"; \
	  python3 -m venv "$(TOOLS_DIR)/client-venv"; \
	  "$(TOOLS_DIR)/client-venv/bin/pip" install --quiet "openapi-python-client==$(OPENAPI_PYTHON_CLIENT_VERSION)"; \
	fi

# A venv with the standardwebhooks package, for the test that runs the README's snippets.
verify-deps:
	@if ! "$(TOOLS_DIR)/verify-venv/bin/python" -c "import importlib.metadata as m; assert m.version('standardwebhooks') == '$(STANDARDWEBHOOKS_VERSION)'" 2>/dev/null; then \
	  echo "Installing standardwebhooks $(STANDARDWEBHOOKS_VERSION) into $(TOOLS_DIR)/verify-venv"; \
	  python3 -m venv "$(TOOLS_DIR)/verify-venv"; \
	  "$(TOOLS_DIR)/verify-venv/bin/pip" install --quiet "standardwebhooks==$(STANDARDWEBHOOKS_VERSION)"; \
	fi

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

e2e-deps: chromium
	@if [ ! -d end2end/node_modules/@playwright/test ] || [ ! -d end2end/node_modules/@axe-core/playwright ]; then \
	  cd end2end && npm ci --no-audit --no-fund; fi

clean:
	cargo clean
	rm -rf end2end/node_modules end2end/test-results
