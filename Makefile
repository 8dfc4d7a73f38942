# Stockroom developer tasks. Each target sets up what it needs, so a fresh clone works with
# `make run` or `make test` alone, and a second run skips what is already done.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched after a successful install: the install reruns only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed
# Where `make run` and `make dev` serve: HOST=0.0.0.0 PORT=8080 make run
HOST ?= 127.0.0.1
PORT ?= 5000
# Where `make run` and `make dev` start the development webhook receiver.
HOOK_PORT ?= 5001
PYTEST_ARGS ?=
BENCH_ARGS ?=
BENCH_OVERVIEW_ARGS ?=
BENCH_SCALE_ARGS ?=

export FLASK_APP := app
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.DEFAULT_GOAL := help
.PHONY: help setup db run dev test test-ci lint bench clean

# Flask's debugger runs any Python code sent to it from the error page: `make dev` serves on
# a loopback address only, and says so before doing anything else.
ifneq ($(filter dev,$(MAKECMDGOALS)),)
ifeq ($(shell printf '%s' '$(HOST)' | grep -Ex '127(\.[0-9]{1,3}){3}|localhost|::1'),)
$(error make dev refuses HOST=$(HOST): it serves Flask's interactive debugger, which runs any code sent to it, so it listens on loopback only (127.0.0.1, localhost or ::1). To serve other machines use `HOST=$(HOST) make run`, which has no debugger)
endif
endif

help:
	@echo "make run      set up, migrate, seed demo data into an empty database, serve on http://$(HOST):$(PORT)"
	@echo "              with a task worker (flask worker) and a webhook receiver on HOOK_PORT=$(HOOK_PORT) beside it"
	@echo "              (HOST=... PORT=... make run to change where; no debugger)"
	@echo "make dev      the same with Flask's debugger and reloader, on a loopback HOST only"
	@echo "make test     set up and run the tests (PostgreSQL tests skip when no server answers)"
	@echo "make test-ci  the tests as CI runs them: PostgreSQL and Chromium required, the 'ci' Hypothesis profile"
	@echo "make lint     ruff, and the import contracts (lint-imports)"
	@echo "make bench    the service-layer, overview, scale and bytes-over-the-wire benchmarks (BENCH_ARGS, BENCH_OVERVIEW_ARGS, BENCH_SCALE_ARGS)"
	@echo "make clean    remove the virtualenv, caches and hashed static files (instance/ and its database stay)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	@echo "==> Installing Stockroom and its dev dependencies into $(VENV) (a minute or two the first time)"
	$(BIN)/python -m pip install --progress-bar on -e ".[dev]"
	@touch $@
	@echo "==> Installed"

# The content-hashed copies of static/ and their manifest (app/web/static.py), rebuilt when a
# static file changes: `make run` links and serves the hashed names. A deploy runs the same
# `flask digest compile` after installing.
MANIFEST := static/cache_manifest.json
STATIC_SOURCES := $(shell find static -type f ! -name cache_manifest.json \
	! -name '*-????????????????????????????????.*' 2>/dev/null)

$(MANIFEST): $(STATIC_SOURCES) | $(INSTALLED)
	@echo "==> Content-hashed static files"
	$(BIN)/flask digest clean >/dev/null
	$(BIN)/flask digest compile

setup: $(INSTALLED) $(MANIFEST)

db: setup
	@echo "==> Migrating the database"
	$(BIN)/flask db upgrade

# Both serve plain HTTP: session cookies go without the Secure flag, or no browser reached
# over HOST=0.0.0.0 could sign in. (Production, under gunicorn, keeps them Secure.) Webhooks
# may go to a receiver on this machine over plain http, as a developer's does.
# Links in alert mails point where this serves, unless STOCKROOM_URL says otherwise.
STOCKROOM_URL ?= http://$(HOST):$(PORT)
SERVE_ENV := FLASK_SESSION_COOKIE_SECURE=false WEBHOOKS_ALLOW_HTTP_LOOPBACK=true \
	STOCKROOM_URL=$(STOCKROOM_URL)

# A task worker (`flask worker`: reservations expire, tallies fold, alerts and webhooks go
# out) and a development webhook receiver (`flask webhooks receive`, which prints each
# delivery and checks its signature) run beside the web app and stop with it.
run: db
	@echo "==> Demo data (only into an empty database)"
	$(BIN)/flask seed-demo --if-empty
	@echo "==> Serving on http://$(HOST):$(PORT) without the debugger, with a task worker and a webhook receiver; Ctrl-C stops all three"
	$(SERVE_ENV) $(BIN)/flask worker & worker=$$!; \
	$(SERVE_ENV) $(BIN)/flask webhooks receive --register --port $(HOOK_PORT) & receiver=$$!; \
	trap 'kill $$worker $$receiver 2>/dev/null' EXIT INT TERM; \
	$(SERVE_ENV) $(BIN)/flask --no-debug run --no-debugger --no-reload --host $(HOST) --port $(PORT)

dev: db
	@echo "==> Demo data (only into an empty database)"
	$(BIN)/flask seed-demo --if-empty
	@echo "==> Serving on http://$(HOST):$(PORT) with the debugger and reloader, with a task worker and a webhook receiver; Ctrl-C stops all three"
	$(SERVE_ENV) $(BIN)/flask worker & worker=$$!; \
	$(SERVE_ENV) $(BIN)/flask webhooks receive --register --port $(HOOK_PORT) & receiver=$$!; \
	trap 'kill $$worker $$receiver 2>/dev/null' EXIT INT TERM; \
	$(SERVE_ENV) $(BIN)/flask --debug run --host $(HOST) --port $(PORT)

test: setup
	$(BIN)/pytest $(PYTEST_ARGS)

# CI's run in three parts. The tiers whose tests each keep to themselves spread over the
# machine's cores (pytest-xdist, work-stealing so that one long file does not hold a worker
# up), with the concurrency tests that race only among their own threads. Then the browser
# journeys that do not time keystrokes, also spread, in processes of their own: an app made
# by another tier's test (rate limits on, say) must not share a process with their live
# servers. Last, one at a time, the races timed against the whole machine, the scanner-speed
# journeys and the served processes.
PARALLEL_CONCURRENCY := tests/concurrency/test_model.py tests/concurrency/test_bundle_model.py \
	tests/concurrency/test_oracle.py tests/concurrency/test_backstop.py \
	tests/concurrency/test_fail_closed.py
SERIAL_BROWSER := tests/browser/test_accessibility.py tests/browser/test_count_journey.py \
	tests/browser/test_purchasing_journey.py tests/browser/test_receiving_journey.py \
	tests/browser/test_scan_preference_journey.py tests/browser/test_shop_floor_journey.py
PARALLEL_BROWSER := $(filter-out $(SERIAL_BROWSER),$(wildcard tests/browser/test_*.py))
PARALLEL_TIERS := tests/unit tests/services tests/web tests/api tests/fuzz tests/cli \
	tests/test_migrations.py $(PARALLEL_CONCURRENCY) --ignore=tests/api/concurrency
SERIAL_TIERS := tests/concurrency tests/api/concurrency $(SERIAL_BROWSER) tests/served \
	$(addprefix --ignore=,$(PARALLEL_CONCURRENCY))
CI_ENV := STOCKROOM_REQUIRE_POSTGRES=1 STOCKROOM_REQUIRE_BROWSER=1 HYPOTHESIS_PROFILE=ci
XDIST_WORKERS ?= 2
XDIST := -n $(XDIST_WORKERS) --dist worksteal

test-ci: setup
	$(CI_ENV) $(BIN)/pytest $(XDIST) --durations=15 $(PYTEST_ARGS) $(PARALLEL_TIERS)
	$(CI_ENV) $(BIN)/pytest $(XDIST) --durations=10 $(PYTEST_ARGS) $(PARALLEL_BROWSER)
	$(CI_ENV) $(BIN)/pytest --durations=25 $(PYTEST_ARGS) $(SERIAL_TIERS)

lint: setup
	$(BIN)/ruff check app tests
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python bench/bench_services.py $(BENCH_ARGS)
	$(BIN)/python bench/bench_overview.py $(BENCH_OVERVIEW_ARGS)
	$(BIN)/python bench/bench_scale.py $(BENCH_SCALE_ARGS)
	$(BIN)/python bench/bench_reorder.py
	$(BIN)/python bench/bench_alerts.py
	$(BIN)/python bench/wire.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build *.egg-info
	rm -f $(MANIFEST)
	find static -type f -name '*-????????????????????????????????.*' -delete
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
