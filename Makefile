# videohook: `make demo` and `make test` set themselves up from a fresh clone (no AWS, no Docker needed).
# `make setup` installs only .venv (the `videohook` command, the local stack, the tests: about a minute; and the Lambda
# Runtime Interface Emulator the local invokes run on, from the SAM CLI's wheel, without the SAM CLI); the SAM CLI
# (.venv-sam, ~2.5 min) and the template scanner (.venv-checkov) come with the targets that use them: build, lint,
# scan, test.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := $(SAM_VENV)/bin/sam
SAM_CLI_VERSION := 1.170.0
# The template scanner (`make scan`, part of `make lint`), in a virtualenv of its own: its pins clash with the
# dev ones. Skipped checks, each with its reason: .checkov.yaml.
CHECKOV_VENV := .venv-checkov
CHECKOV := $(CHECKOV_VENV)/bin/checkov
CHECKOV_VERSION := 3.3.30
SCAN_DIR := .aws-sam/scan
# The Lambda Runtime Interface Emulator that devtools.local_invoke runs the functions on (make demo, videohook local
# up, the tests): the binary the SAM CLI package ships, unpacked from that one wheel (seconds, no dependencies; the
# SAM CLI itself is not installed). VIDEOHOOK_LAMBDA_RIE tells devtools.lambda_emulator where it is.
RIE := $(VENV)/bin/aws-lambda-rie
RIE_STAMP := $(VENV)/.rie-$(SAM_CLI_VERSION)
export VIDEOHOOK_LAMBDA_RIE ?= $(abspath $(RIE))
# sam build needs python3.13 on PATH; pyenv exposes it next to 3.11 this way (ignored without pyenv).
export PYENV_VERSION ?= 3.11.7:3.13.0
export SAM_CLI_TELEMETRY := 0
export SAM_CLI_CONTAINER_CONNECTION_TIMEOUT := 1

.PHONY: help setup demo local test unit integration lint mypy scan fmt validate build bench clean

help:
	@echo "make setup     .venv with the videohook command (.venv/bin/videohook) and the test tools; no SAM CLI"
	@echo "make demo      run videohook locally: moto + simulated provider + the functions, live"
	@echo "make test      lint, then every test (unit, integration, template validate/build)"
	@echo "make lint      ruff, mypy, sam validate --lint, the template scan"
	@echo "make scan      checkov over template.yaml and its SAM translation (skipped checks: .checkov.yaml)"
	@echo "make build     sam build (python3.13 needed on PATH)"
	@echo "make local     the local stack for the CLI (= .venv/bin/videohook local up)"
	@echo "make bench     every benchmark (~15 min): tables, bench/results/*.json; see docs/performance.md"

$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt pyproject.toml
	@echo "setting up $(VENV): the Python packages of videohook, its local stack and its tests (once; about a minute)"
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .  # the `videohook` command (cli/videohook_cli): .venv/bin/videohook
	touch $@

# Once per SAM CLI version (the stamp), whatever else of .venv is reinstalled.
$(RIE_STAMP): | $(VENV)/.installed
	@echo "unpacking the Lambda Runtime Interface Emulator from the aws-sam-cli $(SAM_CLI_VERSION) wheel into $(RIE)"
	rm -rf $(VENV)/sam-wheel
	$(PY) -m pip download --quiet --no-deps --dest $(VENV)/sam-wheel aws-sam-cli==$(SAM_CLI_VERSION)
	$(PY) -c 'import glob, os, platform, sys, zipfile; \
	arch = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]; \
	wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]); \
	open(sys.argv[2] + ".partial", "wb").write(wheel.read("samcli/local/rapid/aws-lambda-rie-" + arch)); \
	os.chmod(sys.argv[2] + ".partial", 0o755); os.replace(sys.argv[2] + ".partial", sys.argv[2])' $(VENV)/sam-wheel $(RIE)
	rm -rf $(VENV)/sam-wheel
	touch $@

$(SAM_VENV)/.installed:
	@echo "setting up $(SAM_VENV): the SAM CLI $(SAM_CLI_VERSION), for build, lint and test (once; about 2.5 minutes)"
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet aws-sam-cli==$(SAM_CLI_VERSION)
	touch $@

# Its own .gitignore: git ignores the whole virtualenv without a line in the repository's.
$(CHECKOV_VENV)/.installed:
	@echo "setting up $(CHECKOV_VENV): the template scanner checkov $(CHECKOV_VERSION), for scan and lint (once)"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	echo '*' > $(CHECKOV_VENV)/.gitignore
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION)
	touch $@

# What `videohook` and the tests need; nothing of the SAM CLI (the targets that use it install it).
setup: $(VENV)/.installed $(RIE_STAMP)
	@echo "run: .venv/bin/videohook --help (or: source .venv/bin/activate, then videohook --help)"

demo: $(VENV)/.installed $(RIE_STAMP)
	$(PY) -m devtools.demo

local: $(VENV)/.installed $(RIE_STAMP)
	PYTHONPATH=layers/common:cli $(PY) -m videohook_cli local up

test: $(VENV)/.installed $(RIE_STAMP) $(SAM_VENV)/.installed lint
	$(PY) -m pytest -n 2 --dist loadfile

unit: $(VENV)/.installed $(RIE_STAMP)
	$(PY) -m pytest tests/unit

integration: $(VENV)/.installed $(RIE_STAMP)
	$(PY) -m pytest tests/integration

lint: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(MAKE) --no-print-directory mypy
	$(SAM) validate --lint
	$(MAKE) --no-print-directory scan

# Each handler apart: every functions/*/app.py is a module named `app`.
mypy: $(VENV)/.installed
	$(VENV)/bin/mypy layers/common/videohook cli/videohook_cli devtools bench functions/poller/app.py
	$(VENV)/bin/mypy functions/api/app.py
	$(VENV)/bin/mypy functions/poller_worker/app.py
	$(VENV)/bin/mypy functions/archive/app.py
	$(VENV)/bin/mypy functions/webhook/app.py

# checkov over the template as written (SAM resources, the default parameters) and as CloudFormation deploys it
# with ArchiveVideos=true (the SAM translation: generated IAM roles, the archive resources, which the scanner
# leaves out when a condition is false under the defaults). Fails on any finding not skipped in .checkov.yaml.
scan: $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed
	@mkdir -p $(SCAN_DIR)
	$(SAM_VENV)/bin/python tests/template/sam_translate.py template.yaml ArchiveVideos=true > $(SCAN_DIR)/translated-archive-on.json
	$(CHECKOV) --config-file .checkov.yaml -f template.yaml
	$(CHECKOV) --config-file .checkov.yaml -f $(SCAN_DIR)/translated-archive-on.json

fmt: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

build: $(SAM_VENV)/.installed
	$(SAM) build

# Benchmarks (not part of `make test`; a seconds-long smoke run of them is: tests/bench).
bench: $(VENV)/.installed $(RIE_STAMP)
	$(PY) -m bench

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache .hypothesis
