"""What the story notebooks call: run a story, then tables and figures from its records.
Figures are drawn from DataFrames built from the saved records, and written as PNG into
the notebook's `figures_dir`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from . import plots
from .frame import cprofile_frame, line_profile_frame, summary_frame, trials_frame
from .parameters import Parameters, check_parameters
from .stories import STORIES, StoryRun, run_story

__all__ = [
    "acceptance_table", "check_parameters", "cprofile_table", "headline", "latency_figure",
    "line_figure", "line_table", "micro_table", "profile_figure", "rest_table", "run_story",
    "summary_table", "throughput_figure", "write_summary",
]  # fmt: skip


def _save(ax: Any, params: Parameters, run: StoryRun, name: str) -> Path:
    folder = Path(params.figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.story.id}_{name}.png"
    ax.figure.savefig(path, dpi=90)
    return path


def summary_table(run: StoryRun):
    """Median ops/s with min/max, p50/p99 and CPU per op, per configuration."""
    return summary_frame(trials_frame([run.record]))


def throughput_figure(run: StoryRun, params: Parameters) -> Path:
    trials = trials_frame([run.record])
    hue = "concurrency" if trials["concurrency"].nunique() > 1 else "mode"
    ax = plots.throughput(trials, by="config", hue=hue, title=f"{run.story.id}: throughput ({hue})")
    return _save(ax, params, run, "throughput")


def latency_figure(run: StoryRun, params: Parameters) -> Path:
    trials = trials_frame([run.record])
    ax = plots.latency_percentiles(trials, by="config", title=f"{run.story.id}: latency percentiles")
    return _save(ax, params, run, "latency")


def cprofile_table(run: StoryRun, top: int = 10):
    """Top cost centres by own time per profiled configuration."""
    frame = cprofile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return frame
    columns = ["config", "rank", "function", "location", "calls", "own_s", "own_share", "cum_s"]
    return frame[frame["rank"] <= top][columns]


def profile_figure(run: StoryRun, params: Parameters) -> Path:
    ax = plots.profile_shares(
        cprofile_frame([run.profile_record]), title=f"{run.story.id}: cProfile own time"
    )
    return _save(ax, params, run, "profile")


def line_table(run: StoryRun, top: int = 15):
    """The most expensive lines of the functions this story touches (line_profiler)."""
    frame = line_profile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return frame
    frame = frame[frame["hits"] > 0].sort_values("time_s", ascending=False).head(top)
    return frame[["function", "line", "hits", "time_s", "per_hit_ns", "share", "code"]]


def line_figure(run: StoryRun, params: Parameters) -> Path:
    ax = plots.line_profile_bars(line_profile_frame([run.profile_record]),
                                 title=f"{run.story.id}: top lines (line_profiler)")  # fmt: skip
    return _save(ax, params, run, "lines")


def micro_table(run: StoryRun, name: str):
    import pandas as pd

    return pd.DataFrame(run.record["extra"]["micro"][name])


def rest_table(run: StoryRun):
    """REST scenarios: req/s standalone and cluster, cluster p50/p99 and the drop."""
    import pandas as pd

    if run.rest_record is None:
        return None
    return pd.DataFrame(run.rest_record["summary"]["rest"])


def acceptance_table(run: StoryRun):
    """Each criterion with its measured figure and met / not met (never hard-coded)."""
    import pandas as pd

    frame = pd.DataFrame(run.acceptance, columns=["criterion", "measured", "met"])
    frame["result"] = frame["met"].map({True: "met", False: "NOT met"})
    return frame[["criterion", "measured", "result"]]


def headline(run: StoryRun) -> str:
    """One line for results/summary.md."""
    rows = run.acceptance
    met = sum(1 for r in rows if r["met"])
    leads = [
        r for r in rows if "after / before" in r["criterion"] or "optimized / baseline" in r["criterion"]
    ]
    lead = (leads or rows or [None])[0]
    figure = f"{lead['criterion']}: {lead['measured']}" if lead else "no criteria"
    return f"{figure} ({met}/{len(rows)} criteria met)"


def write_summary(run: StoryRun, params: Parameters, figures: list[Path]) -> Path:
    """The story's headline, criteria and files, for the main job's summary.md."""
    folder = Path(params.figures_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.story.id}.summary.json"
    data = {
        "story": run.story.id,
        "title": STORIES[run.story.id].title,
        "headline": headline(run),
        "acceptance": run.acceptance,
        "figures": [str(Path(f).name) for f in figures],
        "records": [str(p) for p in (run.path, run.profile_path, run.rest_path) if p],
    }
    if run.rest_record is not None:
        data["rest_table"] = run.rest_record["summary"]["rest"]
    if run.story.id == "US-008":
        data["client_table"] = [
            {**row, "ops_per_s": row["ops_per_s"]["median"], "p50_us": row["p50_us"]["median"],
             "p99_us": row["p99_us"]["median"]}
            for row in run.record["summary"]["rows"]
        ]  # fmt: skip
    path.write_text(json.dumps(data, indent=1, default=str))
    return path
