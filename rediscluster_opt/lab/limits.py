"""The C client as the limit, for the stories: the two `calibration:redis-benchmark` arms
(bench/cclient.py) and every client of a run as a fraction of both.

Without pipelining, redis-benchmark is what a connection-per-request C client gets. The
pipelined arm goes as deep as our multiplexer's own commands per write, measured just
before the run with the configuration being compared: it then puts as many requests in
each write as we do, and shows what the servers give a client that costs next to nothing.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from ..bench.adapters import C_CLIENT, ClientConfig
from ..results import paired_ratio
from . import engine
from .parameters import Parameters

__all__ = ["KINDS", "NEEDS", "c_client_arms", "c_client_metric", "fractions", "kind", "measured_depth"]

NEEDS = "redis-benchmark (installed with redis-server)"

PROBE_S = 1.0  # seconds of the trial that measures our commands per write


def measured_depth(params: Parameters, ours: ClientConfig, concurrency: int) -> int:
    """Our multiplexer's median commands per socket write in one short cluster trial at
    `concurrency` (1 when the counters are missing)."""
    probe = engine.bench(params, [ours], "depth-probe", repeats=1, concurrency=[concurrency],
                         duration=min(params.duration, PROBE_S))  # fmt: skip
    per_write = engine.io_values(probe, ours.label, "commands_per_write")
    return max(1, math.floor(statistics.median(per_write))) if per_write else 1


def c_client_arms(params: Parameters, ours: ClientConfig, concurrency: int) -> list[ClientConfig]:
    """The C client without pipelining and pipelined as deep as `ours` batches; none when
    redis-benchmark is not installed (the bench would note it as skipped anyway)."""
    plain = ClientConfig.parse(C_CLIENT)
    if not plain.available():
        return []
    return [plain, ClientConfig(C_CLIENT, pipeline=measured_depth(params, ours, concurrency))]


KINDS = {"plain": "one request per connection", "pipelined": "pipelined as deep as our writes"}


def kind(arm: ClientConfig) -> str:
    """Which of the two arms (KINDS) a configuration is."""
    return "pipelined" if arm.pipeline > 1 else "plain"


def c_client_metric(arm_kind: str, mode: str, figure: str = "throughput") -> str:
    """The metric of `figure` ('throughput' or 'cpu') in `mode`: the compared client / the
    arm of `arm_kind` (KINDS)."""
    return f"cclient.{arm_kind}.{figure}.{mode}"


def fractions(record: dict[str, Any], arms: list[ClientConfig], level: int) -> list[dict[str, Any]]:
    """Every configuration of the record, per mode, as a fraction of each C-client arm's
    throughput (paired per repeat), for a story table."""
    labels = [c["label"] for c in record["configurations"] if c["client"] != C_CLIENT]
    rows = []
    for mode in record["parameters"]["modes"]:
        for label in labels:
            found = {
                arm.label: paired_ratio(record, label, arm.label, mode=mode, concurrency=level)
                for arm in arms
            }
            if not any(found.values()):  # an arm measured in cluster mode only
                continue
            cells = {f"/ {arm}": ratio.text() if ratio else "–" for arm, ratio in found.items()}
            rows.append({"mode": mode, "client": label, **cells})
    return rows
