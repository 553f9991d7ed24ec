"""JupyterLab's settings for this project's environment: no news prompt, no update check.

A newcomer opening `make lab` should see the story notebooks, not a toast asking whether
to fetch Jupyter's news feed (which also reaches out to the network). JupyterLab reads
setting overrides from `<prefix>/share/jupyter/lab/settings/overrides.json`; this writes
ours there, keeping any other overrides the file holds.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["QUIET", "quiet"]

QUIET: dict[str, dict[str, Any]] = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
}


def quiet(prefix: str | Path = sys.prefix) -> Path:
    """Merge `QUIET` into the environment's overrides.json; returns its path."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    current: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    for plugin, values in QUIET.items():
        current[plugin] = {**current.get(plugin, {}), **values}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(current, indent=2) + "\n")
    return path


if __name__ == "__main__":
    print(quiet())
