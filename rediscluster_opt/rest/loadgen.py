"""autocannon, installed into a project-local folder and driven from Python."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..workspace import resolve

__all__ = ["SCENARIOS", "LoadgenError", "Scenario", "ensure_autocannon", "run_scenario"]

AUTOCANNON_VERSION = "8.0.0"
SCRIPT = Path(__file__).with_name("loadgen.js")


class LoadgenError(RuntimeError):
    pass


@dataclass(frozen=True)
class Scenario:
    name: str
    connections: int
    pipelining: int
    expect_non2xx: bool = False  # mixed deletes random ids, so 404s are part of it


# The original benchmark's methodology; `get_random` spreads GETs over every master.
SCENARIOS = {
    s.name: s
    for s in (
        Scenario("get_single", 100, 10),
        Scenario("get_list", 100, 10),
        Scenario("post", 10, 1),
        Scenario("mixed", 20, 1, expect_non2xx=True),
        Scenario("get_random", 100, 10),
    )
}


def ensure_autocannon() -> Path:
    """Path of the autocannon package, installing it locally with npm when missing (into
    $RCOPT_NODE_DIR, else .rcopt/node under the workspace root)."""
    node_dir = resolve(os.environ.get("RCOPT_NODE_DIR") or ".rcopt/node")
    package = node_dir / "node_modules" / "autocannon"
    if (package / "package.json").exists():
        return package
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise LoadgenError(
                f"{tool} was not found on PATH; the REST benchmark needs Node.js and npm "
                "(sudo apt-get install nodejs npm; `make` installs them when run as root)"
            )
    node_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            "npm",
            "install",
            "--prefix",
            str(node_dir),
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"autocannon@{AUTOCANNON_VERSION}",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise LoadgenError(f"npm install autocannon failed:\n{done.stderr[-2000:]}")
    return package


def run_scenario(
    scenario: Scenario,
    base_url: str,
    duration: float,
    *,
    user_id: int,
    max_user_id: int,
    warmup: float = 0.0,
    measuring: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """One autocannon process: `warmup` seconds, then `measuring()` is called, then
    `duration` measured seconds; returns autocannon's result of the measured run, with
    `loadgenCpuS`, autocannon's own CPU during it."""
    config = {
        "scenario": scenario.name,
        "base": base_url,
        "connections": scenario.connections,
        "pipelining": scenario.pipelining,
        "duration": duration,
        "warmup": warmup,
        "userId": user_id,
        "maxUserId": max_user_id,
    }
    env = {**os.environ, "RCOPT_AUTOCANNON": str(ensure_autocannon())}
    limit = warmup + duration + 120
    process = subprocess.Popen(
        ["node", str(SCRIPT), json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    timed_out = threading.Event()

    def kill() -> None:  # a hung autocannon cannot hang the run
        timed_out.set()
        process.kill()

    timer = threading.Timer(limit, kill)
    timer.start()
    try:
        assert process.stdout is not None
        marker = process.stdout.readline().strip()
        if marker == "measuring" and measuring is not None:
            measuring()
        out, err = process.communicate()
    finally:
        timer.cancel()
        if process.poll() is None:
            process.kill()
            process.wait()
    if timed_out.is_set():
        raise LoadgenError(f"autocannon ({scenario.name}) did not finish in {limit:.0f} s")
    if process.returncode != 0 or marker != "measuring":
        raise LoadgenError(f"autocannon ({scenario.name}) failed: {(err or marker)[-2000:]}")
    found: dict[str, Any] = json.loads(out)
    return found
