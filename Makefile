# Everything bootstraps itself: venv + pinned pip requirements, the CDK CLI from npm,
# and PostgreSQL from apt when missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CDK := node_modules/.bin/cdk

# jsii compares this to the running Node major version.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := $(shell node -p "process.versions.node.split('.')[0]" 2>/dev/null)
export CDK_DISABLE_CLI_TELEMETRY := true
export AWS_EC2_METADATA_DISABLED := true
export AWS_DEFAULT_REGION ?= us-east-1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: demo test test-matrix test-fast lint format synth diagram bench postgres venv cdk clean mutate

demo: venv postgres ## the main job: the whole workflow on a local PostgreSQL + emulated RDS
	$(PY) -m local.demo

# The version matrix: PostgreSQL majors from npm, installed into a cache folder on first use.
MATRIX_OLDEST_NEWEST := 10 17
MATRIX_ALL := 10 11 12 13 14 15 16 17

# `test` runs the oldest and newest majors (one at a time) beside the full suite on the default
# server: two pytest processes for the two cores. Their report follows the main one.
test: venv cdk postgres ## every test on the default server (+ ruff) and integration + core workflow on PG 10 and 17
	$(VENV)/bin/ruff check --quiet .
	@log=$$(mktemp); \
	JOBS=1 PY=$(PY) scripts/test-majors.sh "$(MATRIX_OLDEST_NEWEST)" tests/integration tests/workflow/test_workflow.py \
		>$$log 2>&1 & majors=$$!; \
	$(PY) -m pytest; main=$$?; \
	wait $$majors; matrix=$$?; cat $$log; rm -f $$log; \
	[ $$main -eq 0 ] && [ $$matrix -eq 0 ]

test-matrix: venv postgres ## the integration and workflow suites on every PostgreSQL major from 10 to 17
	PY=$(PY) scripts/test-majors.sh "$(MATRIX_ALL)" tests/integration tests/workflow

test-fast: venv postgres ## everything but the CDK synth tests
	$(PY) -m pytest -m "not infra"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv cdk postgres ## benchmarks (bench/): each prints its figures side by side; results in docs/BENCHMARKS.md
	$(PY) -m bench.db_setup
	$(PY) -m bench.wal_backlog
	$(PY) -m bench.workflow_overhead
	$(PY) -m bench.live_load
	$(PY) -m bench.cold_start
	$(PY) -m bench.synth

synth: venv cdk ## synthesize the CloudFormation template (bundles the Lambda code with pip)
	$(CDK) synth -q

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt lambdas/requirements.txt
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

cdk: $(CDK)
$(CDK): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

postgres:
	@scripts/ensure-postgres.sh

diagram: venv ## docs/*.dot + docs/*.svg from statemachine/*.asl.json (Graphviz from apt when missing)
	@scripts/ensure-graphviz.sh
	$(PY) scripts/diagram.py

.PHONY: cli
cli: venv ## the CLI (requirements-cli.txt, part of the dev requirements): python -m cli --help
	$(PY) -m cli --help

$(VENV)/.installed: requirements-cli.txt

clean:
	rm -rf $(VENV) node_modules cdk.out .pytest_cache .cache

mutate: venv ## mutation testing (mutmut 3) of the rules that guard production; survivors name untested rules
	$(VENV)/bin/pip install -q --disable-pip-version-check mutmut==3.8.1
	rm -rf mutants
	$(VENV)/bin/mutmut run >/dev/null; $(VENV)/bin/mutmut results
