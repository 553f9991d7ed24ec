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
from ...results.stability import machine_state, stability_lines
from ...workspace import adopt_notebook_root, locate
from ..criteria import HOLDS_BEFORE, VERDICT_COLUMNS, headline, tally, verdict_rows
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
    "table",
    "throughput_figure",
    "verdict_figures",
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
    for label in PEERS:  # a peer has a colour of its own, by name (plots.ROLE_COLOURS)
        out.setdefault(label, label if label in plots.ROLE_COLOURS else "peer")
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
    empty = plots.empty_panels(fig)
    _show(fig, path)
    if empty:
        print(f"note: {path.name}: {', '.join(repr(e) for e in empty)} {plots.NO_DATA}")
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


def table(frame: Any, empty: str = "nothing to show") -> Any:
    """A frame (or a list of row dicts) as a notebook shows it: no index, no text cut
    short, numbers with units' precision (thousands separators from 1,000, three
    significant digits below), "–" for a missing value; `empty` said in words when there
    are no rows (rather than pandas' "Empty DataFrame")."""
    from IPython.display import Markdown

    if isinstance(frame, list):  # a story table may give plain rows (dicts)
        import pandas as pd

        frame = pd.DataFrame(frame) if frame else None
    if frame is None or frame.empty:
        return Markdown(f"*{empty}*")
    return (
        frame.style.hide(axis="index")
        .format(_number, na_rep="–")
        .set_properties(**{"text-align": "left", "white-space": "pre-wrap"})
    )


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int) or abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def roles_table(run: StoryRun) -> Any:
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
    return table(pd.DataFrame(rows), "no roles recorded")


def summary_table(run: StoryRun) -> Any:
    """Median ops/s with min/max, p50/p99 and CPU per op, per configuration and cell."""
    return table(summary_frame(trials_frame([run.record])), "no trials in this record")


def throughput_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.bars_by_role(
        trials_frame([run.record]),
        categories(run),
        title=f"{run.story.id}: throughput and CPU per op ({workload_text(run)})",
    )
    return save_figure(fig, params, run, "throughput")


def latency_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.latency_percentiles(
        trials_frame([run.record]), categories(run), title=f"{run.story.id}: latency ({workload_text(run)})"
    )
    return save_figure(fig, params, run, "latency")


def verdict_figures(run: StoryRun, params: Parameters) -> list[Path]:
    """The verdict plot, when a criterion was measured (none for a story that only records
    figures, or a target that measured none of them: the table says why)."""
    if not any(row["effect"] for row in run.acceptance):
        return []
    fig = plots.verdicts(
        run.acceptance, title=f"{run.story.id}: verdicts with intervals ({workload_text(run)})"
    )
    return [save_figure(fig, params, run, "verdicts")]


def _profile_ops(run: StoryRun) -> dict[tuple[str, int], float]:
    return {
        (t["config"], t["repeat"]): t["ops"]
        for t in (run.profile_record or {}).get("trials", [])
        if (t.get("profile") or {}).get("kind") == "cprofile" and t.get("ops")
    }


def cprofile_table(run: StoryRun, top: int = 15) -> Any:
    """The `top` functions by own time per operation (cProfile, mean over the profiled
    repeats), one column per profiled configuration, in ns per operation."""
    frame = cprofile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return table(None, "no cProfile runs in this record")
    ops = _profile_ops(run)
    frame["ns"] = [
        r.own_s / ops[(r.config, r.repeat)] * 1e9 if ops.get((r.config, r.repeat)) else None
        for r in frame.itertuples()
    ]
    name = "qualname" if "qualname" in frame and frame["qualname"].notna().all() else "function"
    per_op = frame.groupby([name, "config"], sort=False)["ns"].mean().unstack("config")
    leaders = per_op.max(axis=1).nlargest(top).index
    shown = per_op.loc[leaders].reset_index().rename(columns={name: "function (own ns per op)"})
    return table(shown)


def profile_figure(run: StoryRun, params: Parameters) -> Path:
    frame = cprofile_frame([run.profile_record]) if run.profile_record else None
    import pandas as pd

    fig = plots.profile_costs(
        frame if frame is not None else pd.DataFrame(),
        _profile_ops(run),
        categories(run),
        title=f"{run.story.id}: cProfile own time per operation",
    )
    return save_figure(fig, params, run, "profile")


def line_table(run: StoryRun, top: int = 15) -> Any:
    """The most expensive lines of the functions this story touches (line_profiler)."""
    frame = line_profile_frame([run.profile_record]) if run.profile_record else None
    if frame is None or frame.empty:
        return table(None, "no line_profiler run in this record")
    frame = frame[frame["hits"] > 0].sort_values("time_s", ascending=False).head(top)
    columns = {"time_s": "time, s", "per_hit_ns": "ns per hit", "share": "share of its function"}
    return table(frame[["function", "line", "hits", *columns, "code"]].rename(columns=columns))


def line_figure(run: StoryRun, params: Parameters) -> Path:
    fig = plots.line_profile_bars(
        line_profile_frame([run.profile_record]) if run.profile_record else _empty(),
        title=f"{run.story.id}: top lines (line_profiler)",
    )
    return save_figure(fig, params, run, "lines")


def _empty() -> Any:
    import pandas as pd

    return pd.DataFrame()


def flame_file(story_id: str, config: str) -> str:
    """The name a configuration's py-spy SVG has beside a story's figures, for records made
    before the stacks were folded into them (newer ones are drawn as PNG by `flamegraphs`)."""
    return f"{story_id}_flame_{_safe(config)}.svg"


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-")


def record_paths(run: StoryRun) -> list[str]:
    """The story's record files, repo-relative."""
    return [repo_relative(p) for p in (run.path, *(found.path for found in run.linked.values()))]


def flamegraphs(run: StoryRun, params: Parameters) -> list[Path]:
    """A flame graph per profiled configuration, drawn from the sampled stacks its record
    keeps (the event loop's and runpy's frames folded away), saved and shown beside the
    figures; an older record's py-spy SVG is copied and shown as it is. Prints why where
    py-spy could not sample."""
    from IPython.display import SVG, display

    out = []
    for trial in (run.profile_record or {}).get("trials", []):
        profile = trial.get("profile") or {}
        if profile.get("kind") != "pyspy":
            continue
        if profile.get("stacks"):
            sampled = f"py-spy, {profile['samples']:,} samples at {profile['rate_hz']} Hz"
            title = (
                f"{run.story.id}: where {trial['config']} spends its time ({trial['mode']}, "
                f"C={trial['concurrency']}; {sampled}; runpy, event loop and importlib frames folded)"
            )
            fig = plots.flame_graph(profile["stacks"], title=title)
            out.append(save_figure(fig, params, run, f"flame_{_safe(trial['config'])}"))
            continue
        source = locate(profile["flamegraph"]) if profile.get("flamegraph") else None
        if source is None or not source.exists():
            print(f"no flame graph for {trial['config']}: {profile.get('error', 'file missing')}")
            continue
        target = params.figures_path / flame_file(run.story.id, trial["config"])
        if source.resolve() != target.resolve():
            shutil.copyfile(source, target)
        display(SVG(filename=str(target)))
        out.append(target)
    if not out and params.flamegraphs:
        print("no flame graphs in this run (py-spy missing or could not attach; see the messages above)")
    return out


def micro_table(run: StoryRun, name: str = "wall") -> Any:
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
    return table(frame, f"no {name.replace('_', ' ')} micro-benchmark in this record")


def rest_table(run: StoryRun) -> Any:
    """REST scenarios: req/s standalone and cluster, cluster p50/p99 and the drop."""
    import pandas as pd

    if run.rest_record is None:
        return table(None, "no REST run in this record")
    return table(pd.DataFrame(run.rest_record["summary"]["rest"]))


def story_figures(run: StoryRun, params: Parameters) -> list[Path]:
    """The figures only this story has (its module's `figures`)."""
    return run.story.figures(run, params) if run.story.figures is not None else []


def story_table(run: StoryRun, name: str) -> Any:
    """One of the story's own tables (its module's `tables`)."""
    return table(run.story.tables[name](run), f"no {name.replace('_', ' ')} data in this record")


def acceptance_table(run: StoryRun) -> Any:
    """Each criterion: threshold, source, effect with interval, how the interval was made
    (method, n, coverage), the A/A control and the "before" figure beside it, and the
    verdict (lab.criteria.STATES)."""
    import pandas as pd

    rows = verdict_rows(run.acceptance)
    frame = pd.DataFrame(rows, columns=list(VERDICT_COLUMNS))
    return table(frame, "this story declares no criteria: it records figures (below)")


def recorded_table(run: StoryRun) -> Any:
    """Figures the story records without a threshold (never counted as met)."""
    import pandas as pd

    return table(
        pd.DataFrame(run.recorded, columns=["item", "measured"]), "nothing recorded beyond the criteria"
    )


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
    level = run.record["parameters"]["concurrency"]
    lines = [
        f"**{run.story.id} verdict** ({workload_text(run)}; verdicts read at C={headline_level(level)})."
    ]
    lines.append(f"Lead: {_lead_text(run)}.")
    lead = headline(rows)
    if lead is not None and lead["effect"] and lead["threshold"] == 1:
        lines.append(_meaning(lead))
    if lead is not None and sum(1 for r in rows if r["headline"] and r["control"]) >= 2:
        lines.append(
            f"The lead is the {lead['metric'].split('.')[0]} verdict: its A/A control was the narrowest "
            f"(relative width) on this machine, so it is the steadier metric here."
        )
    return " ".join([*lines, *state_lines(rows), *skipped_lines(rows), *warning_lines(run)])


def _meaning(row: dict[str, Any]) -> str:
    """What a ratio against 1 says in words: the change in percent with its interval, and
    the A/A twin's beside it (how much the same configuration varied against itself)."""

    def change(median: float, low: float, high: float) -> str:
        return f"{median - 1:+.1%} ({low - 1:+.1%} to {high - 1:+.1%})"

    effect, control = row["effect"], row["control"]
    text = f"That is a change of {change(effect['median'], effect['low'], effect['high'])}"
    if control:
        text += f" where the A/A twin varied by {change(control['median'], control['low'], control['high'])}"
    better = "higher" if row["comparison"] in (">", ">=") else "lower"
    return f"{text}; {better} is better."


def state_lines(rows: list[dict[str, Any]], figures: bool = False) -> list[str]:
    """The tally, then every criterion not met by name (with its figure when `figures`),
    then those not counted because they restate another figure."""

    def named(row: dict[str, Any]) -> str:
        text = f"{row['criterion']} ({row['measured']})" if figures else row["criterion"]
        if row["verdict"] == "equivalent":  # the answer "it does not matter" says how little
            text += f", no effect beyond {row['equivalence']}"
        return text

    lines = [", ".join(f"{n} {state}" for state, n in tally(rows).items() if n) + "."]
    for state in ("NOT met", "equivalent", "inconclusive", "indicative", HOLDS_BEFORE, "not measured"):
        found = [named(r) for r in rows if r["verdict"] == state and not r.get("restates")]
        if found:
            lines.append(f"{state}: " + "; ".join(found) + ".")
    restated = [f"{r['criterion']} ({r['verdict']})" for r in rows if r.get("restates")]
    if restated:
        lines.append("Not counted, restating another figure: " + "; ".join(restated) + ".")
    return lines


def run_records(run: StoryRun) -> list[dict[str, Any]]:
    """The story's record and every record it links to (profiles, REST...)."""
    return [run.record, *(linked.record for linked in run.linked.values())]


def warning_lines(run: StoryRun) -> list[str]:
    """Whose machine the run had (quiet, or how many trials stayed contaminated) and any
    position bias its A/A controls show (results.stability)."""
    return stability_lines(run.acceptance, run_records(run))


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
    state = machine_state(run_records(run))
    data["machine"] = {
        "state": state.text(),
        "quiet": state.quiet,
        "trials": state.trials,
        "contaminated": state.contaminated,
        "rerun": state.rerun,
        "speed_spread": state.speed_spread,
    }
    if run.rest_record is not None:
        data["rest_table"] = run.rest_record["summary"]["rest"]
    if run.story.summary is not None:
        data |= run.story.summary(run)
    path.write_text(json.dumps(data, indent=1, default=str))
    return Path(repo_relative(path))  # shown in the notebook: no machine path
