"""CPU accounting of other processes, and pinning the client and the servers to disjoint
CPUs so they do not steal each other's time slices (a steadier client CPU per op)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["cpu_seconds_of", "delta", "pinned_servers", "plan_pinning"]


def delta(before: float | None, after: float | None) -> float | None:
    """after - before, or None when either reading is missing."""
    return after - before if before is not None and after is not None else None


def cpu_seconds_of(pids: list[int]) -> float | None:
    """user + sys CPU seconds of these processes so far; None when any is gone."""
    if not pids:
        return None
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            return None
    return total


def plan_pinning(enabled: bool) -> dict[str, Any]:
    """Which CPUs the client and the servers get: the last allowed CPU for the client,
    the others for the servers. Off when asked, or with fewer than 2 CPUs."""
    if not enabled:
        return {"enabled": False, "reason": "switched off"}
    if not hasattr(os, "sched_setaffinity"):
        return {"enabled": False, "reason": "os.sched_setaffinity is not available here"}
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return {"enabled": False, "reason": f"only {len(cpus)} CPU available"}
    return {"enabled": True, "client_cpus": cpus[-1:], "server_cpus": cpus[:-1]}


@contextmanager
def pinned_servers(pinning: dict[str, Any], pids: list[int]) -> Iterator[dict[str, Any]]:
    """Pin `pids` to the plan's server CPUs for the duration, then restore each one's
    previous affinity. Yields the plan with the count of servers actually pinned."""
    if not pinning.get("enabled"):
        yield pinning
        return
    previous: dict[int, set[int]] = {}
    for pid in pids:
        try:
            previous[pid] = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, pinning["server_cpus"])
        except OSError:  # gone, or not ours to pin: recorded through the count below
            previous.pop(pid, None)
    try:
        yield {**pinning, "servers_pinned": len(previous)}
    finally:
        for pid, cpus in previous.items():
            try:
                os.sched_setaffinity(pid, cpus)
            except OSError:
                pass
