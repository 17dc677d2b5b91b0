# Accord — `make help` lists the targets.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8400

.DEFAULT_GOAL := help
.PHONY: help run test lint bench fuzz nightly screenshots debs clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e .
	@touch $@

# Bytecode for Accord's own modules, written once here: an editable install leaves it to the first import, which
# never writes it where PYTHONDONTWRITEBYTECODE is set (as in most container images), so every `accord` process
# (CLI commands, the server, its helpers) compiled ~60 modules again (~0.06-0.1 s). Stale files are recompiled.
SOURCES := $(shell find src -name '*.py')
$(VENV)/.bytecode: $(VENV)/.runtime $(SOURCES)
	$(BIN)/python -m compileall -q src/accord
	@touch $@

$(VENV)/.dev: $(VENV)/.runtime
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

$(VENV)/.bench: $(VENV)/.dev
	$(BIN)/pip install -q -e '.[dev,bench]'
	@touch $@

# The web console's front-end packages (package-lock.json), served by the node itself: nothing from a CDN.
node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm is needed for the web console (apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

# The browser tests drive Debian's Chromium (Playwright's own browser download is not used).
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	else echo "no /usr/bin/chromium: the browser tests are skipped (sudo apt-get install chromium)"; fi

run: $(VENV)/.runtime $(VENV)/.bytecode node_modules/.installed ## set up, load the demo and serve on http://127.0.0.1:8400
	$(BIN)/accord init
	$(BIN)/accord demo
	$(BIN)/accord serve --host $(HOST) --port $(PORT)

# Debian tools the tests run: named-checkzone (bind9-utils) checks the RPZ export. Installed when missing.
debs:
	@command -v named-checkzone >/dev/null 2>&1 || { apt-get install -y -q bind9-utils >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q bind9-utils >/dev/null; } || \
		echo "named-checkzone is missing (apt-get install bind9-utils): the RPZ test will be skipped"; }

test: $(VENV)/.dev $(VENV)/.bytecode debs node_modules/.installed /usr/bin/chromium ## install the dev tools and run the whole test suite
	$(BIN)/pytest -n 2 -q

lint: $(VENV)/.dev ## ruff, mypy and the layering contract
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.bench $(VENV)/.bytecode ## run the benchmarks and print their tables
	$(BIN)/python bench/run_all.py

fuzz: $(VENV)/.dev $(VENV)/.bytecode ## schemathesis over the OpenAPI document, 10,000+ cases (FUZZ_CASES=N)
	$(BIN)/python bench/bench_fuzz_api.py $(or $(FUZZ_CASES),10000)

nightly: $(VENV)/.bench $(VENV)/.bytecode ## long runs: 200 SIGKILLs per crash case, the 60 s load (PostgreSQL too if set)
	ACCORD_CRASH_ITERATIONS=$${ACCORD_CRASH_ITERATIONS:-200} $(BIN)/pytest -q tests/e2e/test_crash_safety.py
	$(BIN)/python bench/bench_load.py

screenshots: $(VENV)/.dev node_modules/.installed /usr/bin/chromium ## take the console's screenshots into docs/screenshots/
	ACCORD_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser/test_screenshots.py -q -p no:xdist

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) var node_modules
