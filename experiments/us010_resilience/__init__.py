"""US-010: resilience under production faults, for our client and its peers in turn.
Not a speed story: its notebook has a shape of its own and its criteria are absolute."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import LOCAL
from rediscluster_opt.lab.parameters import Parameters, members, positive_integer
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.story import TARGET, Cell, Own, Story, StoryRun

from . import charts
from .resilience import (
    CLIENT_KILL_ERRORS,
    ELSEWHERE_ERRORS,
    FAULTS,
    FLOOD_RSS_MB,
    GRACEFUL_ERRORS,
    RECOVERY_CRASH_S,
    RECOVERY_HANG_S,
    RESEND_WRONG_REPLIES,
    WRONG_VALUES,
    FaultPlan,
    fault_metric,
    run_resilience,
)

NEEDS_LOCAL = f"needs {LOCAL}: its faults signal, pause and restart server processes on this machine"
FLOOD_LIMIT_MB = 400  # the write flood's criterion: peak RSS growth below this

FAULT_NAMES = Own(
    "faults",
    {"default": tuple(FAULTS), "quick": ("sigstop_replica", "kill_storm")},
    lambda name, value: members(name, value, FAULTS, allow_empty=True),
    "the faults run (lab/instruments/resilience.py FAULTS)",
)
FAULT_REPEATS = Own(
    "fault_repeats", {"default": 2, "quick": 1, "full": 5}, positive_integer, "runs of each fault per client"
)
FLOOD_COMMANDS = Own(
    "flood_commands",
    {"default": 10_000, "quick": 2_000},
    positive_integer,
    "concurrent 100 KB SETs in the write flood",
)


def run(story: Story, params: Parameters) -> StoryRun:
    """Faults need servers this machine runs (signals, DEBUG, restarts), so against any
    other target it records no trial and skips every criterion, saying why."""
    local = engine.local_cluster(params)
    if local is None:
        print(f"{story.id} skipped: {NEEDS_LOCAL}; the target is {params.target.describe()}")
    plan = FaultPlan(
        faults=tuple(params.own[FAULT_NAMES.name]),
        repeats=params.own[FAULT_REPEATS.name],
        flood_commands=params.own[FLOOD_COMMANDS.name],
        smoke=params.smoke,
    )
    record, path = run_resilience(params, story.id, plan, main_cluster=local, skipped=NEEDS_LOCAL)
    return StoryRun(story, record, path)


def _ours(
    text: str,
    figure: str,
    comparison: str,
    threshold: float,
    fault: str,
    fmt: str = "{:.0f}",
    headline: bool = False,
    unit: str = "count",
) -> Criterion:
    """A figure of our client over the runs of `fault` (a median with its spread, or an
    exact total for "zero" targets); no A/A control: the faults are the treatment and the
    targets are absolute. `fault` says what a run needs to measure it."""
    return Criterion(
        text,
        fault_metric("ours", figure),
        comparison,
        threshold,
        TARGET,
        fmt=fmt,
        headline=headline,
        needs=fault,
        unit=unit,
    )


def fault_table(run: StoryRun) -> Any:
    """Per fault and client, over the repeats: successes, errors by type, wrong values,
    time to serve again after the promotion or restart, peak RSS growth."""
    import pandas as pd

    rows = []
    for trial in run.record["trials"]:
        if trial.get("status") != "ok":
            rows.append({"fault": trial["scenario"], "client": trial["config"], "ok": "failed"})
            continue
        errors = Counter(trial["errors_victim"]) + Counter(trial["errors_elsewhere"])
        rows.append(
            {
                "fault": FAULTS[trial["fault"]].title,
                "client": trial["client"],
                "repeat": trial["repeat"],
                "ok": trial["ops"],
                "errors by type": ", ".join(f"{k} {v}" for k, v in errors.most_common()) or "none",
                "wrong": trial["wrong"],
                "served again after (s)": _round(trial.get("recovery_s")),
                "peak RSS growth (MB)": round(trial["peak_rss_growth_mb"]),
                **({"flood errors": trial["flood_errors"]} if "flood_errors" in trial else {}),
                **_single_execution_columns(trial),
            }
        )
    return pd.DataFrame(rows)


def _single_execution_columns(trial: dict[str, Any]) -> dict[str, Any]:
    """The kill storm's state-dependent writes: replies unlike a single execution's, and
    how many unknown outcomes were read back."""
    if "single_execution" not in trial:
        return {}
    found = trial["single_execution"]
    if found is None:
        return {"unlike a single execution": "not run (no generic command in this adapter)"}
    return {
        "unlike a single execution": found["problems"],
        "outcomes read back": found["counts"].get("resolved", 0),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    """One timeline figure per fault, every client side by side."""
    paths = []
    for name in dict.fromkeys(t["scenario"] for t in run.record["trials"]):
        trials = [t for t in run.record["trials"] if t["scenario"] == name]
        title = f"{run.story.id}: {FAULTS[name].title}"
        if FAULTS[name].checked_load:
            fig = charts.fault_timelines(trials, title=title)
        else:  # no checked load to draw: the client's memory is what this fault tests
            fig = charts.rss_over_time(trials, FLOOD_LIMIT_MB, title=title)
        paths.append(nb.save_figure(fig, params, run, f"fault_{name}"))
    return paths


def paragraph(run: StoryRun) -> str:
    """The verdict paragraph, from the data."""
    rows = run.acceptance
    p = run.record["parameters"]
    lines = [
        f"**{run.story.id} verdict** ({len(p['faults'])} faults x {p['fault_repeats']} runs, "
        f"{' vs '.join(c['label'] for c in run.record['configurations'])}, "
        f"{p['command_timeout_s']:g} s command timeout)."
    ]
    return " ".join([*lines, *nb.state_lines(rows, figures=True), *nb.skipped_lines(rows)])


def cells(story: Story) -> list[Cell]:
    """The common frame (parameters, run, criteria, verdict) with fault timelines where the
    speed stories have ratio plots and profiles."""
    from rediscluster_opt.lab.presentation import builder

    return [
        *builder.opening(story),
        ("code", builder.run_cell(story)),
        *builder.verdict_cells(),
        ("markdown",
         "## How it ran\n\n`faults` picks the faults, `fault_repeats` how often each runs per client and "
         "`flood_commands` the size of the write flood. Every (fault, client) runs in its own process; "
         "the cluster is brought back to health between runs. As opened (`rerun = False`) nothing is "
         "measured: the latest saved run is drawn, the committed reference's until you measure your own. "
         "The criteria are absolute targets on our client, over the runs; the peers' figures are "
         "recorded beside them, measured in the same run."),
        ("markdown", "## Faults, clients and outcomes"),
        ("code", 'nb.story_table(run, "faults")'),
        ("markdown",
         "## Timelines\n\nSuccesses per second (from 250 ms bins) on the node the fault hits (solid) "
         "and on another node (dotted); errors per bin below. The fault is at 0 s; dashed: the "
         "replica's promotion, or the restart."),
        ("code", "figures = nb.story_figures(run, params)"),
        *builder.closing(),
    ]  # fmt: skip


STORY = Story(
    "US-010", "resilience", "Resilience under production faults",
    """Production clusters crash, hang, fail over, kill connections and get flooded. Each fault
runs under a checked SET/GET load (every caller reads back its own values, so a reply handed to
the wrong caller is caught) for our optimized client, redis-py and valkey-glide in turn, each
in its own process and with the same 1 s command timeout. Failover faults run on a cluster
with one replica per master (1.5 s node timeout) that the story starts on ports 7500-7505. Each
fault gets a timeline (successes and errors per 250 ms, the fault and the promotion marked) and a
table: errors by type, wrong values, time to serve again after the promotion, peak RSS growth.
Not a speed story: the criteria are absolute, judged on our client. A client that never serves
the failed slots again within its run is censored: its time to serve again is only known to
exceed the time the run had left (shown as "> t"), and it fails a time target.""",
    run,
    criteria=(
        # The headline: an exact total over every run, so it counts at any number of runs;
        # the recovery times are medians, whose verdicts count from 5 runs (MODE=full).
        _ours("wrong values, every fault (zero)", WRONG_VALUES, "<=", 0, "any fault", headline=True),
        _ours("served again after a crashed master's promotion, s", RECOVERY_CRASH_S, "<=", 1.0,
              "fault kill_replica", "{:.2f}", unit="s"),
        _ours("served again after a hung master's promotion, s", RECOVERY_HANG_S, "<=", 1.0,
              "fault sigstop_replica", "{:.2f}", unit="s"),
        _ours("errors under CLIENT KILL x5 (zero)", CLIENT_KILL_ERRORS, "<=", 0, "fault client_kill"),
        _ours("errors during a graceful failover (zero)", GRACEFUL_ERRORS, "<=", 0, "fault graceful_failover"),
        _ours("peak RSS growth under the write flood, MB", FLOOD_RSS_MB, "<", FLOOD_LIMIT_MB, "fault write_flood",
              unit="MB"),
        _ours("errors of untouched masters' callers during failovers (zero)", ELSEWHERE_ERRORS, "<=", 0,
              "a failover fault"),
        _ours("replies unlike a single execution's under a CLIENT KILL storm (zero)", RESEND_WRONG_REPLIES,
              "<=", 0, "fault kill_storm"),
    ),
    recorded=tuple(
        Recorded(f"{peer}: {what}", fault_metric(peer, figure), fmt, needs=f"{fault}, in a run beyond smoke")
        for peer in ("redis-py", "valkey-glide")
        for what, figure, fmt, fault in (
            ("wrong values", WRONG_VALUES, "{:.0f}", "any fault"),
            ("served again after a crashed master's promotion, s", RECOVERY_CRASH_S, "{:.2f}", "fault kill_replica"),
            ("served again after a hung master's promotion, s", RECOVERY_HANG_S, "{:.2f}", "fault sigstop_replica"),
            ("errors under CLIENT KILL x5", CLIENT_KILL_ERRORS, "{:.0f}", "fault client_kill"),
            ("replies unlike a single execution's under a CLIENT KILL storm", RESEND_WRONG_REPLIES, "{:.0f}",
             "fault kill_storm"),
            ("peak RSS growth under the write flood, MB", FLOOD_RSS_MB, "{:.0f}", "fault write_flood"),
        )
    ),
    own=(FAULT_NAMES, FAULT_REPEATS, FLOOD_COMMANDS),
    figures=figures,
    tables={"faults": fault_table},
    cells=cells,
    paragraph=paragraph,
    claims={"Under failovers, kills and migrations it returns no wrong value": fault_metric("ours", WRONG_VALUES)},
    exclusive=True,  # it stops, kills and fails over the cluster's nodes
)  # fmt: skip
