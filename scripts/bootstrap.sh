#!/usr/bin/env bash
# Prepare everything a make target needs on a fresh Debian machine:
#   .venv with the package and the given extras, and redis-server/redis-cli.
# Usage: scripts/bootstrap.sh [extras]      e.g. scripts/bootstrap.sh dev,lab,peers
set -euo pipefail
cd "$(dirname "$0")/.."
extras=${1:-}

as_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
  if as_root && command -v apt-get >/dev/null; then
    echo "bootstrap: installing $* with apt-get"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    return 1
  fi
}

python=${PYTHON:-$(command -v python3.11 || command -v python3 || true)}
if [ -z "$python" ]; then
  echo "bootstrap: no python3 found; install Python >= 3.11" >&2; exit 1
fi
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: $python is $("$python" -V 2>&1); Python >= 3.11 is required (set PYTHON=...)" >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  if ! "$python" -m venv .venv 2>/dev/null; then
    rm -rf .venv
    apt_install python3-venv || {
      echo "bootstrap: '$python -m venv' failed; install python3-venv (Debian) and retry" >&2; exit 1; }
    "$python" -m venv .venv
  fi
fi

# Reinstall only when pyproject.toml changes or an extra is asked for that is not installed
# yet; the stamp file lists the installed extras, and a reinstall keeps them all.
stamp=".venv/.rcopt-$(sha1sum pyproject.toml | cut -c1-12)"
installed=$(cat "$stamp" 2>/dev/null || true)
missing=0
for extra in ${extras//,/ }; do
  [[ ",$installed," == *",$extra,"* ]] || missing=1
done
if [ ! -f "$stamp" ] || [ $missing = 1 ]; then
  wanted=$(echo "$installed,$extras" | tr ',' '\n' | grep -v '^$' | sort -u | paste -sd, -)
  echo "bootstrap: installing rediscluster_opt${wanted:+[$wanted]} into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${wanted:+[$wanted]}"
  rm -f .venv/.rcopt-*
  echo "$wanted" > "$stamp"
fi

if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  apt_install redis-server redis-tools || {
    echo "bootstrap: redis-server is not installed and this user cannot apt-get it." >&2
    echo "           Install it (sudo apt-get install redis-server) and run make again." >&2
    exit 1; }
  # The Debian package starts a system service on 6379; ours use 7000-7004 and 7100.
fi

# TLS clusters (rcopt cluster up --tls, the TLS tests) get certificates made by openssl;
# without it they are refused with a message and the TLS tests skip.
if ! command -v openssl >/dev/null; then
  apt_install openssl || echo "bootstrap: openssl not installed; TLS clusters cannot be started" >&2
fi

# The real-browser test of the lab drives Debian's chromium (Playwright's own browser
# download is not available everywhere); without it that test skips, saying so.
if [[ ",$extras," == *",dev,"* ]] && ! command -v chromium >/dev/null; then
  apt_install chromium || echo "bootstrap: chromium not installed; the browser test will be skipped" >&2
fi

# Instruction counts of the micro-benchmarks use valgrind; without it they are skipped
# with a note, so a failed install is not fatal.
if [[ ",$extras," == *",lab,"* ]] && ! command -v valgrind >/dev/null; then
  apt_install valgrind || echo "bootstrap: valgrind not installed; instruction counts will be skipped" >&2
fi

# The REST benchmark's load generator (autocannon) runs on Node.js; the lab extras need it.
if [[ ",$extras," == *",lab,"* ]] && { ! command -v node >/dev/null || ! command -v npm >/dev/null; }; then
  apt_install nodejs npm || {
    echo "bootstrap: Node.js and npm are needed for the REST benchmark (sudo apt-get install nodejs npm)" >&2
    exit 1; }
fi

# The compiled build of the hot path (rcopt build: mypyc and a C compiler), kept beside the
# pure package and used only where asked for (RCOPT_BUILD=compiled, or an @compiled bench
# arm). Without a compiler or Python's headers it is skipped, saying so, and everything
# runs pure; with them, a failed build is a bug and stops here. RCOPT_DEFER_BUILD=1 leaves
# the build to the caller (make test builds it while the pure tests run).
if [[ ",$extras," == *",compiled,"* ]]; then
  headers=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
  command -v gcc >/dev/null || apt_install gcc || true
  [ -f "$headers/Python.h" ] || apt_install python3-dev || true
  if ! command -v gcc >/dev/null || [ ! -f "$headers/Python.h" ]; then
    echo "bootstrap: no C compiler or no Python.h; the compiled build is skipped (pure Python runs)" >&2
  elif [ -z "${RCOPT_DEFER_BUILD:-}" ] && ! .venv/bin/rcopt build --status >/dev/null; then
    echo "bootstrap: compiling the hot path with mypyc (rcopt build, about a minute)"
    .venv/bin/rcopt build
  fi
fi

# The package's bytecode, made once (a tenth of a second when it is current): where
# PYTHONDONTWRITEBYTECODE is set, every process would otherwise compile the modules it
# imports again, about 0.1 s of CPU each, and a run starts thousands (each benchmark
# trial's child, each notebook's kernel). Reading bytecode is not writing it.
.venv/bin/python -m compileall -q rediscluster_opt experiments >/dev/null || true
