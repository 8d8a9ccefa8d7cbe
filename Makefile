# clets-watch: `make demo` and `make test` set everything up on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system venv lock lint demo test test-unit test-integration bench clean stack-down

setup: venv system

venv: $(STAMP)

# Exact versions with hashes from requirements.lock (runtime + test + bench + dev tools), then the project
# itself without dependencies: a fresh machine gets the versions the tests passed with.
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Re-resolve the lock files after a change to pyproject.toml's dependencies (uv, itself locked).
lock: venv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --extra bench --extra dev --generate-hashes \
		--python-version 3.11 --universal --quiet --upgrade -o requirements.lock
	$(VENV)/bin/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 --universal --quiet \
		-c requirements.lock -o requirements-runtime.lock

# Debian packages (Prometheus, Alertmanager, PostgreSQL) and the Kafka jars from Maven Central.
system:
	bash scripts/setup-system.sh

demo: setup
	$(VENV)/bin/clets-watch demo

# The quality gates: lint, format and strict typing of the source and the tests (versions from the lock);
# `make test` runs them before pytest, so a lint, format or type error fails it.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# The quality gates first, then every test, against the real Kafka, PostgreSQL, Prometheus and Alertmanager
# the test session starts. pytest's "no tests ran" (exit 5) fails like any other failure.
test: setup lint
	$(VENV)/bin/pytest

test-unit: venv
	$(VENV)/bin/pytest -m 'not integration'

test-integration: setup
	$(VENV)/bin/pytest -m integration

# Throughput, latency and replay memory vs raw consumers and Quix Streams (docs/benchmarks.md).
bench: setup
	$(VENV)/bin/clets-watch bench

stack-down: venv
	$(VENV)/bin/clets-watch stack down

clean: stack-down
	rm -rf .clets-watch build *.egg-info
