"""How the headline figures move from commit to commit: `results/history/`, one small JSON
entry per reference or `make experiments` run (commit, date, machine, mode, each story's
headline criteria with their intervals and A/A controls), and the steps between them.

A series is one criterion of one story on one machine in one run mode: entries from
another machine or mode are never joined to it, since their absolute figures differ. A
step between two neighbouring commits of a series counts as a regression or an
improvement when the change is larger than its band, and names the commit range it
happened in, as asv's `find` does. The band: for an exact count (instructions, blocks,
frames), EXACT_BAND (1 %); for a ratio measured more than once at one commit (separate
runs, `rcopt headline`), the run-to-run spread those repeats show (the farthest a run's
median lies from its commit's median), since that is how far a figure moves between runs
when nothing changed; otherwise the A/A band (the wider of the two entries' A/A spreads
around 1), a within-run figure that may well understate it.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .stats import Interval

__all__ = [
    "EXACT_BAND",
    "SCHEMA",
    "Point",
    "Step",
    "load_entries",
    "machine_of",
    "run_to_run",
    "series",
    "steps",
    "write_entry",
]

SCHEMA = 1
# A figure with no A/A control is a deterministic count (instructions, allocations):
# a step smaller than this is a toolchain's rounding, not a change of the code.
EXACT_BAND = 0.01


def machine_of(environment: dict[str, Any]) -> str:
    """The machine a record names: CPU model and count (a container's host name says less)."""
    return f"{environment.get('cpu_model') or '?'}, {environment.get('cpu_count') or '?'} CPUs"


def write_entry(entry: dict[str, Any], folder: Path) -> Path:
    """`<created>_<commit>_<kind>.json` in `folder` (made when missing)."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = entry["created"].replace("-", "").replace(":", "")[:16]
    path = folder / f"{stamp}_{(entry['commit'] or 'unknown')[:10]}_{entry['kind']}.json"
    path.write_text(json.dumps(entry, indent=1, sort_keys=True) + "\n")
    return path


def load_entries(folder: Path) -> list[dict[str, Any]]:
    """Every entry in `folder`, oldest first; ValueError names a file that is not one."""
    found = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            entry = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a history entry: not JSON ({exc})") from None
        if not isinstance(entry, dict) or not isinstance(entry.get("created"), str):
            raise ValueError(f"{path}: not a history entry: no 'created' time")
        found.append(entry)
    return sorted(found, key=lambda e: e["created"])


@dataclass(frozen=True)
class Point:
    """One entry's figure of a series."""

    commit: str
    created: str
    kind: str
    effect: Interval
    control: Interval | None
    verdict: str


SeriesKey = tuple[str, str, str, str]  # (machine, mode, story, metric)


def series(entries: Iterable[dict[str, Any]]) -> dict[SeriesKey, list[Point]]:
    """Each (machine, mode, story, metric) with its points in the entries' order."""
    out: dict[SeriesKey, list[Point]] = {}
    for entry in entries:
        for story, found in entry["stories"].items():
            for metric, row in found["metrics"].items():
                effect = Interval.from_dict(row.get("effect"))
                if effect is None:  # not measured in that run
                    continue
                control = Interval.from_dict(row.get("control"))
                point = Point(entry["commit"] or "unknown", entry["created"], entry["kind"], effect, control,
                              row["verdict"])  # fmt: skip
                out.setdefault((entry["machine"], entry["mode"], story, metric), []).append(point)
    return out


def _band(control: Interval | None) -> float:
    """How far from 1 the A/A control reaches (its noise), or EXACT_BAND without one."""
    if control is None:
        return EXACT_BAND
    return max(abs(control.low - 1), abs(control.high - 1), EXACT_BAND)


@dataclass(frozen=True)
class Step:
    """A change between two neighbouring points of a series beyond the A/A band."""

    first: str  # the last commit before the step
    last: str  # the first commit after it
    change: float  # later / earlier median
    band: float
    kind: str  # "regression" or "improvement"

    def text(self) -> str:
        return (
            f"{self.kind} of {self.change - 1:+.0%} (A/A band {self.band:.0%}) "
            f"between {self.first[:7]} and {self.last[:7]}"
        )


def run_to_run(points: list[Point]) -> float | None:
    """The run-to-run spread of a series: at each commit measured more than once, how far
    a run's median lies from that commit's median (relative), the farthest of them; None
    when no commit was measured twice."""
    by_commit: dict[str, list[float]] = {}
    for point in points:
        by_commit.setdefault(point.commit, []).append(point.effect.median)
    spreads = [
        max(abs(v / statistics.median(values) - 1) for v in values)
        for values in by_commit.values()
        if len(values) > 1 and statistics.median(values)
    ]
    return max(spreads) if spreads else None


def _merged(points: list[Point]) -> list[Point]:
    """One point per commit, in order of first appearance: a commit measured several
    times stands at the run whose median is that commit's median (the middle run)."""
    grouped: dict[str, list[Point]] = {}
    for point in points:
        grouped.setdefault(point.commit, []).append(point)
    merged = []
    for group in grouped.values():
        ordered = sorted(group, key=lambda p: p.effect.median)
        merged.append(ordered[(len(ordered) - 1) // 2])
    return merged


def steps(points: list[Point], comparison: str) -> list[Step]:
    """The steps of a series larger than its band (see the module's docstring).
    `comparison` is the criterion's ('>' / '>=': higher is better; '<' / '<=': lower)."""
    higher_is_better = comparison.startswith(">")
    spread = run_to_run(points)
    found: list[Step] = []
    merged = _merged(points)
    for before, after in zip(merged, merged[1:], strict=False):
        if not before.effect.median:
            continue
        change = after.effect.median / before.effect.median
        if before.effect.method == "exact" and after.effect.method == "exact":
            band = EXACT_BAND
        elif spread is not None:
            band = max(spread, EXACT_BAND)
        else:
            band = max(_band(before.control), _band(after.control))
        if abs(change - 1) <= band:
            continue
        better = (change > 1) == higher_is_better
        found.append(
            Step(before.commit, after.commit, change, band, "improvement" if better else "regression")
        )
    return found
