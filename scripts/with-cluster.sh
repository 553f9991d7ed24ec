#!/usr/bin/env bash
# Run a command with the local cluster up; stop the cluster afterwards if this script
# started it, whether the command succeeded or not. Usage: scripts/with-cluster.sh CMD...
# RCOPT_CLUSTER_ARGS (say "--ports 7250-7252 --standalone-port 0", with RCOPT_DATA_DIR) puts
# that cluster elsewhere: the tests use it to start one beside the session's cluster.
set -uo pipefail
cd "$(dirname "$0")/.."
rcopt=.venv/bin/rcopt
read -r -a where <<< "${RCOPT_CLUSTER_ARGS:-}"

# Three stories start clusters of their own and stop them: US-010 a replica cluster, US-008
# a TLS twin for its TLS comparison, US-016 a cluster per size it sweeps. If a story is
# killed midway, their servers are stopped here (by their pid files, ours only; `down`
# also finds every node folder in a data folder, whatever ports are named).
stop_story_clusters() {
  for sized in .rcopt/scaling/masters-*; do
    [ -d "$sized" ] || continue
    "$rcopt" cluster down --data-dir "$sized" --ports 7900-7902 --standalone-port 0 >/dev/null 2>&1 || true
  done
  if [ -d .rcopt/resilience ]; then
    "$rcopt" cluster down --data-dir .rcopt/resilience --ports 7500-7502 --standalone-port 0 >/dev/null 2>&1 || true
  fi
  if [ -d .rcopt/tls-twin ]; then
    "$rcopt" cluster down --data-dir .rcopt/tls-twin --ports 7800-7804 --standalone-port 0 >/dev/null 2>&1 || true
  fi
}

started=0
trap stop_story_clusters EXIT
if ! "$rcopt" cluster status "${where[@]}" >/dev/null 2>&1; then
  started=1
  trap '"$rcopt" cluster down "${where[@]}" >/dev/null 2>&1 || true; stop_story_clusters' EXIT
  trap 'exit 130' INT TERM
  "$rcopt" cluster up "${where[@]}" || exit $?
fi
"$@"
status=$?
if [ $started = 1 ]; then
  "$rcopt" cluster down "${where[@]}" || true
  trap stop_story_clusters EXIT
fi
exit $status
