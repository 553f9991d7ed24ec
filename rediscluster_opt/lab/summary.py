"""results/summary.md of a run, and the tables it shares with the rendered documents:
the machine header, a line per story with its lead verdict, every criterion with its
interval and A/A control, then the final REST and client-benchmark tables with their
spread. `RUN_FILE` (run.json) is how a run folder says how the run went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..bench.environment import staleness_text
from ..results.tables import table
from .blocks import STALENESS
from .criteria import VERDICT_COLUMNS, verdict_rows
from .history import first_record, measured_commits

__all__ = ["RUN_FILE", "client_table", "clock", "read_run", "rest_table", "write_summary_md"]

RUN_FILE = "run.json"  # in a run folder: its mode, kind, wall time, each story's duration, failures


def read_run(run_dir: Path) -> dict[str, Any]:
    """The run.json of a run folder (or of the reference), {} where there is none."""
    path = run_dir / RUN_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def clock(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 42 min': a duration as a reader takes it in."""
    minutes, rest = divmod(int(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def _num(value: Any, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _spread(row: dict[str, Any], key: str, fmt: str = "{:,.0f}") -> str:
    """'median [min–max]' from a summary row's flattened statistics."""
    median, low, high = (row.get(f"{key}_{s}") for s in ("median", "min", "max"))
    if median is None:
        return "-"
    return f"{fmt.format(median)} [{fmt.format(low)}–{fmt.format(high)}]"


def _header(summaries: list[dict[str, Any]], run_dir: Path) -> list[str]:
    """The machine, versions and commit the run was measured on, from its records."""
    found = (first_record(s) for s in summaries)
    record = next((r for r in found if r is not None and "environment" in r), None)
    if record is None:
        return []
    env = record["environment"]
    packages = ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items() if v)
    pinning = env.get("pinning") or {}
    pin = (
        f"client on CPU {pinning['client_cpus']}, servers on {pinning['server_cpus']}"
        if pinning.get("enabled")
        else f"none ({pinning.get('reason', 'not recorded')})"
    )
    git = env.get("git") or {}
    return [
        f"- run: `{run_dir.name}`, records created from {record['created']}",
        f"- commit: `{git.get('commit')}`{' (with uncommitted changes)' if git.get('dirty') else ''}",
        f"- machine: {env.get('cpu_model') or '?'}, {env.get('cpu_count')} CPUs; pinning: {pin}",
        f"- Python {env.get('python')} ({env.get('implementation')}), redis-server {_server_version(env)}",
        f"- packages: {packages}",
        "",
    ]


def _run_lines(run_dir: Path, summaries: list[dict[str, Any]]) -> list[str]:
    """How the run went (run.json): its kind, wall time, stories run and failed, and how
    far the code it measured is from the checked-out code (a block `rcopt docs` renews)."""
    run = read_run(run_dir)
    if not run:
        return []
    failed = run.get("failed") or {}
    commits = measured_commits(summaries)
    lines = [
        f"- {run['kind']} run: {len(run.get('durations') or {})} stories in {clock(run['wall_s'])}"
        + (" at one commit" if len(commits) == 1 else f" at {len(commits)} commits"),
        *(
            f"- **{story} failed** ({why}): its results are missing or partial"
            for story, why in failed.items()
        ),
        *(
            f"- **{story} measured on a busy machine**: {state}, after a re-run"
            for story, state in (run.get("contaminated") or {}).items()
            if story not in failed
        ),
    ]
    if run.get("reruns"):
        lines.append("- run again because other work took the CPU: " + ", ".join(run["reruns"]))
    if len(commits) == 1:
        lines += [f"- {STALENESS.wrap(staleness_text(commits[0], behind=False))}"]
    return lines


def _server_version(env: dict[str, Any]) -> str | None:
    """The version the measured servers answered with (INFO), else the local binary's."""
    return env.get("cluster_redis_version") or env.get("standalone_redis_version") or env.get("redis_server")


def _measured_at(summary: dict[str, Any]) -> tuple[str | None, str | None]:
    """(commit, created) of a story's first record; Nones when it is missing."""
    record = first_record(summary)
    if record is None:
        return None, None
    git = record.get("environment", {}).get("git") or {}
    return git.get("commit"), record.get("created")


def rest_table(rows: list[dict[str, Any]]) -> str:
    def ms(us: float | None) -> str:
        return _num(us and us / 1000, "{:.1f}")

    def req(row: dict[str, Any], mode: str) -> str:
        median, low, high = (row.get(f"{mode}_req_s{end}") for end in ("", "_min", "_max"))
        if median is None or low is None:
            return _num(median)
        return f"{median:,.0f} [{low:,.0f}–{high:,.0f}]"

    header = ["scenario", "backend", "standalone req/s", "cluster req/s", "cluster p50 ms", "cluster p99 ms"]
    body = [
        [r["scenario"], r["config"], req(r, "standalone"), req(r, "cluster"), ms(r["cluster_p50_us"]),
         ms(r["cluster_p99_us"]), _num(r["drop"], "{:.1%}")]
        for r in rows
    ]  # fmt: skip
    return table([*header, "standalone->cluster drop"], body, markdown=True)


def client_table(rows: list[dict[str, Any]]) -> str:
    header = ["client", "mode", "C", "ops/s", "p50 µs", "p99 µs", "CPU µs/op"]
    body = [
        [r["config"], r["mode"], str(r["concurrency"]), _spread(r, "ops_per_s"), _spread(r, "p50_us"),
         _spread(r, "p99_us"), _spread(r, "cpu_us_per_op", "{:.1f}")]
        for r in rows
    ]  # fmt: skip
    return table(header, body, markdown=True)


def write_summary_md(run_dir: Path, target: Path, mode: str) -> Path:
    """summary.md: the machine header, a line per story with its lead verdict, every
    criterion with its interval and A/A control, then the final tables with min–max."""
    summaries = [json.loads(p.read_text()) for p in sorted((run_dir / "figures").glob("*.summary.json"))]
    figures_dir = run_dir / "figures"
    base = (
        figures_dir.relative_to(target.parent) if figures_dir.is_relative_to(target.parent) else figures_dir
    )
    header = _header(summaries, run_dir)
    lines = [
        f"# Experiment summary ({mode} mode, {run_dir.name})",
        "",
        *header[:-1],
        *_run_lines(run_dir, summaries),
    ]
    lines += [""] if header else []
    lines += [
        "A verdict is a paired ratio (one pair per interleaved repeat): the median pair with its "
        "order-statistic interval, whose coverage is exact for its number of pairs (the "
        "`interval` column), judged against the threshold widened by the A/A control (the same "
        "configuration run as two arms): **met** when the whole interval clears it, **NOT met** "
        "when the whole interval misses it, **inconclusive** otherwise; **indicative** in place "
        "of met or NOT met when the interval covers less than 90 % (too few pairs to count). "
        "A met criterion that the `before` figure (the before configuration, or its A/A twin) "
        "meets too is **holds before too**, and a latency criterion that only restates throughput "
        "is shown but not counted: neither tells before from after.",
        "",
    ]
    for s in summaries:
        figures = ", ".join(f"[{f.split('_', 1)[1].rsplit('.', 1)[0]}]({base / f})" for f in s["figures"])
        lines.append(f"- **{s['story']} {s['title']}**: {s['headline']}. Figures: {figures}")
    measured_at = {s["story"]: _measured_at(s) for s in summaries}
    first = next(iter(measured_at.values()), (None, None))[0]
    for s in summaries:
        lines += ["", f"## {s['story']} {s['title']}", ""]
        commit, created = measured_at[s["story"]]
        if commit != first:  # a story published on its own (--only), at another commit
            lines += [f"Measured separately: commit `{commit}`, {created}.", ""]
        lines += [s.get("paragraph", ""), ""]
        if s["acceptance"]:
            rows = verdict_rows(s["acceptance"])
            lines.append(table(list(VERDICT_COLUMNS), [list(r.values()) for r in rows], markdown=True))
        if s.get("recorded"):
            lines += ["", "Recorded (no threshold):", ""]
            lines += [f"- {r['item']}: {r['measured']}" for r in s["recorded"]]
        lines += ["", "Records: " + ", ".join(f"`{p}`" for p in s["records"])]
    # The closing tables come from the summary that carries the client benchmark's table
    # (a story's `summary` hook adds it: the final comparison's).
    final = next((s for s in summaries if s.get("client_table")), None)
    if final:
        lines += [
            "",
            f"## REST benchmark ({final['story']}), median [min–max] over the repeats",
            "",
            rest_table(final.get("rest_table", [])),
        ]
        lines += ["", f"## Client benchmark ({final['story']}), median [min–max]", ""]
        lines.append(client_table(final["client_table"]))
    target.write_text("\n".join(lines) + "\n")
    return target
