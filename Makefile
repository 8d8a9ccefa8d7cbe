# clets-watch: `make demo` and `make test` set everything up on a fresh machine first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system venv demo test test-unit test-integration bench clean stack-down

setup: venv system

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Debian packages (Prometheus, Alertmanager, PostgreSQL) and the Kafka jars from Maven Central.
system:
	bash scripts/setup-system.sh

demo: setup
	$(VENV)/bin/clets-watch demo

# Every test, against the real Kafka, PostgreSQL, Prometheus and Alertmanager the test session starts.
test: setup
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
