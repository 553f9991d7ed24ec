"""The history of the headline figures (`rcopt history`): entries written by every
reference and `make experiments` run, an import of a published run (the reference that
predates the history), and the text and plot of each headline criterion across commits
with its regressions and improvements. The data rules are `results.history`'s."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..results import load_record
from ..results.history import SCHEMA, Point, load_entries, machine_of, series, steps, write_entry
from ..workspace import locate
from .criteria import headline

__all__ = [
    "entry_from_summaries",
    "first_record",
    "format_history",
    "history_entry",
    "measured_commits",
    "summaries_in",
    "import_run",
    "plot_history",
]


def _row(row: dict[str, Any], lead: bool) -> dict[str, Any]:
    """A criterion row of a story summary, kept to what the history draws."""
    return {
        "criterion": row["criterion"],
        "comparison": row["comparison"],
        "threshold": row["threshold"],
        "effect": row.get("effect"),
        "control": row.get("control"),
        "verdict": row["verdict"],
        "lead": lead,
    }


def _exact(row: dict[str, Any]) -> bool:
    return (row.get("effect") or {}).get("method") == "exact"


def entry_from_summaries(
    summaries: list[dict[str, Any]],
    environment: dict[str, Any],
    *,
    kind: str,
    mode: str,
    created: str,
    wall_s: float | None = None,
    durations: dict[str, float] | None = None,
    failed: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One history entry from story summaries (`figures/*.summary.json`): every headline
    criterion of every story (the lead one, the engine's rule, marked), every exact count
    (a deterministic figure moves only with the code, so each is tracked), and whether the
    story's machine was quiet."""
    stories: dict[str, Any] = {}
    for summary in summaries:
        rows = summary.get("acceptance") or []
        lead = headline(rows)
        story: dict[str, Any] = {
            "title": summary.get("title", ""),
            "metrics": {r["metric"]: _row(r, r is lead) for r in rows if r.get("headline") or _exact(r)},
        }
        if summary.get("machine"):
            story["machine"] = summary["machine"]
        if durations and summary["story"] in durations:
            story["duration_s"] = durations[summary["story"]]
        stories[summary["story"]] = story
    git = environment.get("git") or {}
    return {
        "schema": SCHEMA,
        "kind": kind,
        "mode": mode,
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "created": created,
        "machine": machine_of(environment),
        "python": environment.get("python"),
        "wall_s": wall_s,
        "failed": dict(failed or {}),
        "stories": stories,
    }


def summaries_in(folder: Path) -> list[dict[str, Any]]:
    """The story summaries of a run folder or a published reference (`figures/`); a
    ValueError names a file that is not one."""
    paths = sorted((folder / "figures").glob("*.summary.json"))
    summaries = []
    for path in paths:
        try:
            summary = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}: not a story summary: not JSON ({exc})") from None
        if not isinstance(summary, dict) or not isinstance(summary.get("records"), list):
            raise ValueError(f"{path}: not a story summary: no list of records")
        summaries.append(summary)
    return summaries


def first_record(summary: dict[str, Any], *, validate: bool = False) -> dict[str, Any] | None:
    """The first of a story summary's records that exists here (the story's own record
    comes first): what says which commit and machine the story ran on."""
    for path in summary["records"]:
        if locate(path).exists():
            return load_record(path, validate=validate)
    return None


def measured_commits(summaries: list[dict[str, Any]]) -> list[str]:
    """The commits the stories were measured at, in the summaries' order, once each."""
    out: list[str] = []
    for summary in summaries:
        record = first_record(summary) or {}
        commit = (record.get("environment", {}).get("git") or {}).get("commit")
        if commit and commit not in out:
            out.append(commit)
    return out


def history_entry(run_dir: Path, run: dict[str, Any]) -> dict[str, Any] | None:
    """The entry of a run just made (its `run.json` facts in `run`); None when no story
    saved a record (nothing to say which commit and machine it ran on)."""
    summaries = summaries_in(run_dir)
    record = next((r for s in summaries if (r := first_record(s)) is not None), None)
    if record is None:
        return None
    return entry_from_summaries(
        summaries, record["environment"], kind=run["kind"], mode=run["mode"], created=record["created"],
        wall_s=run.get("wall_s"), durations=run.get("durations"), failed=run.get("failed"),
    )  # fmt: skip


def import_run(folder: Path, history: Path, *, kind: str = "imported", mode: str = "default") -> list[Path]:
    """Entries for a published run (e.g. the reference before the history existed): one
    per commit and machine its stories were measured at, since a composite run's stories
    each belong at their own commit."""
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no run at {folder}: give a run folder (results/runs/<stamp>) or a reference"
        )
    summaries = summaries_in(folder)
    if not summaries:
        raise ValueError(f"{folder}: not a run folder or a published reference (no figures/*.summary.json)")
    groups: dict[tuple[Any, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for summary in summaries:
        record = first_record(summary, validate=True)  # a folder the user named: checked
        if record is None:
            continue
        env = record["environment"]
        key = ((env.get("git") or {}).get("commit"), str(env.get("cpu_model")))
        groups.setdefault(key, []).append((summary, record))
    written = []
    for members in groups.values():
        created = min(record["created"] for _, record in members)
        environment = members[0][1]["environment"]
        entry = entry_from_summaries(
            [s for s, _ in members], environment, kind=kind, mode=mode, created=created
        )
        written.append(write_entry(entry, history))
    return written


def _point_text(point: Point) -> str:
    control = f", A/A {point.control.text()}" if point.control else ""
    when = f"{point.commit[:7]} {point.created[:10]} {point.kind:<11}"
    return f"  {when} {point.effect.text()}{control} {point.verdict}"


def _criteria(entries: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(story, metric) -> its latest criterion row (text, comparison, threshold)."""
    return {
        (s, m): row
        for e in entries
        for s, found in e["stories"].items()
        for m, row in found["metrics"].items()
    }


def format_history(folder: Path, story: str | None = None) -> str:
    """Each headline criterion per machine and mode, its figure at every entry, then the
    steps beyond the A/A band."""
    entries = load_entries(folder)
    if not entries:
        return f"history: no entries in {folder} (a reference or `make experiments` run adds one)"
    criteria = _criteria(entries)
    lines = [f"{len(entries)} entries in {folder}"]
    every = series(entries)
    if story and not any(key[2].startswith(story) for key in every):
        known = ", ".join(sorted({key[2] for key in every}))
        raise ValueError(f"no history entry has a story starting with {story!r} (there are: {known})")
    for (machine, mode, story_id, metric), points in sorted(every.items(), key=lambda i: i[0][2:]):
        if story and not story_id.startswith(story):
            continue
        row = criteria[(story_id, metric)]
        lines += [
            "",
            f"{story_id} {row['criterion']} ({row['comparison']} {row['threshold']:g}); {machine}, {mode}",
        ]
        lines += [_point_text(p) for p in points]
        found = steps(points, row["comparison"])
        lines += [f"  -> {s.text()}" for s in found] or (
            ["  no step beyond the A/A band"] if len(points) > 1 else []
        )
    return "\n".join(lines)


def plot_history(folder: Path, target: Path, story: str | None = None) -> Path:
    """One panel per headline criterion: its median and interval at each commit, one line
    per machine and mode (never joined), steps beyond the A/A band marked."""
    import matplotlib

    matplotlib.use("Agg")
    from .presentation.plots import VERDICT_COLOURS, figure

    entries = load_entries(folder)
    criteria = _criteria(entries)
    chosen = {k: v for k, v in series(entries).items() if not story or k[2].startswith(story)}
    panels = sorted({(k[2], k[3]) for k in chosen})
    if not panels:
        raise SystemExit(f"history: nothing to plot in {folder}" + (f" for {story}" if story else ""))
    columns = min(3, len(panels))
    fig, axes = figure((len(panels) + columns - 1) // columns, columns)
    for ax in axes.flat[len(panels) :]:
        ax.set_visible(False)
    for ax, (story_id, metric) in zip(axes.flat, panels, strict=False):
        for (machine, mode, s, m), points in chosen.items():
            if (s, m) != (story_id, metric):
                continue
            x = [f"{p.commit[:7]}\n{p.created[5:10]}" for p in points]
            medians = [p.effect.median for p in points]
            errors = [
                [p.effect.median - p.effect.low for p in points],
                [p.effect.high - p.effect.median for p in points],
            ]
            ax.errorbar(x, medians, yerr=errors, marker="o", capsize=3, label=f"{machine} ({mode})")
            for step in steps(points, criteria[(s, m)]["comparison"]):
                at = next(i for i, p in enumerate(points) if p.commit == step.last)
                colour = VERDICT_COLOURS["met" if step.kind == "improvement" else "NOT met"]
                ax.annotate(step.kind, (at, medians[at]), color=colour, fontsize=7)
        ax.set_title(f"{story_id}: {metric}", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6)
    fig.suptitle("Headline figures across commits: median and interval per entry")
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target)
    return target
