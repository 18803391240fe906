# Portico: `make run` starts everything on this machine; `make test` passes the tests.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
export PORTICO_VENV := $(abspath $(VENV))

.PHONY: install install-test system-packages system-packages-test system-packages-bench up down run logs status test test-unit test-integration bench clean

# Everything `make up` needs: Debian packages (installed when root; otherwise the command to run is
# printed), the Kafka jars and the virtualenv. `make test` also gets Chromium, the NSS tools and helm.
install: system-packages $(VENV)/.installed
install-test: system-packages-test $(VENV)/.installed

system-packages:
	@bash deploy/local/install.sh

system-packages-test:
	@bash deploy/local/install.sh --tests

system-packages-bench:
	@bash deploy/local/install.sh --bench

# The server before the CLI: reinstalling the server removes the `portico` script its older versions had.
$(VENV)/.installed: requirements.lock requirements-test.lock pyproject.toml clients/events/pyproject.toml clients/python/pyproject.toml cli/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock -r requirements-test.lock
	$(PY) -m pip install -q --no-deps -e .
	$(PY) -m pip install -q --no-deps -e clients/events -e clients/python -e cli
	touch $@

# `make up REPLICAS=2` runs two instances of every service behind the proxy; `make up METRICS=1` also a local
# Prometheus scraping them with the alert rules loaded (deploy/local/prometheus.sh, docs/operating.md).
REPLICAS ?= 1
METRICS ?= 0
export PORTICO_METRICS := $(METRICS)
up: install
	@PORTICO_REPLICAS=$(REPLICAS) bash deploy/local/up.sh

down:
	@bash deploy/local/down.sh

run: up
	@trap 'bash deploy/local/down.sh' EXIT; trap 'exit 0' INT TERM; tail -n 0 -F .run/logs/link-issuer.log .run/logs/portal-session.log .run/logs/connection-config.log .run/logs/audit.log .run/logs/console.log

logs:
	@tail -n 50 -F .run/logs/*.log

status:
	@for s in kafka postgres redis services nginx; do bash deploy/local/$$s.sh status; done || true

# The linter and the type checker first (ruff, and mypy on shared/ and the four services; both configured in
# pyproject.toml): a finding fails the run before any server starts.
test: install-test
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q

test-unit: install-test
	$(PY) -m pytest -q tests/unit

test-integration: install-test
	$(PY) -m pytest -q tests/integration

# Lint and render the Helm chart (deploy/helm/portico) with its defaults and production-like values;
# builds helm v3.22.0 into ~/.cache/portico/bin first if it is missing.
.PHONY: helm-check
helm-check:
	@bash deploy/helm/tools.sh check

# Every benchmark with its baselines, then one summary table (figure, baseline, ratio, target); JSON under
# bench/results/ (git-ignored). About five minutes with the sign-in bench against Keycloak (bench/sso.py); `$(PY) -m bench --quick` is a smoke run.
bench: system-packages-bench up
	$(PY) -m bench

clean: down
	@bash deploy/local/clean.sh

# Faults against the running stack while a driver process runs real operations; prints the table
# (docs/reliability.md). `make test` runs the short form (tests/integration/test_chaos.py).
.PHONY: chaos
chaos: up
	$(PY) -m bench.chaos
