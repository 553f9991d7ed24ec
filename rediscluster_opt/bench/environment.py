"""What a result was measured on: recorded with every number."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..results import repo_relative

__all__ = ["CLIENT_PACKAGES", "cpu_model", "environment", "git_state", "staleness", "staleness_text"]

PACKAGES = ("rediscluster_opt", "hiredis", "uvloop", "redis", "coredis", "valkey-glide", "psutil")


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def git_state(path: Path | None = None) -> dict[str, Any]:
    where = str(path or Path(__file__).resolve().parents[2])
    try:
        commit = subprocess.run(
            ["git", "-C", where, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", where, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return {"commit": None, "dirty": None}
    return {"commit": commit or None, "dirty": bool(dirty) if commit else None}


# The client's own packages: a change there can move a measured figure (the lab, the
# results layer and the docs cannot).
CLIENT_PACKAGES = (
    "rediscluster_opt/core",
    "rediscluster_opt/stages",
    "rediscluster_opt/mux",
    "rediscluster_opt/client",
    "rediscluster_opt/native",
)


def _git(where: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def staleness(commit: str | None, path: Path | None = None) -> dict[str, Any] | None:
    """How far the checked-out code is from `commit`: commits since (all, and those that
    touch the client's packages) and lines changed there. None when this checkout does
    not have the commit (a shallow clone, or no git)."""
    where = path or Path(__file__).resolve().parents[2]
    if not commit or _git(where, "cat-file", "-e", f"{commit}^{{commit}}") is None:
        return None
    behind = _git(where, "rev-list", "--count", f"{commit}..HEAD")
    touching = _git(where, "rev-list", "--count", f"{commit}..HEAD", "--", *CLIENT_PACKAGES)
    numstat = _git(where, "diff", "--numstat", commit, "HEAD", "--", *CLIENT_PACKAGES)
    if behind is None or touching is None or numstat is None:
        return None
    lines = sum(
        int(a) + int(d) for a, d, *_ in (row.split("\t") for row in numstat.splitlines()) if a.isdigit()
    )
    named = _git(where, "log", "--format=%h %s", f"{commit}..HEAD", "--", *CLIENT_PACKAGES) or ""
    return {
        "commit": commit, "behind": int(behind), "touching": int(touching), "lines": lines,
        "changes": named.splitlines(),
    }  # fmt: skip


def _named(changes: list[str], shown: int = 3) -> str:
    """The commits that changed the client, by hash and subject, when few enough to read."""
    if not changes or len(changes) > shown:
        return ""
    return ": " + "; ".join(f"`{c.split(' ', 1)[0]}` {_shortened(c.split(' ', 1)[-1])}" for c in changes)


def _shortened(subject: str, width: int = 80) -> str:
    return subject if len(subject) <= width else subject[:width].rsplit(" ", 1)[0] + " ..."


def staleness_text(commit: str | None, path: Path | None = None, *, behind: bool = True) -> str:
    """One sentence on how far the code is from `commit`. `behind=False` leaves out the
    count of all commits, which every commit changes: what a committed document says."""
    found = staleness(commit, path)
    if found is None:
        where = (commit or "unknown")[:10]
        return f"measured at `{where}`, which this checkout does not have: staleness unknown"
    packages = ", ".join(p.rsplit("/", 1)[1] for p in CLIENT_PACKAGES)
    client = (
        "the client's packages are unchanged since"
        if not found["touching"]
        else f"{found['touching']} commit(s) since changed the client's packages ({packages}), "
        f"{found['lines']:,} lines" + _named(found["changes"])
    )
    total = f"{found['behind']} commit(s) behind the checked-out code; " if behind else ""
    return f"measured at `{(commit or 'unknown')[:10]}`: {total}{client}"


def redis_server_version() -> str | None:
    return _program_version("redis-server", "v=")


def redis_benchmark_version() -> str | None:
    """The C client arm's version (bench/cclient.py), e.g. '7.0.15'."""
    return _program_version("redis-benchmark", "")


def _program_version(program: str, prefix: str) -> str | None:
    """The first word after `program --version`'s name that starts with `prefix`."""
    try:
        out = subprocess.run([program, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    for word in out.stdout.split()[1:]:
        if word.startswith(prefix) and word[len(prefix) :][:1].isdigit():
            return word[len(prefix) :]
    return None


def cpu_model() -> str | None:
    """The CPU's model name (Linux), e.g. 'AMD EPYC 7B13'."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def environment() -> dict[str, Any]:
    return {
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "executable": repo_relative(sys.executable),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "redis_server": redis_server_version(),
        "redis_benchmark": redis_benchmark_version(),
        "packages": {p: _version(p) for p in PACKAGES},
        "git": git_state(),
    }
