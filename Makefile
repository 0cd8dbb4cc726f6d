# videohook: `make demo` and `make test` set themselves up from a fresh clone (no AWS, no Docker needed).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# sam build needs python3.13 on PATH; pyenv exposes it next to 3.11 this way (ignored without pyenv).
export PYENV_VERSION ?= 3.11.7:3.13.0
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_CONTAINER_CONNECTION_TIMEOUT := 1

.PHONY: help setup demo local test unit integration lint fmt validate build bench clean

help:
	@echo "make demo      run videohook locally: moto + simulated provider + the functions, live"
	@echo "make test      lint, then every test (unit, integration, template validate/build)"
	@echo "make lint      ruff, mypy, sam validate --lint"
	@echo "make build     sam build (python3.13 needed on PATH)"
	@echo "make local     the local stack for the CLI (= .venv/bin/videohook local up)"
	@echo "make bench     every benchmark (~15 min): tables, bench/results/*.json; see docs/performance.md"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .  # the `videohook` command: .venv/bin/videohook
	touch $@

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed

demo: $(VENV)/.installed
	$(PY) -m devtools.demo

local: $(VENV)/.installed
	PYTHONPATH=layers/common $(PY) -m videohook.cli local up

test: setup lint
	$(PY) -m pytest

unit: $(VENV)/.installed
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed
	$(PY) -m pytest tests/integration

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy layers/common/videohook devtools bench functions/poller/app.py
	$(VENV)/bin/mypy functions/api/app.py
	$(VENV)/bin/mypy functions/poller_worker/app.py
	$(VENV)/bin/mypy functions/archive/app.py
	$(VENV)/bin/mypy functions/webhook/app.py
	$(SAM) validate --lint

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

build: $(SAM_VENV)/.installed
	$(SAM) build

# Benchmarks (not part of `make test`; a seconds-long smoke run of them is: tests/bench).
bench: $(VENV)/.installed
	$(PY) -m bench

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
