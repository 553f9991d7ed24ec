"""Warnings for a run too noisy to read, in the spirit of pyperf's "the benchmark seems
unstable": a verdict is only as good as the noise beside it, and a reader who sees
"inconclusive" should know whether the effect was small or the machine was loud.

Two signs, with the thresholds docs/measurement.md documents:
- an A/A control (the same configuration run as two arms) whose interval reaches more than
  `AA_REACH` away from no difference (1 for a ratio, 0 for a difference): the pairing
  did not cancel the machine's drift;
- one configuration's repeats in one cell ranging over more than `REPEAT_SPREAD` of their
  median (throughput or client CPU per op): the machine changed speed during the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .stats import Interval

__all__ = ["ADVICE", "AA_REACH", "REPEAT_SPREAD", "stability_warnings"]

AA_REACH = 0.10
REPEAT_SPREAD = 0.25
SPREAD_METRICS = {"ops_per_s": "throughput", "cpu_us_per_op": "client CPU per op"}
ADVICE = (
    "The run looks unstable: rerun with more repeats (the notebook's `repeats`, `rcopt bench "
    "--repeats`, or `make experiments MODE=full`), keep the client and the servers pinned to "
    "different CPUs (the default; not `--no-pin`), and stop other work on the machine. A verdict "
    "near its threshold may flip."
)


def _aa_warnings(criteria_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    out: dict[str, str] = {}
    for row in criteria_rows:
        control = Interval.from_dict(row.get("control"))
        name = row.get("control_metric") or ""
        if control is None or name in out:
            continue
        centre = 0.0 if row.get("additive") else 1.0
        reach = max(abs(control.low - centre), abs(control.high - centre))
        if reach > AA_REACH:
            out[name] = f"A/A {name} {control.text()} reaches {reach:.0%} from {centre:g}"
    return list(out.values())


def _spread_warnings(summary_rows: Iterable[Mapping[str, Any]]) -> list[str]:
    out = []
    for row in summary_rows:
        for metric, what in SPREAD_METRICS.items():
            spread = row.get(metric) or {}
            median, low, high = spread.get("median"), spread.get("min"), spread.get("max")
            if not median or low is None or high is None or spread.get("n", 0) < 2:
                continue
            if (high - low) / median > REPEAT_SPREAD:
                where = f"{row['config']} ({row['mode']}, C={row['concurrency']})"
                out.append(f"{what} of {where} ranges {low:,.4g}–{high:,.4g} over its repeats")
    return out


def stability_warnings(
    criteria_rows: Iterable[Mapping[str, Any]], summary_rows: Iterable[Mapping[str, Any]] = ()
) -> list[str]:
    """What in a run's verdicts (`lab.criteria.evaluate` rows) and its bench record's
    summary rows is noisier than the thresholds allow; empty for a steady run."""
    return [*_aa_warnings(criteria_rows), *_spread_warnings(summary_rows)]
