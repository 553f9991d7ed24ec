"""Plain-text tables of a result record, for terminals and README snippets
(`rcopt report RECORD [--compact]`)."""

from __future__ import annotations

from typing import Any

from ..results.stats import Interval
from ..results.tables import table

__all__ = ["compact_table", "format_table"]


def _fmt(spread: dict[str, Any], digits: int = 0) -> str:
    if spread.get("median") is None:
        return "-"
    median, low, high = (spread[k] for k in ("median", "min", "max"))
    return f"{median:,.{digits}f} [{low:,.{digits}f}-{high:,.{digits}f}]"


def _interval(data: dict[str, Any] | None, digits: int = 2) -> str:
    """A paired ratio with its interval and how it was made, e.g.
    '1.30 [1.22–1.37] (order statistic, n=6, coverage 96.9%)'."""
    if not data:
        return "-"
    if "low" not in data:  # schema 1 records kept min/max only
        return _fmt(data, digits)
    found = Interval(**data)
    return f"{found.text('{:.' + str(digits) + 'f}')} ({found.label})"


def format_table(record: dict[str, Any], markdown: bool = False) -> str:
    summary = record["summary"]
    scenarios = any(row.get("scenario") for row in summary["rows"])
    unit = "req/s" if scenarios else "ops/s"
    header = ["config", "mode", "C", f"{unit} median [min-max]", "p50 µs", "p99 µs", "CPU µs/op"]
    if scenarios:
        header.insert(2, "scenario")
    rows = []
    for row in summary["rows"]:
        cpu = row.get("cpu_us_per_op") or row.get("client_cpu_us_per_op") or {}
        rows.append(
            [
                row["config"],
                row["mode"],
                *([row.get("scenario") or ""] if scenarios else []),
                str(row["concurrency"]),
                _fmt(row["ops_per_s"]),
                f"{row['p50_us']['median']:,.0f}",
                f"{row['p99_us']['median']:,.0f}",
                f"{cpu['median']:.1f}" if cpu.get("median") else "-",
            ]
        )
    ratio_rows = [
        [r["config"], f"vs {r['reference']}", r["mode"], r.get("scenario") or "", str(r["concurrency"]),
         _interval(r["ratio"]), _interval(r.get("cpu_ratio"))]
        for r in summary["ratios"]
    ] + [
        [r["config"], "cluster/standalone", "", r.get("scenario") or "", str(r["concurrency"]),
         _interval(r["cluster_over_standalone"], 3), ""]
        for r in summary.get("mode_ratios", [])
    ]  # fmt: skip
    out = [table(header, rows, markdown)]
    if ratio_rows:
        ratio_header = ["config", "ratio", "mode", "scenario", "C", "throughput, paired per repeat", "CPU/op"]
        out.append(table(ratio_header, ratio_rows, markdown))
    for note in record.get("notes", []):
        out.append(f"note: {note}")
    pinning = record.get("environment", {}).get("pinning")
    if pinning:
        out.append(f"pinning: {pinning}")
    if summary["failed_trials"]:
        out.append(f"failed or invalid trials: {summary['failed_trials']}")
    return "\n\n".join(out)


def compact_table(record: dict[str, Any]) -> str:
    """Markdown: one row per config and mode, median ops/s (or req/s) per concurrency
    (and scenario), then the paired cluster/standalone ratios. Used for the README."""
    rows = record["summary"]["rows"]
    columns = sorted({(r.get("scenario") or "", r["concurrency"]) for r in rows})
    cells = {(r["config"], r["mode"], r.get("scenario") or "", r["concurrency"]): r for r in rows}
    keys = list(dict.fromkeys((r["config"], r["mode"]) for r in rows))
    header = ["client", "mode", *[f"{s} C={c}".strip() for s, c in columns]]

    def cell(config: str, mode: str, scenario: str, level: int) -> str:
        found = cells.get((config, mode, scenario, level))
        return _fmt(found["ops_per_s"]) if found else "-"

    body = [[config, mode, *[cell(config, mode, s, c) for s, c in columns]] for config, mode in keys]
    out = table(header, body, markdown=True)
    ratios = record["summary"].get("mode_ratios", [])
    if ratios:
        ratio_columns = sorted({(r.get("scenario") or "", r["concurrency"]) for r in ratios})
        by = {
            (r["config"], r.get("scenario") or "", r["concurrency"]): r["cluster_over_standalone"]
            for r in ratios
        }
        labels = list(dict.fromkeys(r["config"] for r in ratios))
        out += "\n\ncluster / standalone throughput, paired per repeat:\n\n" + table(
            ["client", *[f"{s} C={c}".strip() for s, c in ratio_columns]],
            [[label, *[_interval(by[(label, s, c)]) for s, c in ratio_columns]] for label in labels],
            markdown=True,
        )
    return out
