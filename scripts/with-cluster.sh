#!/usr/bin/env bash
# Run a command with the local cluster up; stop the cluster afterwards if this script
# started it, whether the command succeeded or not. Usage: scripts/with-cluster.sh CMD...
set -uo pipefail
cd "$(dirname "$0")/.."
rcopt=.venv/bin/rcopt

started=0
if ! "$rcopt" cluster status >/dev/null 2>&1; then
  started=1
  trap '"$rcopt" cluster down >/dev/null 2>&1 || true' EXIT
  trap 'exit 130' INT TERM
  "$rcopt" cluster up || exit $?
fi
"$@"
status=$?
if [ $started = 1 ]; then
  "$rcopt" cluster down || true
  trap - EXIT
fi
exit $status
