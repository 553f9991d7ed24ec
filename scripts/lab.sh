#!/usr/bin/env bash
# `make lab`: JupyterLab on notebooks/ with the project's kernel, against the local cluster.
# Registers .venv as the Jupyter kernel "rediscluster_opt" (for this user, so a JupyterLab
# installed elsewhere can use it too), starts the local cluster unless it is up, and stops
# it again on exit, Ctrl-C included, if it started it (scripts/with-cluster.sh).
#   LAB_IP (default 127.0.0.1) and LAB_PORT (default 8888) choose where it listens.
# As root it passes --allow-root; without a display it opens no browser and prints the URL.
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/python -m ipykernel install --user --name rediscluster_opt \
  --display-name "Python (rediscluster_opt)" >/dev/null || exit $?

# No news prompt and no update check in this environment's JupyterLab.
.venv/bin/python -m rediscluster_opt.lab.presentation.labsettings >/dev/null || exit $?

# Results and figures the notebooks write go under the repository (the workspace root).
export RCOPT_ROOT="${RCOPT_ROOT:-$PWD}"

ip=${LAB_IP:-127.0.0.1}
port=${LAB_PORT:-8888}
token=$(.venv/bin/python -c 'import secrets; print(secrets.token_hex(24))')
args=(--ip "$ip" --port "$port" --ServerApp.port_retries=0 --IdentityProvider.token="$token"
      --ServerApp.root_dir=notebooks)
if [ "$(id -u)" = 0 ]; then
  args+=(--allow-root)
fi
if [ -z "${DISPLAY:-}" ]; then
  args+=(--no-browser)
fi
shown=$ip
if [ "$ip" = 0.0.0.0 ]; then shown=$(hostname -I 2>/dev/null | awk '{print $1}'); fi
echo "lab: JupyterLab at http://${shown:-$ip}:$port/lab?token=$token"
echo "lab: kernel 'rediscluster_opt' is this project's .venv; Ctrl-C twice stops the lab (and the cluster, if it started it)"
exec scripts/with-cluster.sh .venv/bin/jupyter lab "${args[@]}"
