# The two commands that matter: `make experiments` (the main job) and `make test`.
# Each one bootstraps .venv and redis-server, starts the local cluster if it is not up,
# runs, and stops the cluster again if it started it, on success and on failure.
SHELL := /bin/bash
VENV := .venv
MODE ?= default
PYTEST_ARGS ?=

DURATION ?= 30
.PHONY: test experiments rest-bench lab cluster-up cluster-down cluster-status lint

test:
	@scripts/bootstrap.sh dev,lab,peers
	@scripts/with-cluster.sh $(VENV)/bin/python -m pytest $(PYTEST_ARGS)

experiments:
	@scripts/bootstrap.sh lab,peers
	@scripts/with-cluster.sh $(VENV)/bin/rcopt experiments --mode $(MODE) $(EXPERIMENTS_ARGS)

rest-bench:
	@scripts/bootstrap.sh lab,peers
	@scripts/with-cluster.sh $(VENV)/bin/rcopt rest --duration $(DURATION)

lab:
	@scripts/bootstrap.sh dev,lab,peers
	@$(VENV)/bin/rcopt cluster up
	$(VENV)/bin/jupyter lab notebooks/

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
