# The two commands that matter: `make experiments` (the main job) and `make test`.
# Each one bootstraps .venv and redis-server, starts the local cluster if it is not up,
# runs, and stops the cluster again if it started it, on success and on failure.
# Another cluster: `make experiments TARGET=<seed or URL> [STANDALONE=<address or URL>]`
# (SEEDS= is the same) starts nothing local; ALLOW_DESTRUCTIVE=1 permits slot migration there.
SHELL := /bin/bash
VENV := .venv
MODE ?= default
PYTEST_ARGS ?=

DURATION ?= 30
TARGET ?= $(SEEDS)
# The target options, quoted for the shell (URLs carry ? and &).
TARGET_ARGS = $(if $(TARGET),--target '$(TARGET)') $(if $(STANDALONE),--standalone '$(STANDALONE)')
WITH_CLUSTER = $(if $(TARGET),,scripts/with-cluster.sh)
.PHONY: test test-faults experiments reference docs rest-bench lab cluster-up cluster-down cluster-status lint redis-py-suite

test:
	@RCOPT_DEFER_BUILD=1 scripts/bootstrap.sh dev,lab,peers,compiled
	@scripts/with-cluster.sh scripts/test-builds.sh $(PYTEST_ARGS)

# Every fault of the checked pipeline loads (CLIENT KILL, migration, SIGSTOP and kill -9
# failovers) at 1, 2 and 4 connections per node and timeouts of 1 and 5 s, on the optimized
# and the native preset: 48 runs, about 8 minutes per build; make test runs a covering
# subset. The pure pass adds the failovers of pub/sub, scans and scripts that make test
# leaves out (marked fault_matrix).
FAULT_FILES = tests/e2e/test_pubsub.py tests/e2e/test_scans.py tests/e2e/test_scripts.py
test-faults:
	@scripts/bootstrap.sh dev,lab,compiled
	@RCOPT_FAULT_MATRIX=full scripts/with-cluster.sh .venv/bin/python -m pytest tests/e2e/test_pipeline_faults.py $(PYTEST_ARGS)
	@RCOPT_FAULT_MATRIX=full scripts/with-cluster.sh .venv/bin/python -m pytest -m fault_matrix $(FAULT_FILES) $(PYTEST_ARGS)
	@if .venv/bin/rcopt build --status >/dev/null; then RCOPT_BUILD=compiled RCOPT_FAULT_MATRIX=full \
	  scripts/with-cluster.sh .venv/bin/python -m pytest tests/e2e/test_pipeline_faults.py $(PYTEST_ARGS); fi

# redis-py's own asyncio tests (its sdist's), run against redis-py's RedisCluster and against
# the drop-in, each on a fresh cluster of its own (ports 7310-7314), about 10 minutes:
# records results/redis-py-suite/full.json and renders docs/redis-py-suite.md. make test
# runs a named subset (SELECTION=ci).
redis-py-suite:
	@scripts/bootstrap.sh dev,compat
	@$(VENV)/bin/rcopt redis-py-suite --selection $(or $(SELECTION),full)

experiments:
	@scripts/bootstrap.sh lab,peers,compiled
	@$(WITH_CLUSTER) $(VENV)/bin/rcopt experiments --mode $(MODE) $(TARGET_ARGS) \
	  $(if $(ALLOW_DESTRUCTIVE),--allow-destructive) $(EXPERIMENTS_ARGS)

# Every story at this commit, published to results/reference/ (refuses a dirty tree);
# then `make docs` renders README.md and docs/ from it.
reference:
	@scripts/bootstrap.sh lab,peers,compiled
	@$(WITH_CLUSTER) $(VENV)/bin/rcopt reference --mode $(MODE)

docs:
	@scripts/bootstrap.sh lab
	@$(VENV)/bin/rcopt docs

rest-bench:
	@scripts/bootstrap.sh lab,peers
	@$(WITH_CLUSTER) $(VENV)/bin/rcopt rest --duration $(DURATION) $(TARGET_ARGS)

lab:
	@scripts/bootstrap.sh dev,lab,peers
	@scripts/lab.sh

cluster-up:
	@scripts/bootstrap.sh
	@$(VENV)/bin/rcopt cluster up

cluster-down:
	@scripts/bootstrap.sh
	@$(VENV)/bin/rcopt cluster down

cluster-status:
	@$(VENV)/bin/rcopt cluster status

lint:
	@scripts/bootstrap.sh dev
	$(VENV)/bin/ruff check rediscluster_opt tests experiments
	$(VENV)/bin/ruff format --check rediscluster_opt tests experiments
	$(VENV)/bin/mypy
