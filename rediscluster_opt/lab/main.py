"""The main job (`make experiments`, `rcopt experiments`): run every story notebook with
papermill, in order, then write results/summary.md.

Executed notebooks and their figures go to results/runs/<UTC timestamp>/; records to
results/cluster/. `--reference` also publishes the run to results/reference/, the committed
reference: executed notebooks, figures, the story records (with links rewritten to their
new place) and a summary whose header names the machine, versions and commit.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from ..bench.environment import staleness_text
from ..results import repo_relative
from ..results.history import load_entries, machine_of, write_entry
from ..results.tables import table
from ..workspace import ENV, exported_root, locate, root
from .criteria import VERDICT_COLUMNS, verdict_rows
from .docs import STALENESS
from .history import first_record, history_entry, measured_commits
from .parameters import modes, parameter_names, story_values
from .presentation.builder import KERNELSPEC, path_of
from .registry import StoryNotFound, stories

__all__ = [
    "PAPERMILL_KERNEL",
    "RUN_FILE",
    "StoriesFailed",
    "modes",
    "publish_reference",
    "run_notebooks",
    "write_summary_md",
]

# The notebooks name the kernel `make lab` registers (rediscluster_opt); papermill runs
# them in the "python3" kernel of the environment it runs in, this one, which needs no
# registration (so CI and a fresh clone work without `make lab`).
PAPERMILL_KERNEL = "python3"
RUN_FILE = "run.json"  # in a run folder: its mode, kind, wall time, each story's duration, failures
# A story whose trials stayed contaminated (bench.machine: others took the CPU even after
# each trial's own re-runs) is run once more: a burst of other work seldom lasts a story.
STORY_RERUNS = 1


def run_notebooks(
    mode: str,
    *,
    notebooks: Path | None = None,
    results: Path | None = None,
    only: list[str] | None = None,
    extra: dict[str, Any] | None = None,
    kind: str = "experiments",
) -> Path:
    """Execute the notebooks (default `<root>/notebooks`, results to `<root>/results`);
    returns the run folder, and adds an entry of `kind` to `<results>/history/`. A failing
    notebook is named (its cell, and where the partial notebook is) and the others still
    run; then StoriesFailed (a SystemExit(1)) is raised."""
    import logging

    import papermill
    from papermill.exceptions import PapermillExecutionError

    # papermill echoes each cell's output (the trial progress lines) through logging.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO)

    if mode not in modes():
        raise SystemExit(f"experiments: unknown mode {mode!r}; choose one of: {', '.join(modes())}")
    notebooks = notebooks or root() / "notebooks"
    results = results or root() / "results"
    try:
        found = stories()
    except StoryNotFound as exc:
        raise SystemExit(f"experiments: {exc}") from None
    chosen = [s for s in found.values() if not only or any(s.id.startswith(o) for o in only)]
    if not chosen:
        raise SystemExit(f"experiments: no story matches {' '.join(only or [])}; stories: {', '.join(found)}")
    books = {story.id: path_of(story, notebooks) for story in chosen}
    missing = [path.name for path in books.values() if not path.exists()]
    if missing:
        raise SystemExit(
            f"experiments: no notebook {', '.join(missing)} in {notebooks}: the stories run from a "
            f"checkout of rediscluster_opt (run there, or set {ENV} to it); a new story's notebook "
            "comes from `python -m rediscluster_opt.lab.presentation.builder`"
        )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = results / "runs" / stamp
    figures = run_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    # Folders are handed over relative to the workspace root where they can be, so an
    # executed notebook does not carry this machine's paths.
    given = {
        **(extra or {}),
        "results_dir": repo_relative(results / "cluster"),
        "figures_dir": repo_relative(figures),
    }
    started, durations, failed = time.monotonic(), {}, {}
    reruns: dict[str, int] = {}  # stories run again because their machine was busy
    # A smoke run proves the pipeline, not figures; its 0.2 s windows are too short for
    # /proc's 10 ms ticks to tell a busy machine from rounding, so it runs each story once.
    story_reruns = 0 if modes()[mode].get("smoke") else STORY_RERUNS
    contaminated: dict[str, str] = {}  # stories still measured on a busy machine, with its state
    previous = previous_durations(results / "history", mode)
    for number, (story_id, book) in enumerate(books.items(), 1):
        elapsed = time.monotonic() - started
        left = estimate_left(durations, [s for s in books if s not in durations], previous)
        print(f"\n=== [{number}/{len(books)}] {book.name} (mode {mode}, elapsed {clock(elapsed)}"
              f"{f', about {clock(left)} left' if left is not None else ''})", flush=True)  # fmt: skip
        output = run_dir / book.name
        # Only the story's parameters: papermill would inject (and warn about) the rest.
        story = found[story_id]
        names = parameter_names(story)
        parameters = {**story_values(story, mode), **{k: v for k, v in given.items() if k in names}}
        begun = time.monotonic()
        for attempt in range(story_reruns + 1):
            try:
                with exported_root():  # the kernel resolves results_dir and figures_dir as we do
                    papermill.execute_notebook(
                        str(book),
                        str(output),
                        parameters=parameters,
                        cwd=str(notebooks),
                        log_output=True,
                        progress_bar=False,
                        kernel_name=PAPERMILL_KERNEL,
                    )
                _keep_kernelspec(output)
            except PapermillExecutionError as exc:
                # A failing story stops nothing else: the others run, the summary marks it.
                failed[story_id] = f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
                print(f"\nexperiments: {book.name} failed in {failed[story_id]}", file=sys.stderr)
                print(f"experiments: the partially executed notebook is {output}", file=sys.stderr)
                break
            state = machine_of_story(figures, story_id)
            if state is None or not state.get("contaminated"):  # quiet, or not known (a foreign target)
                contaminated.pop(story_id, None)
                break
            contaminated[story_id] = str(state.get("state"))
            if attempt < story_reruns:
                print(f"\nexperiments: {story_id} was measured on a busy machine ({state.get('state')}): "
                      "running it again", flush=True)  # fmt: skip
                reruns[story_id] = reruns.get(story_id, 0) + 1
        if kind == "reference" and story_id in contaminated:  # a reference describes a quiet machine
            failed[story_id] = f"contaminated after {story_reruns + 1} runs: {contaminated[story_id]}"
            print(f"\nexperiments: {story_id} stays {contaminated[story_id]}: not published", file=sys.stderr)
        durations[story_id] = time.monotonic() - begun
    run = {"mode": mode, "kind": kind, "wall_s": round(time.monotonic() - started, 1),
           "durations": {k: round(v, 1) for k, v in durations.items()}, "failed": failed,
           "reruns": reruns, "contaminated": contaminated}  # fmt: skip
    (run_dir / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
    write_summary_md(run_dir, results / "summary.md", mode)
    entry = history_entry(run_dir, run)
    if entry is not None:
        write_entry(entry, results / "history")
    if failed:
        raise StoriesFailed(run_dir, failed)
    return run_dir


def machine_of_story(figures: Path, story_id: str) -> dict[str, Any] | None:
    """The machine state a story's summary recorded (`quiet`, `state`), None without one."""
    path = figures / f"{story_id}.summary.json"
    if not path.exists():
        return None
    found = json.loads(path.read_text()).get("machine")
    return found if isinstance(found, dict) else None


class StoriesFailed(SystemExit):
    """Stories failed (the others ran, and the summary was written): exit status 1, with
    the run folder and what failed, for a caller that still publishes."""

    def __init__(self, run_dir: Path, failed: dict[str, str]) -> None:
        super().__init__(1)
        self.run_dir, self.failed = run_dir, failed


def clock(seconds: float) -> str:
    """'42 s', '3 min 05 s', '1 h 42 min': a duration as a reader takes it in."""
    minutes, rest = divmod(int(seconds), 60)
    if minutes >= 60:
        return f"{minutes // 60} h {minutes % 60:02d} min"
    return f"{minutes} min {rest:02d} s" if minutes else f"{rest} s"


def previous_durations(history: Path, mode: str) -> dict[str, float]:
    """Each story's duration in the latest history entry of this mode on this machine:
    what the progress line's estimate of what is left reads."""
    from ..bench.environment import environment

    machine = machine_of(environment())
    for entry in reversed(load_entries(history)):
        if entry["mode"] == mode and entry["machine"] == machine:
            return {k: v["duration_s"] for k, v in entry["stories"].items() if "duration_s" in v}
    return {}


def estimate_left(done: dict[str, float], waiting: list[str], previous: dict[str, float]) -> float | None:
    """Seconds left: each waiting story's duration last time, else the mean of this run's
    stories so far; None before anything is known."""
    mean = sum(done.values()) / len(done) if done else None
    guesses = [previous.get(story, mean) for story in waiting]
    if not waiting:
        return 0.0
    if any(g is None for g in guesses):
        return None
    return float(sum(g for g in guesses if g is not None))


def _keep_kernelspec(executed: Path) -> None:
    """papermill writes the kernel it ran into the executed notebook; give it back the one
    every notebook names, so a published notebook opens in the project's kernel."""
    import nbformat

    book = nbformat.read(executed, as_version=4)
    book.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.write(book, executed)


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
    path = run_dir / RUN_FILE
    if not path.exists():
        return []
    run = json.loads(path.read_text())
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


def _rest_table(rows: list[dict[str, Any]]) -> str:
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


def _client_table(rows: list[dict[str, Any]]) -> str:
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
            _rest_table(final.get("rest_table", [])),
        ]
        lines += ["", f"## Client benchmark ({final['story']}), median [min–max]", ""]
        lines.append(_client_table(final["client_table"]))
    target.write_text("\n".join(lines) + "\n")
    return target


def publish_reference(run_dir: Path, results: Path, mode: str, *, stories: list[str] | None = None) -> Path:
    """Copy a run to results/reference/ (committed): executed notebooks, figures, and the
    records its summaries name, with every link rewritten to the copy. Earlier reference
    notebooks, figures and records are replaced; other files there are kept. With
    `stories` (a partial run, `--only`), only those stories' files are replaced."""
    reference = results / "reference"
    for folder in ("figures", "notebooks", "records"):
        if stories is None and (reference / folder).exists():
            shutil.rmtree(reference / folder)
        (reference / folder).mkdir(parents=True, exist_ok=True)
        for story in stories or ():
            for old in (reference / folder).glob(f"*{story}[._-]*"):
                old.unlink()
    if stories is None and (run_dir / RUN_FILE).exists():  # a partial run does not describe the whole
        shutil.copy2(run_dir / RUN_FILE, reference / RUN_FILE)
    refused = tuple(refused_stories(run_dir))

    def published(path: Path) -> bool:
        return not path.name.startswith(refused) if refused else True

    for notebook in filter(published, run_dir.glob("*.ipynb")):
        copy = reference / "notebooks" / notebook.name
        shutil.copy2(notebook, copy)
        _relative_papermill_paths(copy)
    moved: dict[str, str] = {}
    for summary_path in filter(published, (run_dir / "figures").glob("*.summary.json")):
        for path in json.loads(summary_path.read_text())["records"]:
            source = locate(path)
            moved[path] = repo_relative(reference / "records" / source.name)
            shutil.copy2(source, reference / "records" / source.name)
    for figure in filter(published, (run_dir / "figures").iterdir()):
        if figure.is_file():
            shutil.copy2(figure, reference / "figures" / figure.name)
    for summary_path in (reference / "figures").glob("*.summary.json"):
        data = json.loads(summary_path.read_text())
        data["records"] = [moved.get(p, p) for p in data["records"]]
        summary_path.write_text(json.dumps(data, indent=1))
    for record_path in (reference / "records").glob("*.json"):
        record = json.loads(record_path.read_text())
        relink(record, reference)
        record_path.write_text(json.dumps(record, indent=1, default=str))
    return write_summary_md(reference, reference / "summary.md", mode)


def refused_stories(run_dir: Path) -> list[str]:
    """The stories of a reference run that stayed contaminated: never published, so the
    reference shows only what a quiet machine measured (each is named failed instead)."""
    path = run_dir / RUN_FILE
    run = json.loads(path.read_text()) if path.exists() else {}
    return list(run.get("contaminated") or ()) if run.get("kind") == "reference" else []


def _relative_papermill_paths(notebook: Path) -> None:
    """papermill records where it read and wrote the notebook, as given (absolute when the
    run was started with absolute paths): the published copy keeps them repo-relative, so
    it names no machine's folders."""
    data = json.loads(notebook.read_text())
    papermill = data.get("metadata", {}).get("papermill")
    if not isinstance(papermill, dict):
        return
    paths = {
        key: papermill[key] for key in ("input_path", "output_path") if isinstance(papermill.get(key), str)
    }
    relative = {key: repo_relative(Path(path)) for key, path in paths.items()}
    if relative != paths:
        papermill.update(relative)
        notebook.write_text(json.dumps(data, indent=1, ensure_ascii=False, sort_keys=True) + "\n")


def relink(record: dict[str, Any], reference: Path) -> None:
    """Point a published record's links at the published copies: the story's profile and
    REST records in `reference/records/`, its flame graphs in `reference/figures/`."""
    from .presentation.notebook import flame_file

    links = (record.get("extra") or {}).get("records") or {}
    for kind, path in links.items():
        if path:
            links[kind] = repo_relative(reference / "records" / Path(path).name)
    story = record["experiment"].rsplit("-", 1)[0]
    for trial in record["trials"]:
        profile = trial.get("profile") or {}
        if profile.get("flamegraph"):
            copy = reference / "figures" / flame_file(story, trial["config"])
            profile["flamegraph"] = repo_relative(copy) if copy.exists() else None
