# The README's two commands: `make run` and `make test`. Each does its own set-up.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYTHONDONTWRITEBYTECODE := 1
export SAM_CLI_TELEMETRY := 0

VENV := .venv
PY := $(VENV)/bin/python
SAM_VENV := .tools/sam
SAM := $(SAM_VENV)/bin/sam
# python3.13 where it really runs (a pyenv shim may exist without the version), else python3 >= 3.11.
PYTHON := $(shell for p in python3.13 python3; do $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
PYTEST_WORKERS ?= 2
SEGMENT_SDK := tests/e2e/segment_sdk
NODE_VENV := .tools/node

.PHONY: help run test browser bench fuzz oracle lint tests-in-process unit rules contract integration template e2e sam-validate sam-build invoke admin validate deploy clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

# The venv's python imports the shared layer's `audiences` package from anywhere (a .pth
# file), as Lambda does from /opt/python: the operator CLI needs no PYTHONPATH.
$(VENV)/.installed: requirements-dev.txt layers/common/requirements.txt layers/engine/requirements.txt constraints.txt Makefile
	@test -n "$(PYTHON)" || { echo "need python3.13, or python3 >= 3.11, on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "passthrough-audiences.pth").write_text(str(pathlib.Path("layers/common").resolve()) + "\n")'
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	@test -n "$(PYTHON)" || { echo "need python3.13, or python3 >= 3.11, on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-sam.txt
	touch $@

$(NODE_VENV)/.installed: requirements-node.txt
	@test -n "$(PYTHON)" || { echo "need python3.13, or python3 >= 3.11, on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(NODE_VENV)
	$(NODE_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-node.txt
	touch $@

# Segment's TypeScript SDK, pinned by its package-lock.json, for the e2e test that drives it unmodified.
$(SEGMENT_SDK)/node_modules/.installed: $(NODE_VENV)/.installed $(SEGMENT_SDK)/package.json $(SEGMENT_SDK)/package-lock.json
	cd $(SEGMENT_SDK) && PATH="$(abspath $(NODE_VENV))/bin:$$PATH" npm ci --silent --no-audit --no-fund
	touch $@

run: $(VENV)/.installed ## start the whole stack locally (API on 127.0.0.1:3000, moto on :4566)
	$(PY) -m local

# The three tool sets install at once (mostly downloads and unpacking), then the checks run one by one.
test: ## every check CI runs
	$(MAKE) --no-print-directory -j3 $(VENV)/.installed $(SAM_VENV)/.installed $(SEGMENT_SDK)/node_modules/.installed
	$(MAKE) --no-print-directory lint tests-in-process e2e sam-validate sam-build

lint: $(VENV)/.installed ## ruff, and the layer contract (import-linter: which package may import which)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

tests-in-process: $(VENV)/.installed
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/unit tests/rules tests/contract tests/integration tests/template

unit: $(VENV)/.installed ## pure tests, no AWS
	$(PY) -m pytest tests/unit

rules: $(VENV)/.installed ## the rules above the stores, through the handlers, on the in-memory stores
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/rules

contract: $(VENV)/.installed ## each store and its in-memory fake pass the same tests
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/contract

integration: $(VENV)/.installed ## what only AWS behaviour shows, on moto, tables from template.yaml
	$(PY) -m pytest -n $(PYTEST_WORKERS) tests/integration

template: $(VENV)/.installed ## cfn-lint on the translated template, handlers, routes, tables vs models
	$(PY) -m pytest tests/template

# --dist loadscope: a module's tests run on one worker, so a module's fixture (a tenant of 450 audiences) is built once.
e2e: $(VENV)/.installed $(SEGMENT_SDK)/node_modules/.installed ## the local stack over HTTP, with real clients
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadscope tests/e2e

$(VENV)/.browser-installed: $(VENV)/.installed requirements-browser.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-browser.txt
	touch $@

# Playwright drives Debian's Chromium and downloads no browser; .ci/run installs chromium with apt.
browser: $(VENV)/.browser-installed ## the console and Swagger UI in headless Chromium; writes docs/screenshots/
	@command -v chromium >/dev/null || { echo "need Debian's chromium: apt-get install chromium (.ci/run does it)" >&2; exit 1; }
	$(PY) -m pytest tests/browser

sam-validate: $(SAM_VENV)/.installed ## sam validate --lint
	$(SAM) validate --lint

# Lambda runs the build as shipped, from read-only /var/task and /opt: without bytecode, every cold start
# compiles each module it imports. So every module is compiled once here, by the runtime's Python, with
# unchecked hashes (the files never change there). `make bench` measures cold starts both ways.
SHIP_BYTECODE = python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash .aws-sam/build >/dev/null

sam-build: $(SAM_VENV)/.installed ## sam build with bytecode (needs python3.13, as the runtime does)
	@if python3.13 -c '' 2>/dev/null; then $(SAM) build && $(SHIP_BYTECODE) && \
		test -n "$$(find .aws-sam/build/CommonLayer/python/audiences -name '*.cpython-313.pyc' -print -quit)"; \
	else echo "WARNING: python3.13 is not on PATH: skipping sam build (the python3.13 runtime needs it)" >&2; fi

fuzz: $(VENV)/.installed ## the hostile-JSON fuzz suite with many random examples (FUZZ_EXAMPLES, default 2000)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-2000} $(PY) -m pytest -n $(PYTEST_WORKERS) tests/rules/test_fuzz.py

oracle: $(VENV)/.installed ## the erasure oracle with many random histories (ORACLE_EXAMPLES, default 500; ORACLE_INVARIANTS=a,b,c,d)
	ORACLE_EXAMPLES=$${ORACLE_EXAMPLES:-500} $(PY) -m pytest -n 0 tests/rules/test_privacy_oracle.py

$(VENV)/.bench-installed: $(VENV)/.installed requirements-bench.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench: $(VENV)/.bench-installed ## benchmarks: ratios against same-run baselines, AWS request counts -> bench/results.json
	PYTHONPATH=layers/common:. $(PY) -m bench

invoke: $(VENV)/.installed ## run one handler in-process: make invoke FUNCTION=IngestFunction EVENT=events/ingest-qualify.json
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json" >&2; exit 2; }
	$(PY) -m local.invoke $(FUNCTION) $(EVENT)

admin: $(VENV)/.installed ## operator CLI: make admin ARGS="--local tenants list" (see --help)
	@$(PY) -m audiences.admin $(ARGS)

validate: sam-validate template ## lint the template every way we can

deploy: $(SAM_VENV)/.installed ## sam build with bytecode, then a guided deploy to your AWS account
	@python3.13 -c '' 2>/dev/null || { echo "make deploy needs python3.13 on PATH, as the runtime's build does" >&2; exit 1; }
	$(SAM) build && $(SHIP_BYTECODE)
	$(SAM) deploy --guided

clean: ## remove venvs, build output and local state
	rm -rf $(VENV) .tools .aws-sam .local .pytest_cache .ruff_cache .hypothesis $(SEGMENT_SDK)/node_modules
