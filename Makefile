# Rollcall: `make demo` and `make test` work on a fresh machine with nothing else done first.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: install demo test test-fast lint bench bench-quick postgis chromium screenshots bench-web clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --compile-bytecode
	@touch $@

install: $(VENV)/.synced  ## create .venv from the lock file (runtime and test dependencies)

demo: install  ## build a synthetic force in ./rollcall-demo.db, run everything on it, print what users see
	$(BIN)/rollcall demo

postgis:  ## make sure a PostgreSQL server with PostGIS is reachable (installs and starts it if needed)
	bash .ci/ensure-postgis.sh

chromium:  ## make sure Debian's Chromium is installed for the browser tests (installs it if needed)
	bash .ci/ensure-chromium.sh

rollcall-demo.db: | install
	$(BIN)/rollcall demo

screenshots: install chromium rollcall-demo.db  ## a PNG of every web app screen from the demo database, in screenshots/
	$(BIN)/python bench/screenshots.py --database sqlite:///rollcall-demo.db --out screenshots

bench-web: install chromium rollcall-demo.db  ## web app server time per page and the officer-month map in Chromium
	BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python bench/web_pages.py --database sqlite:///rollcall-demo.db

test: install postgis chromium  ## the whole suite on SQLite and PostgreSQL/PostGIS, with a coverage gate (90%)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --cov --cov-report=term:skip-covered

test-fast: install  ## the suite without the slow tests
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not slow"

lint: install  ## ruff and mypy --strict
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

BENCHES := import_pings geofence accuracy nightly ingest roster_integrity reporting
BENCH_RESULTS ?= bench/results

bench: install postgis  ## every benchmark at full (Met) scale; one JSON file per run in bench/results/
	for b in $(BENCHES); do \
		echo "== bench/$$b.py"; BENCH_RESULTS=$(BENCH_RESULTS) $(BIN)/python -m bench.$$b || exit 1; done

# make bench-quick QUICK_RESULTS=bench/results  records each run and the summary there
QUICK_RESULTS ?=

bench-quick: install postgis  ## every benchmark at reduced size, same ratios, then a summary (under 5 minutes)
	BENCH_RESULTS=$(QUICK_RESULTS) $(BIN)/python -m bench.quick $(BENCHES)

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache rollcall-demo.db screenshots
