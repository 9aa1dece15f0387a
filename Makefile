# The single entry point for building, testing and running pyqueue.
# `make test` works on a fresh machine: it installs Debian packages that are missing, creates
# .venv, installs the Python dependencies, builds the Rust core, runs the lint and both test
# suites.
# Stamp files in .venv keep repeated runs fast: pip runs again only when pyproject.toml changed,
# and the extension is rebuilt only when a Rust source or a manifest changed.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
MAKEFLAGS += --no-builtin-rules --no-print-directory

# The interpreter that creates the virtualenv; taken before .venv/bin goes first on PATH.
ifndef PYTHON
PYTHON := $(shell command -v python3)
endif
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

# Everything below runs as if .venv were activated. PYO3_PYTHON pins the interpreter PyO3 builds
# against, so `cargo test`, clippy and maturin agree and do not rebuild each other's artefacts.
export VIRTUAL_ENV := $(CURDIR)/$(VENV)
export PATH := $(VIRTUAL_ENV)/bin:$(HOME)/.cargo/bin:$(PATH)
export PYO3_PYTHON := $(VIRTUAL_ENV)/bin/python
export PIP_DISABLE_PIP_VERSION_CHECK := 1
ifdef CI
export PIP_PROGRESS_BAR := off
export CARGO_TERM_PROGRESS_WHEN := never
endif

# PyO3 links the test binaries against libpython without an rpath, so the loader needs its
# directory at run time. Expanded only in recipes, once .venv exists.
PY_LIBDIR = $(shell $(PY) -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR") or "")')
WITH_LIBPYTHON = LD_LIBRARY_PATH="$(PY_LIBDIR)$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}"

SERVE_DEPS_STAMP := $(VENV)/.serve-deps-installed
DEPS_STAMP := $(VENV)/.deps-installed
BUILD_STAMP := $(VENV)/.extension-built
RUST_INPUTS := Cargo.toml Cargo.lock queue_core/Cargo.toml $(wildcard queue_core/build.rs) \
	$(shell find queue_core/src -type f -name '*.rs' 2>/dev/null)

# Command name -> Debian package, for `system-deps`.
SYSTEM_DEPS := redis-server:redis-server nginx:nginx wrk:wrk chromium:chromium \
	chromedriver:chromium-driver faketime:faketime caddy:caddy \
	promtool:prometheus

ARGS ?=
PYTEST_ARGS ?=
CARGO_TEST_ARGS ?=
BENCH_ARGS ?=
SURGE_ARGS ?=
BENCH_HTTP_ARGS ?=
STUBTEST_ALLOWLIST := .ci/stubtest-allowlist.txt

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z][a-zA-Z_-]*:.*## ' $(MAKEFILE_LIST) \
		| awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

# ---------------------------------------------------------------------------- environment

$(PY):
	$(PYTHON) -m venv $(VENV)

# Two stamps, so that serving does not wait for the test and lint tools: the serve set is the
# build backend and the runtime dependencies; the full set adds every extra (tests, lint, the
# surge plots). Both are read from pyproject.toml; neither builds the project (build-dev does).
$(SERVE_DEPS_STAMP): pyproject.toml | $(PY)
	$(PIP) install --upgrade pip
	$(PY) -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
		print(*p["build-system"]["requires"], *p["project"]["dependencies"], sep="\n")' \
		> $(VENV)/requirements-serve.txt
	$(PIP) install -r $(VENV)/requirements-serve.txt
	touch $@

$(DEPS_STAMP): pyproject.toml $(SERVE_DEPS_STAMP)
	$(PY) -c 'import tomllib; d = tomllib.load(open("pyproject.toml", "rb"))["project"]; \
		print(*(r for extra in d["optional-dependencies"].values() for r in extra), sep="\n")' \
		> $(VENV)/requirements-extras.txt
	$(PIP) install -r $(VENV)/requirements-serve.txt -r $(VENV)/requirements-extras.txt
	touch $@

.PHONY: deps
deps: $(DEPS_STAMP) ## Create .venv and install every Python dependency (tests, lint too)

.PHONY: system-deps
system-deps: ## Install missing Debian packages (redis, nginx, wrk, chromium, faketime, caddy, promtool)
	@missing=""; \
	for pair in $(SYSTEM_DEPS); do \
		cmd=$${pair%%:*}; pkg=$${pair#*:}; \
		command -v "$$cmd" >/dev/null 2>&1 || [ -x "/usr/sbin/$$cmd" ] || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	else echo "system-deps: missing$$missing, and neither root nor sudo to install them" >&2; exit 1; fi; \
	echo "system-deps: installing$$missing"; \
	export DEBIAN_FRONTEND=noninteractive; \
	$$sudo apt-get update -qq; \
	$$sudo apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends $$missing

# The release build: the benchmarks and the load tests measure it, so the tests use it too.
# The stamp takes the time the build started, so a source saved during the build is seen next time.
$(BUILD_STAMP): $(SERVE_DEPS_STAMP) $(RUST_INPUTS) pyproject.toml
	started=$$(date +%s.%N); maturin develop --release; touch -d "@$$started" $@

.PHONY: build-dev
build-dev: $(BUILD_STAMP) ## Build the optimised extension into .venv (when Rust sources changed)

.PHONY: install
install: deps build-dev ## Create .venv with every dependency and the extension built in

.PHONY: build-release
build-release: $(SERVE_DEPS_STAMP) ## Build the release wheel into dist/
	maturin build --release --out dist

# ---------------------------------------------------------------------------- run

.PHONY: serve
serve: build-dev ## Run the server (installs only what serving needs): make serve ARGS="--config FILE"
	$(PY) server.py $(ARGS)

# ---------------------------------------------------------------------------- tests

.PHONY: cargo-test
cargo-test: $(DEPS_STAMP) ## Run the Rust unit tests
	$(WITH_LIBPYTHON) cargo test --workspace $(CARGO_TEST_ARGS)

.PHONY: pytest
pytest: deps build-dev ## Run the Python tests
	$(PY) -m pytest $(PYTEST_ARGS)

# The lint comes first: it takes under a minute and fails fast, before the long test runs.
.PHONY: test
test: system-deps deps lint cargo-test build-dev pytest ## Install what is missing, build, lint, run all tests

# First checks that the plain-Python reference follows the core's rules (else the ratios mean
# nothing), then times both side by side, then the Rust-only figures; bench/report.py sums up
# into bench/results/micro.md. Last, the surge replays of the field reports (`pyqueue bench
# surge`, from pyqueue/surge) on the memory and the Redis backend write bench/results/surge*.md
# and their plots.
.PHONY: bench
bench: deps build-dev ## Run the benchmarks: make bench BENCH_ARGS="-k status"
	mkdir -p bench/results
	$(PY) -m pytest bench/test_micro.py -p no:cacheprovider --benchmark-skip -q -rfE
	$(PY) -m pytest bench/test_micro.py -p no:cacheprovider --benchmark-only --timeout=900 \
		--benchmark-json=bench/results/micro.json $(BENCH_ARGS)
	$(WITH_LIBPYTHON) cargo bench -p queue_core --bench inventory --bench token \
		| tee bench/results/cargo.txt
	$(PY) -m bench.report
	$(PY) -m pytest bench/test_journal.py -p no:cacheprovider --benchmark-only -q
	$(PY) -m bench.http.run --json bench/results/http.json $(BENCH_HTTP_ARGS)
	$(PY) -m bench.redis_bench --json bench/results/redis.json
	$(PY) -m pyqueue bench surge --backend both --output bench/results $(SURGE_ARGS)

# ---------------------------------------------------------------------------- lint

.PHONY: lint-rust
lint-rust: $(DEPS_STAMP) ## Check Rust formatting and clippy
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: lint-python
lint-python: deps build-dev ## Check Python style and types, and the stubs against the binary
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy pyqueue
	$(PY) -m mypy.stubtest pyqueue._core \
		$(if $(wildcard $(STUBTEST_ALLOWLIST)),--allowlist $(STUBTEST_ALLOWLIST))

.PHONY: lint
lint: lint-rust lint-python ## All the checks

.PHONY: format
format: $(DEPS_STAMP) ## Format Rust and Python, apply safe lint fixes
	cargo fmt --all
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# ---------------------------------------------------------------------------- cleaning

.PHONY: clean
clean: ## Remove build outputs and caches (keeps .venv and cargo's target/)
	rm -f $(BUILD_STAMP) pyqueue/_core.*.so
	rm -rf dist .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks
	find . -name __pycache__ -type d -not -path './$(VENV)/*' -prune -exec rm -rf {} +

.PHONY: distclean
distclean: clean ## Also remove .venv and target/
	rm -rf $(VENV) target
