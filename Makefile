# Stockroom developer tasks. Each target sets up what it needs, so a fresh clone works with
# `make run` or `make test` alone, and a second run skips what is already done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: the install reruns only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?=
BENCH_ARGS ?=
BENCH_OVERVIEW_ARGS ?=
BENCH_SCALE_ARGS ?=

export FLASK_APP := app
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help setup db run test test-ci lint bench clean

help:
	@echo "make run      set up, migrate, seed demo data into an empty database, serve on http://$(HOST):$(PORT)"
	@echo "make test     set up and run the tests (PostgreSQL tests skip when no server answers)"
	@echo "make test-ci  the tests as CI runs them: PostgreSQL and Chromium required, the 'ci' Hypothesis profile"
	@echo "make lint     ruff"
	@echo "make bench    the service-layer, overview and scale benchmarks (BENCH_ARGS, BENCH_OVERVIEW_ARGS, BENCH_SCALE_ARGS)"
	@echo "make clean    remove the virtualenv and caches (instance/ and its database stay)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	@echo "Installing Stockroom and its dev dependencies into $(VENV) ..."
	$(BIN)/python -m pip install -qq -e ".[dev]"
	@touch $@

setup: $(INSTALLED)

db: setup
	$(BIN)/flask db upgrade

run: db
	$(BIN)/flask seed-demo --if-empty
	$(BIN)/flask --debug run --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

test-ci: setup
	STOCKROOM_REQUIRE_POSTGRES=1 STOCKROOM_REQUIRE_BROWSER=1 HYPOTHESIS_PROFILE=ci \
		$(BIN)/pytest --durations=25 $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check app tests

bench: setup
	$(BIN)/python bench/bench_services.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_overview.py $(BENCH_OVERVIEW_ARGS)
	$(BIN)/python bench/bench_scale.py $(BENCH_SCALE_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
