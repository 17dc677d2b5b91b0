# Accord — `make help` lists the targets.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8400

.DEFAULT_GOAL := help
.PHONY: help run test lint bench screenshots clean

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

test: $(VENV)/.dev $(VENV)/.bytecode node_modules/.installed /usr/bin/chromium ## install the dev tools and run the whole test suite
	$(BIN)/pytest -n 2 -q

lint: $(VENV)/.dev ## ruff, mypy and the layering contract
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.bench $(VENV)/.bytecode ## run the benchmarks and print their tables
	$(BIN)/python bench/run_all.py

screenshots: $(VENV)/.dev node_modules/.installed /usr/bin/chromium ## take the console's screenshots into docs/screenshots/
	ACCORD_SCREENSHOTS=docs/screenshots $(BIN)/pytest tests/browser/test_screenshots.py -q -p no:xdist

clean: ## remove the virtual environment and local data
	rm -rf $(VENV) var node_modules
