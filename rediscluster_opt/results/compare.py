"""Compare two runs (two commits, two machines, two days), the `asv compare` habit.

Absolute figures from different runs carry the machine's drift, so what is compared first
are the ratios each run measured side by side: for every configuration against its
record's reference configuration, the per-repeat paired ratios of run A and of run B,
and B's median ratio over A's with a two-sample bootstrap interval. Absolute medians are
listed after them, labelled as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .records import load_record
from .stats import Interval, ratio_of_medians, verdict
from .summary import METRICS, metric_of, pairs
from .tables import table

__all__ = ["compare_runs", "format_comparison", "load_run"]

COMPARED = ("ops_per_s", "cpu_us_per_op")


def load_run(path: Path | str) -> dict[str, dict[str, Any]]:
    """experiment -> record, from a record file, a folder of records, or a run folder
    whose figures/*.summary.json name their records (results/runs/<stamp>)."""
    path = Path(path)
    if path.is_file():
        record = load_record(path, validate=True)
        return {record["experiment"]: record}
    if not path.is_dir():
        raise FileNotFoundError(f"no run at {path}: give a record file or a run folder")
    files = [*path.glob("*.json"), *path.glob("records/*.json")]
    for summary in path.glob("**/*.summary.json"):
        files += [Path(p) for p in json.loads(summary.read_text()).get("records", [])]
    records: dict[str, dict[str, Any]] = {}
    for file in sorted(set(files)):
        try:
            found = json.loads(Path(file).read_text())
        except (OSError, ValueError):
            continue  # not a record: a run's other files
        if isinstance(found, dict) and "experiment" in found and "trials" in found:
            record = load_record(file, validate=True)  # one that claims to be: it must be whole
            records[record["experiment"]] = record  # the newest of an experiment wins (sorted by stamp)
    if not records:
        raise FileNotFoundError(f"no result records found in {path}")
    return records


def _cells(record: dict[str, Any]) -> list[tuple[str, str | None, int]]:
    return list(dict.fromkeys((t["mode"], t.get("scenario"), t["concurrency"]) for t in record["trials"]))


def _state(change: Interval | None, metric: str) -> str:
    """better / worse / inconclusive for B against A (direction from the metric)."""
    if change is None:
        return "not measured"
    higher_is_better = METRICS[metric][1]
    if verdict(change, ">", 1.0) == "met":
        return "better" if higher_is_better else "worse"
    if verdict(change, "<", 1.0) == "met":
        return "worse" if higher_is_better else "better"
    return "inconclusive"


def _ratios(
    record: dict[str, Any], config: str, reference: str, metric: str, cell: tuple[Any, ...]
) -> list[float]:
    mode, scenario, level = cell
    return [
        a / b
        for a, b in pairs(record, config, reference, metric, mode=mode, scenario=scenario, concurrency=level)
    ]


def compare_runs(run_a: dict[str, dict[str, Any]], run_b: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per shared (experiment, configuration, cell, metric): within-run ratios of
    A and of B, and B / A of them with interval and state; then absolute medians."""
    rows = []
    for experiment in sorted(set(run_a) & set(run_b)):
        a, b = run_a[experiment], run_b[experiment]
        labels_a = [c["label"] for c in a["configurations"]]
        labels_b = {c["label"] for c in b["configurations"]}
        reference = labels_a[0]
        if reference not in labels_b:
            continue
        shared_cells = [c for c in _cells(a) if c in set(_cells(b))]
        for config in [label for label in labels_a if label in labels_b]:
            for cell in shared_cells:
                for metric in COMPARED:
                    base = dict(
                        experiment=experiment,
                        config=config,
                        mode=cell[0],
                        scenario=cell[1],
                        concurrency=cell[2],
                        metric=metric,
                    )
                    if config != reference:
                        ra, rb = (
                            _ratios(a, config, reference, metric, cell),
                            _ratios(b, config, reference, metric, cell),
                        )
                        change = ratio_of_medians(rb, ra)
                        rows.append(
                            {
                                **base,
                                "kind": f"ratio to {reference}",
                                "a": _median(ra),
                                "b": _median(rb),
                                "change": change,
                                "state": _state(change, metric),
                            }
                        )
                    va, vb = _values(a, config, metric, cell), _values(b, config, metric, cell)
                    change = ratio_of_medians(vb, va)
                    rows.append(
                        {
                            **base,
                            "kind": "absolute (across runs)",
                            "a": _median(va),
                            "b": _median(vb),
                            "change": change,
                            "state": _state(change, metric),
                        }
                    )
    return rows


def _values(record: dict[str, Any], config: str, metric: str, cell: tuple[Any, ...]) -> list[float]:
    mode, scenario, level = cell
    found = [
        metric_of(t, metric)
        for t in record["trials"]
        if t["config"] == config
        and t["mode"] == mode
        and t.get("scenario") == scenario
        and t["concurrency"] == level
    ]
    return [v for v in found if v is not None]


def _median(values: Iterable[float]) -> float | None:
    import statistics

    values = list(values)
    return statistics.median(values) if values else None


def format_comparison(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no shared experiments, configurations or cells to compare"
    header = ["experiment", "config", "cell", "metric", "kind", "A", "B", "B / A [95% interval]", "state"]
    lines = []
    for row in rows:
        cell = f"{row['mode']}{'/' + row['scenario'] if row['scenario'] else ''} C={row['concurrency']}"
        change = row["change"].text("{:.3f}") if row["change"] else "-"
        lines.append(
            [
                row["experiment"],
                row["config"],
                cell,
                row["metric"],
                row["kind"],
                _num(row["a"]),
                _num(row["b"]),
                change,
                row["state"],
            ]
        )
    out = [table(header, lines)]
    counts = {s: sum(1 for r in rows if r["state"] == s) for s in ("better", "worse", "inconclusive")}
    out.append("")
    out.append(
        f"{counts['better']} better, {counts['worse']} worse, {counts['inconclusive']} inconclusive "
        "(ratios measured within each run come first; absolute figures include machine drift)"
    )
    return "\n".join(out)


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3f}"
