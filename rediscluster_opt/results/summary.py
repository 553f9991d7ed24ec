"""Building a record and summarising its trials: medians with spread per cell, and paired
ratios with intervals between configurations measured in the same run.

A cell is where a trial ran: (mode, scenario, concurrency). Two configurations are only
ever compared within one cell, pairing their trials by repeat.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any, cast

from .stats import Interval, interval
from .types import ModeRatio, Ratio, Record, Summary, SummaryRow, Trial

__all__ = ["METRICS", "metric_of", "new_record", "paired_ratio", "pairs", "summarize"]

SCHEMA_VERSION = 2

# metric -> (what it is, True when higher is better)
METRICS = {
    "ops_per_s": ("throughput, operations (or requests) per second", True),
    "cpu_us_per_op": ("client CPU (user + sys) per completed operation, µs", False),
    "p50_us": ("median latency, µs", False),
    "p99_us": ("99th percentile latency, µs", False),
    "writes_per_command": ("socket writes per command (client counters)", False),
    "replies_per_read": ("replies parsed per socket read (client counters)", True),
}


def metric_of(trial: Trial | dict[str, Any], metric: str) -> float | None:
    """One figure of a good trial; None when the trial failed or lacks it."""
    if trial.get("status") != "ok" or not trial.get("valid"):
        return None
    if metric == "ops_per_s":
        return trial.get("ops_per_s")
    if metric == "cpu_us_per_op":
        cpu, ops = trial.get("client_cpu_s"), trial.get("ops")
        return cpu / ops * 1e6 if cpu and ops else None
    if metric in ("p50_us", "p99_us"):
        return (trial.get("latency_us") or {}).get(metric[:-3])
    if metric == "writes_per_command":
        return (trial.get("io") or {}).get("writes_per_command")
    if metric == "replies_per_read":
        reads = (trial.get("io") or {}).get("reads_per_command")
        return 1 / reads if reads else None
    raise ValueError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")


def _cell_of(trial: dict[str, Any]) -> tuple[str, str | None, int]:
    return trial["mode"], trial.get("scenario"), trial["concurrency"]


def pairs(
    record: dict[str, Any],
    numerator: str,
    denominator: str,
    metric: str = "ops_per_s",
    *,
    mode: str = "cluster",
    concurrency: int | None = None,
    scenario: str | None = None,
    denominator_mode: str | None = None,
) -> list[tuple[float, float]]:
    """(numerator, denominator) figures paired by repeat (and by concurrency when it is
    not given), in one cell. `denominator_mode` pairs across modes (cluster/standalone)."""
    figures: dict[tuple[Any, ...], float] = {}
    for trial in record["trials"]:
        value = metric_of(trial, metric)
        if value is None or trial.get("scenario") != scenario:
            continue
        if concurrency is not None and trial["concurrency"] != concurrency:
            continue
        figures[(trial["config"], trial["mode"], trial["repeat"], trial["concurrency"])] = value
    other_mode = denominator_mode or mode
    out = []
    for (config, trial_mode, repeat, level), value in sorted(figures.items(), key=lambda kv: kv[0][2:]):
        if config == numerator and trial_mode == mode:
            partner = figures.get((denominator, other_mode, repeat, level))
            if partner:
                out.append((value, partner))
    return out


def paired_ratio(
    record: dict[str, Any], numerator: str, denominator: str, metric: str = "ops_per_s", **where: Any
) -> Interval | None:
    """numerator / denominator per repeat, summarised with its interval (see `stats`)."""
    return interval([a / b for a, b in pairs(record, numerator, denominator, metric, **where)])


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def summarize(record: Record | dict[str, Any]) -> Summary:
    """Medians with min-max per (config, mode, scenario, concurrency); paired ratios with
    intervals (throughput and CPU per op) of each configuration against the first one;
    cluster over standalone per configuration."""
    failed = [t["index"] for t in record["trials"] if t.get("status") != "ok" or not t.get("valid")]
    data = cast("dict[str, Any]", record)  # read as a plain record: its trials as dicts
    return {
        "rows": cast("list[SummaryRow]", _rows(data)),
        "ratios": cast("list[Ratio]", _ratios(data)),
        "mode_ratios": cast("list[ModeRatio]", _mode_ratios(data)),
        "failed_trials": failed,
    }


def _rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric's median and min-max per (config, mode, scenario, concurrency)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for trial in record["trials"]:
        if trial.get("status") == "ok" and trial.get("valid"):
            groups.setdefault((trial["config"], *_cell_of(trial)), []).append(trial)
    return [
        {
            "config": config,
            "mode": mode,
            "scenario": scenario,
            "concurrency": level,
            **{
                metric: _spread([v for t in group if (v := metric_of(t, metric)) is not None])
                for metric in METRICS
            },
        }
        for (config, mode, scenario, level), group in groups.items()
    ]


def _cells(record: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    """Each (mode, scenario, concurrency) a trial ran, in run order."""
    return list(dict.fromkeys(_cell_of(t) for t in record["trials"]))


def _ratio_dict(
    record: dict[str, Any],
    numerator: str,
    denominator: str,
    metric: str,
    cell: tuple[str, str | None, int],
    denominator_mode: str | None = None,
) -> dict[str, Any] | None:
    mode, scenario, level = cell
    found = paired_ratio(
        record,
        numerator,
        denominator,
        metric,
        mode=mode,
        scenario=scenario,
        concurrency=level,
        denominator_mode=denominator_mode,
    )
    return found.as_dict() if found else None


def _ratios(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Every configuration against the first; and, the overhead budget, each of our
    client's against a calibration arm (the bare lower bound) when one ran."""
    configurations = record["configurations"]
    labels = [c["label"] for c in configurations]
    calibrations = [c["label"] for c in configurations if c.get("client", "").startswith("calibration:")]
    ours = [c["label"] for c in configurations if c.get("client", "ours") == "ours"]
    pairs = [(label, labels[0]) for label in labels[1:]]
    pairs += [(label, arm) for arm in calibrations for label in ours if (label, arm) not in pairs]
    return [
        {
            "config": label,
            "reference": reference,
            "mode": cell[0],
            "scenario": cell[1],
            "concurrency": cell[2],
            "ratio": _ratio_dict(record, label, reference, "ops_per_s", cell),
            "cpu_ratio": _ratio_dict(record, label, reference, "cpu_us_per_op", cell),
        }
        for label, reference in pairs
        for cell in _cells(record)
    ]


def _mode_ratios(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Each configuration's cluster throughput over its standalone one, per cell."""
    cells = _cells(record)
    return [
        {
            "config": c["label"],
            "scenario": scenario,
            "concurrency": level,
            "cluster_over_standalone": _ratio_dict(
                record, c["label"], c["label"], "ops_per_s", (mode, scenario, level), "standalone"
            ),
        }
        for c in record["configurations"]
        for mode, scenario, level in cells
        if mode == "cluster" and ("standalone", scenario, level) in cells
    ]


def new_record(
    experiment: str,
    parameters: dict[str, Any],
    configurations: Sequence[dict[str, Any]],
    env: dict[str, Any],
    trials: list[Any],
    notes: list[str],
) -> Record:
    """A result record with its summary computed from the trials. `configurations` are
    plain dicts with at least 'client' and 'label'."""
    fields: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "experiment": experiment,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": parameters,
        "configurations": list(configurations),
        "environment": env,
        "notes": notes,
        "trials": trials,
    }
    return cast(Record, {**fields, "summary": summarize(fields)})
