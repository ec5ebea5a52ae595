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

.PHONY: demo test test-fast lint format synth diagram bench postgres venv cdk clean

demo: venv postgres ## the main job: the whole workflow on a local PostgreSQL + emulated RDS
	$(PY) -m local.demo

test: venv cdk postgres ## every test: unit, integration, workflow, infrastructure (+ ruff)
	$(VENV)/bin/ruff check --quiet .
	$(PY) -m pytest

test-fast: venv postgres ## everything but the CDK synth tests
	$(PY) -m pytest -m "not infra"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

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
	rm -rf $(VENV) node_modules cdk.out .pytest_cache
