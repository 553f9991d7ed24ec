#!/usr/bin/env bash
# The test suite against both builds of the hot path, in one cluster session (make test):
#   1. everything, on the pure build (with the arguments given, PYTEST_ARGS);
#   2. the unit tests and the client's end-to-end tests on the compiled build (mypyc), when
#      it is built here (bootstrap builds it where a C compiler exists; else it says so).
# Both run to the end; the exit status fails when either failed.
set -uo pipefail
cd "$(dirname "$0")/.."
COMPILED_SUITE=(
  tests/unit
  tests/e2e/test_commands.py tests/e2e/test_pipelines.py tests/e2e/test_routing.py
  tests/e2e/test_resends.py tests/e2e/test_faults.py tests/e2e/test_auth.py
  tests/e2e/test_tls.py tests/e2e/test_resilience.py tests/e2e/test_builds.py
)
RCOPT_BUILD=pure .venv/bin/python -m pytest "$@"
pure=$?
if .venv/bin/rcopt build --status >/dev/null 2>&1; then
  echo "== the same client tests on the compiled build (RCOPT_BUILD=compiled) =="
  RCOPT_BUILD=compiled .venv/bin/python -m pytest -q "${COMPILED_SUITE[@]}"
  compiled=$?
else
  echo "== no compiled build here (no C compiler or Python headers): its suite is skipped =="
  compiled=0
fi
exit $(( pure != 0 || compiled != 0 ))
