"""Clusters of other sizes for the scaling story, and the curves it draws from records.

`clusters_of(sizes, folder)` starts one local cluster per size (N masters, no replicas, no
standalone server) on ports of their own, so the story's sweep runs every size in one
interleaved benchmark, beside the lab's own cluster; every cluster it started is stopped on
the way out, also on failure. `curve` reads one configuration's figures from a record:
the median and range of its repeats at each point.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from rediscluster_opt.localcluster import LocalCluster
from rediscluster_opt.results.summary import metric_of

__all__ = ["FIRST_PORT", "cluster_ports", "clusters_of", "curve_point"]

FIRST_PORT = 7900  # the sweep's clusters: 7900.., clear of the lab's, the tests' and the TLS twin's
SPACING = 40  # ports per cluster size: room for 24 masters and whatever follows


def cluster_ports(size: int, index: int) -> tuple[int, ...]:
    """The ports of the `index`-th cluster of the sweep, with `size` masters."""
    if size < 3 or size > SPACING:
        raise ValueError(f"a swept cluster has 3 to {SPACING} masters, not {size}")
    first = FIRST_PORT + index * SPACING
    return tuple(range(first, first + size))


@contextmanager
def clusters_of(sizes: Sequence[int], folder: Path) -> Iterator[dict[int, LocalCluster]]:
    """size -> a started local cluster of that many masters; all stopped at the end."""
    with ExitStack() as stack:
        clusters = {}
        for index, size in enumerate(sizes):
            cluster = LocalCluster(
                ports=cluster_ports(size, index), standalone_port=None, data_dir=folder / f"masters-{size}"
            )
            stack.enter_context(cluster)
            clusters[size] = cluster
        yield clusters


def curve_point(record: dict[str, Any], label: str, mode: str, concurrency: int) -> dict[str, Any] | None:
    """The median, low and high of throughput, client CPU per op and commands per write
    over one configuration's valid repeats at one point; None if it has none."""
    trials = [
        t
        for t in record["trials"]
        if t["config"] == label
        and t["mode"] == mode
        and t["concurrency"] == concurrency
        and t.get("status") == "ok"
        and t.get("valid")
    ]
    if not trials:
        return None
    out: dict[str, Any] = {"n": len(trials)}
    for name, values in (
        ("ops_per_s", [metric_of(t, "ops_per_s") for t in trials]),
        ("cpu_us_per_op", [metric_of(t, "cpu_us_per_op") for t in trials]),
        ("commands_per_write", [(t.get("io") or {}).get("commands_per_write") for t in trials]),
    ):
        found = [v for v in values if v is not None]
        if found:
            out[name] = {"median": statistics.median(found), "low": min(found), "high": max(found)}
    return out
