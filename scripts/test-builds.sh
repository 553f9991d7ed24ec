#!/usr/bin/env bash
# The test suite against both builds of the hot path, in one cluster session (make test):
#   1. everything, on the pure build;
#   2. the tests of what the compiled build compiles (core/, stages/, mux/: the unit tests
#      of the protocol, the stages, the multiplexer and the policies over them, and the
#      end-to-end tests of the builds, which run commands through the compiled modules
#      against the cluster, with a smoke of the checked pipeline faults), on the compiled
#      build; RCOPT_COMPILED_SUITE=wide adds the
#      end-to-end commands, pipelines, routing, resends, AUTH and TLS (about 70 s more,
#      kept out of CI's 15 minutes). client/ stays pure in both builds, so the
#      lab's tests and the cluster-wide fault and resilience tests, which test the
#      client's policies, run once.
# Where a C compiler and Python's headers exist (bootstrap installs them when it can), the
# native stage variants (Cython) are built first and run in every pass as stage sets
# (tests/stage_sets.py), and the compiled build (rcopt build, about a minute of gcc) is
# made beside the measuring tests, at the lowest priority;
# without them the second pass is skipped, saying so. The unit tests need no servers and
# pytest keeps to one CPU, so they run beside end-to-end tests that leave a CPU idle (the
# phases below), never beside one that measures. With arguments
# (PYTEST_ARGS: a test file, -k ...) the pure pass runs them as given, then the compiled
# suite. Every pass runs to the end; the exit status fails when any failed, or when the
# build failed.
set -uo pipefail
cd "$(dirname "$0")/.."
COMPILED_UNIT=(
  tests/unit/test_resp.py tests/unit/test_slots.py tests/unit/test_topology.py
  tests/unit/test_redirect.py tests/unit/test_stages.py tests/unit/test_multiplexer.py
  tests/unit/test_dispatch.py tests/unit/test_commands.py tests/unit/test_cluster_policy.py
  tests/unit/test_fault_policy.py tests/unit/test_batching.py tests/unit/test_refresh.py
  tests/unit/test_url.py tests/unit/test_tls.py tests/unit/test_options.py
  tests/unit/test_unsafe_commands.py tests/unit/test_contracts.py tests/unit/test_builds.py
  tests/unit/test_pipeline_policy.py tests/unit/test_failover_policy.py
)
COMPILED_E2E=(tests/e2e/test_builds.py tests/e2e/test_pipeline_faults.py)
if [ "${RCOPT_COMPILED_SUITE:-}" = wide ]; then
  COMPILED_E2E+=(tests/e2e/test_commands.py tests/e2e/test_pipelines.py tests/e2e/test_routing.py
                 tests/e2e/test_resends.py tests/e2e/test_auth.py tests/e2e/test_tls.py)
fi
headers=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
build_log=$(mktemp)
trap 'rm -f "$build_log"' EXIT
building=""
can_build=""
build_failed=0
if command -v gcc >/dev/null && [ -f "$headers/Python.h" ]; then
  can_build=yes
  # The native stage variants first (about 10 s of Cython and gcc), so every pass, the
  # pure build's end-to-end tests included, holds them to the suites; mypyc later.
  if ! .venv/bin/rcopt build --native >"$build_log" 2>&1; then
    echo "== the native stage variants failed to build (rcopt build --native):" >&2
    cat "$build_log" >&2
    build_failed=1
  fi
fi
start_build() {  # the compiled build (mypyc), in the background; `built` waits for it
  [ -n "$can_build" ] || return 0
  .venv/bin/rcopt build >"$build_log" 2>&1 &
  building=$!
}
compiled_pytest() {
  RCOPT_BUILD=compiled RCOPT_FAULT_MATRIX=${RCOPT_FAULT_MATRIX:-smoke} .venv/bin/python -m pytest -q "$@"
}
built() {  # waits for the build; whether it was made (an error and its log when it failed)
  [ -n "$building" ] || return 1
  if wait "$building"; then building=""; return 0; fi
  echo "== the compiled build failed (rcopt build):" >&2
  cat "$build_log" >&2
  build_failed=1; building=""
  return 1
}
# A pytest command run as two at once: its tests on the replica cluster (servers of their
# own, mostly waiting for a failover to finish) in the background, the others here on the
# lab's cluster, then the background run's output. $1: the marker expression both keep.
on_both_clusters() {
  local marks=$1 log status=0 replicas
  shift
  log=$(mktemp)
  "$@" -m "($marks) and replica_cluster" >"$log" 2>&1 &
  replicas=$!
  "$@" -m "($marks) and not replica_cluster" || status=1
  wait "$replicas" || status=1
  echo "== the same run's tests on the replica cluster, run beside them =="
  cat "$log"
  rm -f "$log"
  return $status
}
pure=0
compiled=0
if [ $# -gt 0 ]; then
  start_build
  RCOPT_BUILD=pure .venv/bin/python -m pytest "$@" || pure=1
  if built; then
    echo "== the compiled build's tests (RCOPT_BUILD=compiled) =="
    compiled_pytest "${COMPILED_UNIT[@]}" "${COMPILED_E2E[@]}" || compiled=1
  fi
else
  # Four phases, so that CPU-bound work fills what the end-to-end tests leave idle and
  # nothing runs beside a test that reads the machine's figures as evidence:
  #   1. the stories' quick run (its notebook tests), niced, with the pure unit tests
  #      beside it: a smoke run's figures are not evidence and it re-runs no trial;
  #   2. the end-to-end tests marked `measures` (they run benchmarks on the lab's cluster,
  #      which the quick run and phase 3 change under them), beside no other test: first the
  #      one marked `quiet_machine`, whose re-run must find the machine quiet, alone; then
  #      the others, which re-run no trial and read no machine figure as evidence, with the
  #      compiled build (mypyc, about 110 CPU-seconds of gcc) started beside them at the
  #      lowest priority, on the CPU they leave idle (about 40 %), rather than in phase 1,
  #      whose CPUs are full;
  #   3. the other end-to-end tests, those on the replica cluster beside those on the lab's
  #      (on_both_clusters), with the compiled build's unit tests run beside them, niced,
  #      once the build is done;
  #   4. the compiled build's end-to-end tests, split by cluster likewise.
  unit_log=$(mktemp)
  side_log=$(mktemp)
  side_status=$(mktemp)
  build_status=$(mktemp)
  build_group=""  # the build's process group, once started
  trap '[ -n "$build_group" ] && kill -KILL -- "-$build_group" 2>/dev/null
        rm -f "$build_log" "$unit_log" "$side_log" "$side_status" "$build_status"' EXIT
  notebooks=(tests/e2e/stories tests/e2e/test_notebooks.py)
  RCOPT_BUILD=pure .venv/bin/python -m pytest tests/unit >"$unit_log" 2>&1 &
  unit=$!
  echo "== the stories' quick run and notebook tests (RCOPT_BUILD=pure), the unit tests beside them =="
  RCOPT_BUILD=pure nice -n 5 .venv/bin/python -m pytest "${notebooks[@]}" || pure=1
  wait "$unit" || pure=1
  echo "== the unit tests (RCOPT_BUILD=pure), run beside the quick run =="
  cat "$unit_log"
  rest=(tests/e2e --ignore=tests/e2e/stories --ignore=tests/e2e/test_notebooks.py)
  echo "== the end-to-end test that needs a quiet machine (RCOPT_BUILD=pure), alone =="
  RCOPT_BUILD=pure .venv/bin/python -m pytest "${rest[@]}" -m "measures and quiet_machine" || pure=1
  if [ -n "$can_build" ]; then  # a session of its own, so that its gcc children end with it
    setsid bash -c 'nice -n 19 .venv/bin/rcopt build >"$1" 2>&1; echo $? >"$2"' _ "$build_log" "$build_status" &
    # not a group leader (no job control here), setsid makes no child: its pid is the group's
    build_group=$!
  fi
  echo "== the other end-to-end tests that measure (RCOPT_BUILD=pure), the compiled build made beside them =="
  RCOPT_BUILD=pure .venv/bin/python -m pytest "${rest[@]}" -m "measures and not quiet_machine" || pure=1
  side=""
  if [ -n "$can_build" ]; then
    (  # its own child: the build's end, then the compiled unit tests; the outcome in a file
      while [ ! -s "$build_status" ] && kill -0 -- "-$build_group" 2>/dev/null; do sleep 1; done
      if [ "$(cat "$build_status")" != 0 ]; then echo build-failed >"$side_status"; exit; fi
      nice -n 10 env RCOPT_BUILD=compiled RCOPT_FAULT_MATRIX="${RCOPT_FAULT_MATRIX:-smoke}" \
        .venv/bin/python -m pytest -q "${COMPILED_UNIT[@]}" >"$side_log" 2>&1
      echo $? >"$side_status"
    ) &
    side=$!
  fi
  beside=""
  [ -n "$side" ] && beside=", the compiled build's unit tests run beside them"
  echo "== the other end-to-end tests (RCOPT_BUILD=pure)$beside =="
  on_both_clusters "not measures" env RCOPT_BUILD=pure .venv/bin/python -m pytest "${rest[@]}" || pure=1
  if [ -n "$side" ]; then
    wait "$side"
    if [ "$(cat "$side_status")" = build-failed ]; then
      echo "== the compiled build failed (rcopt build):" >&2
      cat "$build_log" >&2
      build_failed=1
    else
      [ "$(cat "$side_status")" = 0 ] || compiled=1
      echo "== the compiled build's unit tests (RCOPT_BUILD=compiled), run beside them =="
      cat "$side_log"
      echo "== the compiled build's end-to-end tests (RCOPT_BUILD=compiled) =="
      on_both_clusters "e2e" compiled_pytest "${COMPILED_E2E[@]}" || compiled=1
    fi
  fi
fi
if [ -z "$can_build" ]; then
  echo "== no C compiler or no Python.h here: the compiled build's tests are skipped =="
fi
exit $(( pure != 0 || compiled != 0 || build_failed != 0 ))
