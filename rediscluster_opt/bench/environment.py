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

__all__ = ["cpu_model", "environment", "git_state"]

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
