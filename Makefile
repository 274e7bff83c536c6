# The README's two commands are `make run` and `make test`; everything else supports them.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

.PHONY: run test install install-dev lint bench bench-engine bench-runs bench-api bench-whatif

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt

install-dev: $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-dev.txt

## Runs the product on http://127.0.0.1:8000 with the demo consortium and a Celery worker.
run: install
	VENV=$(VENV) scripts/run

## Runs the whole test suite (browser and service tests included when their services are up).
test: install-dev
	scripts/ensure-chromium
	$(VENV)/bin/ruff check .
	PY=$(PY) scripts/run-tests $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy simulations/engine

## Benchmarks print medians and ratios against peers measured in the same run.
bench: bench-engine bench-runs bench-api bench-whatif

bench-engine: install-dev
	$(PY) bench/engine

bench-runs: install-dev
	$(PY) bench/runs

bench-api: install-dev
	$(PY) bench/api

bench-whatif: install-dev
	$(PY) bench/whatif
