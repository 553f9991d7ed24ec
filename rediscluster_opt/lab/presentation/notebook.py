"""What the story notebooks call: run a story (or reload its latest record), then tables,
figures and a verdict paragraph from its records. Figures are drawn from DataFrames built
from the saved records and written as PNG into the notebook's `figures_dir`."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from ...bench.adapters import PEERS
from ...results import repo_relative
from ...workspace import adopt_notebook_root, locate
from ..criteria import headline, tally
from ..engine import headline_level, load_story_run, run_story
from ..parameters import (
    NotebookParameterError,
    Parameters,
    check_parameters,
    check_story_parameters,
    parameter_names,
)
from ..registry import story as find_story
from ..story import AA, StoryRun
from . import plots
from .frame import cprofile_frame, line_profile_frame, summary_frame, trials_frame

__all__ = [
    "acceptance_table",
    "categories",
    "check_parameters",
    "cprofile_table",
    "flamegraphs",
    "headline_text",
    "latency_figure",
    "line_figure",
    "line_table",
    "flame_file",
    "micro_table",
    "record_paths",
    "profile_figure",
    "recorded_table",
    "rest_table",
    "roles_table",
    "run",
    "save_figure",
    "skipped_lines",
    "story_figures",
    "story_parameters",
    "story_table",
    "summary_table",
    "throughput_figure",
    "verdict_figure",
    "verdict_paragraph",
    "workload_text",
    "write_summary",
]

SHOWN_DPI = 100  # figures show in a notebook at matplotlib's screen size; files keep plots.DPI
_CATEGORY = {
    "cumulative before": "before",
    "baseline": "before",
    "cumulative after": "after",
    "optimized": "after",
    AA: "A/A",
    "REST A/A": "A/A",
    "isolated": "isolated",
    "calibration": "calibration",
}


def story_parameters(story_id: str, namespace: dict[str, Any]) -> Parameters:
    """The story's parameters, validated, from the notebook's namespace (its parameters
    cell, after papermill's injected values): each parameter the story lists must be
    there; the others keep their defaults, which the story does not read. The kernel
    finds its workspace (and so the story modules) first."""
    adopt_notebook_root()
    story = find_story(story_id)
    names = parameter_names(story)
    missing = [name for name in names if name not in namespace]
    if missing:
        raise NotebookParameterError(
            f"the parameters cell of {story_id} lacks {', '.join(missing)}; regenerate the notebook"
        )
    return check_story_parameters(story, {name: namespace[name] for name in names})


def run(story_id: str, params: Parameters) -> StoryRun:
    """Measure the story, or with rerun=False reload its latest saved record."""
    return run_story(story_id, params) if params.rerun else load_story_run(story_id, params)


def categories(run: StoryRun) -> dict[str, str]:
    """config label -> colour role; the first role named for a label wins (a config that
    is both "cumulative before" and "baseline" is drawn as before)."""
    out: dict[str, str] = {}
    for role, label in run.roles.items():
        out.setdefault(label, _CATEGORY.get(role, "variant"))
    for label in PEERS:
        out.setdefault(label, "peer")
    return out


def workload_text(run: StoryRun, record: dict[str, Any] | None = None) -> str:
    """Modes, concurrency, keys, value size and trial length of the run's (or `record`'s)
    benchmark, for figure titles."""
    p = (record or run.record)["parameters"]
    work = p.get("workload", {})
    keys = work.get("key_count", 0)
    keys_text = f"{keys / 1000:g}k" if keys >= 1000 else str(keys)
    levels = ",".join(str(c) for c in p["concurrency"])
    return (
        f"{'/'.join(p['modes'])}, C={levels}, {keys_text} keys, {work.get('value_size')} B, "
        f"{p['duration_s']:g} s x {p['repeats']}"
    )


def save_figure(fig: Any, params: Parameters, run: StoryRun, name: str) -> Path:
    """Save a figure as `<story>_<name>.png` among the run's figures, and show it."""
    folder = params.figures_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.story.id}_{name}.png"
    fig.savefig(path, dpi=plots.DPI)
    _show(fig, path)
    return path


def _show(fig: Any, path: Path) -> None:
    """In a notebook, show the PNG just saved and close the figure: left open, the inline
    backend would draw it a second time at the cell's end (measured: that second drawing
    was about half of a figure cell's time). Shown at the inline backend's size."""
    import matplotlib.pyplot as plt
    from IPython import get_ipython
    from IPython.display import Image, display

    if get_ipython() is not None:
        display(Image(filename=str(path), width=round(fig.get_figwidth() * SHOWN_DPI)))
    plt.close(fig)


def roles_table(run: StoryRun):
    """Which configuration plays which role (the A/A twin is "before" run twice)."""
    import pandas as pd

    configs = {c["label"]: c for c in run.record["configurations"]}
    rows = []
    for role, label in run.roles.items():
        config = configs.get(label, {})
        stages = config.get("stages") or {}
        rows.append(
            {
                "role": role,
                "configuration": label,
                "client": config.get("client", "ours"),
                "stages": ", ".join(f"{k}={v}" for k, v in stages.items()),
            }
        )
    return pd.DataFrame(rows)


def summary_table(run: StoryRun):
    """Median ops/s with min/max, p50/p99 and CPU per op, per configuration and cell."""
    return summary_frame(trials_frame([run.record]))


def throughput_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.bars_by_role(
        trials_frame([run.record]),
        categories(run),
        title=f"{run.story.id}: throughput and CPU per op ({workload_text(run)})",
    )
    return save_figure(fig, params, run, "throughput")


def latency_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.latency_percentiles(
        trials_frame([run.record]), title=f"{run.story.id}: latency ({workload_text(run)})"
    )
    return save_figure(fig, params, run, "latency")


def verdict_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.verdicts(
        run.acceptance, title=f"{run.story.id}: verdicts with intervals ({workload_text(run)})"
    )
    return save_figure(fig, params, run, "verdicts")


def _profile_ops(run: StoryRun) -> dict[tuple[str, int], float]:
    return {
        (t["config"], t["repeat"]): t["ops"]
        for t in (run.profile_record or {}).get("trials", [])
        if (t.get("profile") or {}).get("kind") == "cprofile" and t.get("ops")
    }


def cprofile_table(run: StoryRun, top: int = 10):
    """Top cost centres by own time per profiled configuration, with ns per operation."""
    frame = cprofile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return frame
    ops = _profile_ops(run)
    frame["own_ns_per_op"] = [
        r.own_s / ops[(r.config, r.repeat)] * 1e9 if ops.get((r.config, r.repeat)) else None
        for r in frame.itertuples()
    ]
    columns = [
        "config",
        "repeat",
        "rank",
        "qualname",
        "location",
        "calls",
        "own_ns_per_op",
        "own_share",
        "cum_s",
    ]
    return frame[frame["rank"] <= top][[c for c in columns if c in frame]]


def profile_figure(run: StoryRun, params: Parameters) -> Path:
    frame = cprofile_frame([run.profile_record]) if run.profile_record else None
    import pandas as pd

    fig = plots.profile_costs(
        frame if frame is not None else pd.DataFrame(),
        _profile_ops(run),
        title=f"{run.story.id}: cProfile own time per operation",
    )
    return save_figure(fig, params, run, "profile")


def line_table(run: StoryRun, top: int = 15):
    """The most expensive lines of the functions this story touches (line_profiler)."""
    frame = line_profile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return frame
    frame = frame[frame["hits"] > 0].sort_values("time_s", ascending=False).head(top)
    return frame[["function", "line", "hits", "time_s", "per_hit_ns", "share", "code"]]


def line_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.line_profile_bars(
        line_profile_frame([run.profile_record]) if run.profile_record else _empty(),
        title=f"{run.story.id}: top lines (line_profiler)",
    )
    return save_figure(fig, params, run, "lines")


def _empty():
    import pandas as pd

    return pd.DataFrame()


def flame_file(story_id: str, config: str) -> str:
    """The name a configuration's flame graph has beside a story's figures."""
    safe = "".join(ch if ch.isalnum() else "-" for ch in config).strip("-")
    return f"{story_id}_flame_{safe}.svg"


def record_paths(run: StoryRun) -> list[str]:
    """The story's record files, repo-relative."""
    return [repo_relative(p) for p in (run.path, *(found.path for found in run.linked.values()))]


def flamegraphs(run: StoryRun, params: Parameters) -> list[Path]:
    """The py-spy flame graphs (SVG) of the profiled configurations, copied next to the
    figures; prints why where py-spy could not attach."""
    out = []
    folder = params.figures_path
    for trial in (run.profile_record or {}).get("trials", []):
        profile = trial.get("profile") or {}
        if profile.get("kind") != "pyspy":
            continue
        source = locate(profile["flamegraph"]) if profile.get("flamegraph") else None
        if source is None or not source.exists():
            print(f"no flame graph for {trial['config']}: {profile.get('error', 'file missing')}")
            continue
        target = folder / flame_file(run.story.id, trial["config"])
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        out.append(target)
    if not out and params.flamegraphs:
        print("no flame graphs in this run (py-spy missing or could not attach; see the messages above)")
    return out


def micro_table(run: StoryRun, name: str = "wall"):
    """Micro-benchmark rows: 'wall' (pyperf ns), 'instructions' (cachegrind), 'hot_path'
    (allocation and lock checks) or 'allocations' (US-003)."""
    import pandas as pd

    data = run.extra.get("micro", {}).get(name)
    if name == "instructions":
        if data and data.get("skipped"):
            print(f"instruction counts skipped: {data['skipped']}")
        data = (data or {}).get("rows")
    frame = pd.DataFrame(data or [])
    if name == "wall" and not frame.empty:
        frame["ns_median"] = [r["median"] if r else None for r in frame["ns"]]
        frame["ns_interval"] = [f"[{r['low']:.0f}–{r['high']:.0f}]" if r else "" for r in frame["ns"]]
        frame = frame.drop(columns=["ns", "values_ns"])
    return frame


def rest_table(run: StoryRun):
    """REST scenarios: req/s standalone and cluster, cluster p50/p99 and the drop."""
    import pandas as pd

    if run.rest_record is None:
        return None
    return pd.DataFrame(run.rest_record["summary"]["rest"])


def story_figures(run: StoryRun, params: Parameters) -> list[Path]:
    """The figures only this story has (its module's `figures`)."""
    return run.story.figures(run, params) if run.story.figures is not None else []


def story_table(run: StoryRun, name: str) -> Any:
    """One of the story's own tables (its module's `tables`)."""
    return run.story.tables[name](run)


def acceptance_table(run: StoryRun):
    """Each criterion: threshold, source, effect with interval, the A/A control beside it,
    how the interval was made (method, n, coverage), and the verdict (met / NOT met /
    inconclusive / indicative / not measured / skipped)."""
    import pandas as pd

    rows = [
        {
            "criterion": r["criterion"],
            "source": r["source"],
            "needs": f"{r['comparison']} {r['threshold']:g}",
            "measured": r["measured"],
            "interval": r.get("interval", ""),
            "A/A": r["aa"],
            "verdict": r["verdict"],
        }
        for r in run.acceptance
    ]
    columns = ["criterion", "source", "needs", "measured", "interval", "A/A", "verdict"]
    return pd.DataFrame(rows, columns=columns)


def recorded_table(run: StoryRun):
    """Figures the story records without a threshold (never counted as met)."""
    import pandas as pd

    return pd.DataFrame(run.recorded, columns=["item", "measured"])


def _lead_text(run: StoryRun) -> str:
    lead = headline(run.acceptance)
    if lead is None:
        aa = run.measured.get("throughput.aa")
        base = run.measured.get("ops.cluster")
        if base is None:
            return "no headline figure"
        return f"baseline cluster ops/s {base.text('{:,.0f}')}" + (f", A/A {aa.text()}" if aa else "")
    if lead["verdict"] == "skipped":
        return f"{lead['criterion']}: {lead['measured']}"
    text = f"{lead['criterion']}: {lead['verdict']}, {lead['measured']}"
    return text + (f" vs A/A {lead['aa']}" if lead["aa"] else "")


def headline_text(run: StoryRun) -> str:
    """One line for results/summary.md: the lead verdict with its interval, then the tally."""
    counts = tally(run.acceptance)
    parts = [f"{n} {state}" for state, n in counts.items() if n]
    return f"{_lead_text(run)} ({', '.join(parts) or 'no criteria'})"


def verdict_paragraph(run: StoryRun) -> str:
    """A paragraph generated from the data: what was compared, the lead verdict against its
    noise floor, which metric was steadier, and how every criterion came out."""
    if run.story.paragraph is not None:
        return run.story.paragraph(run)
    rows = run.acceptance
    counts = tally(rows)
    level = run.record["parameters"]["concurrency"]
    lines = [
        f"**{run.story.id} verdict** ({workload_text(run)}; verdicts read at C={headline_level(level)})."
    ]
    lines.append(f"Lead: {_lead_text(run)}.")
    lead = headline(rows)
    if lead is not None and sum(1 for r in rows if r["headline"] and r["control"]) >= 2:
        lines.append(
            f"The lead is the {lead['metric'].split('.')[0]} verdict: its A/A control was the narrowest "
            f"(relative width) on this machine, so it is the steadier metric here."
        )
    lines.append(", ".join(f"{n} {state}" for state, n in counts.items()) + ".")
    for state in ("NOT met", "inconclusive", "indicative", "not measured"):
        named = [r["criterion"] for r in rows if r["verdict"] == state]
        if named:
            lines.append(f"{state}: " + "; ".join(named) + ".")
    return " ".join([*lines, *skipped_lines(rows)])


def skipped_lines(rows: list[dict[str, Any]]) -> list[str]:
    """One line per reason a criterion was skipped on this target."""
    reasons: dict[str, int] = Counter(r["needs"] for r in rows if r["verdict"] == "skipped")
    return [f"Skipped ({n}): {why}." for why, n in reasons.items()]


def write_summary(run: StoryRun, params: Parameters, figures: list[Path]) -> Path:
    """The story's headline, verdicts, recorded figures and files, for summary.md."""
    folder = params.figures_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run.story.id}.summary.json"
    data = {
        "story": run.story.id,
        "title": run.story.title,
        "headline": headline_text(run),
        "paragraph": verdict_paragraph(run),
        "tally": tally(run.acceptance),
        "acceptance": run.acceptance,
        "recorded": run.recorded,
        "figures": [Path(f).name for f in figures],
        "records": record_paths(run),
    }
    if run.rest_record is not None:
        data["rest_table"] = run.rest_record["summary"]["rest"]
    if run.story.summary is not None:
        data |= run.story.summary(run)
    path.write_text(json.dumps(data, indent=1, default=str))
    return Path(repo_relative(path))  # shown in the notebook: no machine path
