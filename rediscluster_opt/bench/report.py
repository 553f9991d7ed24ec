"""Plain-text tables of a result record, for terminals and README snippets."""

from __future__ import annotations

from typing import Any

__all__ = ["format_table"]


def _fmt(spread: dict[str, Any], scale: float = 1.0, digits: int = 0) -> str:
    if spread.get("median") is None:
        return "-"
    median, low, high = (spread[k] * scale for k in ("median", "min", "max"))
    return f"{median:,.{digits}f} [{low:,.{digits}f}-{high:,.{digits}f}]"


def format_table(record: dict[str, Any], markdown: bool = False) -> str:
    summary = record["summary"]
    scenarios = any(row.get("scenario") for row in summary["rows"])
    unit = "req/s" if scenarios else "ops/s"
    header = ["config", "mode", "C", f"{unit} median [min-max]", "p50 µs", "p99 µs", "CPU µs/op"]
    if scenarios:
        header.insert(2, "scenario")
    rows = [
        [
            row["config"],
            row["mode"],
            *([row.get("scenario") or ""] if scenarios else []),
            str(row["concurrency"]),
            _fmt(row["ops_per_s"]),
            f"{row['p50_us']['median']:,.0f}",
            f"{row['p99_us']['median']:,.0f}",
            f"{row['client_cpu_us_per_op']['median']:.1f}" if row["client_cpu_us_per_op"]["median"] else "-",
        ]
        for row in summary["rows"]
    ]
    ratio_rows = [
        [r["config"], f"vs {r['reference']}", r["mode"], r.get("scenario") or "", str(r["concurrency"]),
         _fmt(r["ratio"], digits=2)]
        for r in summary["ratios"]
    ] + [
        [r["config"], "cluster/standalone", "", r.get("scenario") or "", str(r["concurrency"]),
         _fmt(r["cluster_over_standalone"], digits=3)]
        for r in summary.get("mode_ratios", [])
    ]  # fmt: skip
    out = [_table(header, rows, markdown)]
    if ratio_rows:
        out.append(_table(["config", "ratio", "mode", "scenario", "C", "median [min-max], paired per repeat"],
                          ratio_rows, markdown))  # fmt: skip
    for note in record.get("notes", []):
        out.append(f"note: {note}")
    if summary["failed_trials"]:
        out.append(f"failed or invalid trials: {summary['failed_trials']}")
    return "\n\n".join(out)


def _table(header: list[str], rows: list[list[str]], markdown: bool) -> str:
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def compact_table(record: dict[str, Any]) -> str:
    """Markdown: one row per config and mode, median ops/s (or req/s) per concurrency
    (and scenario), then the paired cluster/standalone ratios. Used for the README."""
    rows = record["summary"]["rows"]
    columns = sorted({(r.get("scenario") or "", r["concurrency"]) for r in rows})
    cells = {(r["config"], r["mode"], r.get("scenario") or "", r["concurrency"]): r for r in rows}
    keys = list(dict.fromkeys((r["config"], r["mode"]) for r in rows))
    header = ["client", "mode", *[f"{s} C={c}".strip() for s, c in columns]]
    body = [
        [config, mode, *[_fmt(cells[(config, mode, s, c)]["ops_per_s"]).split(" ")[0]
                         if (config, mode, s, c) in cells else "-" for s, c in columns]]
        for config, mode in keys
    ]  # fmt: skip
    out = _table(header, body, markdown=True)
    ratios = record["summary"].get("mode_ratios", [])
    if ratios:
        ratio_columns = sorted({(r.get("scenario") or "", r["concurrency"]) for r in ratios})
        by = {
            (r["config"], r.get("scenario") or "", r["concurrency"]): r["cluster_over_standalone"]
            for r in ratios
        }
        labels = list(dict.fromkeys(r["config"] for r in ratios))
        out += "\n\ncluster / standalone throughput, paired per repeat (median [min-max]):\n\n" + _table(
            ["client", *[f"{s} C={c}".strip() for s, c in ratio_columns]],
            [[label, *[_fmt(by[(label, s, c)], digits=2) for s, c in ratio_columns]] for label in labels],
            markdown=True,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """python -m rediscluster_opt.bench.report RECORD.json [--compact]"""
    import sys

    from ..lab.records import load_record

    args = sys.argv[1:] if argv is None else argv
    record = load_record(args[0])
    print(compact_table(record) if "--compact" in args else format_table(record, markdown=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
