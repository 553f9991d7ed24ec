"""The main job (`make experiments`, `rcopt experiments`): run every story notebook with
papermill, in order, then write results/summary.md (lab/summary.py).

Executed notebooks and their figures go to results/runs/<UTC timestamp>/; records to
results/cluster/. A reference run is then published to results/reference/ (lab/publish.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..results import repo_relative
from ..results.history import load_entries, machine_of, write_entry
from ..workspace import ENV, exported_root, root
from .history import history_entry
from .parameters import modes, parameter_names, story_values
from .presentation.builder import KERNELSPEC, path_of
from .registry import StoryNotFound, stories
from .story import Story
from .summary import RUN_FILE, clock, read_run, write_summary_md

__all__ = ["PAPERMILL_KERNEL", "RUN_FILE", "SMOKE_JOBS", "STORY_RERUNS", "StoriesFailed", "run_notebooks"]

# The notebooks name the kernel `make lab` registers (rediscluster_opt); papermill runs
# them in the "python3" kernel of the environment it runs in, this one, which needs no
# registration (so CI and a fresh clone work without `make lab`).
PAPERMILL_KERNEL = "python3"
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
    jobs: int | None = None,
) -> Path:
    """Execute the notebooks (default `<root>/notebooks`, results to `<root>/results`);
    returns the run folder, and adds an entry of `kind` to `<results>/history/`. A failing
    notebook is named (its cell, and where the partial notebook is) and the others still
    run; then StoriesFailed (a SystemExit(1)) is raised. `jobs`: notebooks run at once;
    by default two in a smoke run on a machine of two CPUs or more (its figures are not
    evidence; a story that changes the cluster under the others runs alone), one when
    measuring."""
    if mode not in modes():
        raise SystemExit(f"experiments: unknown mode {mode!r}; choose one of: {', '.join(modes())}")
    notebooks = notebooks or root() / "notebooks"
    results = results or root() / "results"
    chosen = _chosen(only)
    books = {story.id: path_of(story, notebooks) for story in chosen}
    missing = [path.name for path in books.values() if not path.exists()]
    if missing:
        raise SystemExit(
            f"experiments: no notebook {', '.join(missing)} in {notebooks}: the stories run from a "
            f"checkout of rediscluster_opt (run there, or set {ENV} to it); a new story's notebook "
            "comes from `python -m rediscluster_opt.lab.presentation.builder`"
        )
    smoke = bool(modes()[mode].get("smoke"))
    if jobs is None:
        jobs = SMOKE_JOBS if smoke and (os.cpu_count() or 1) >= 2 else 1
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    run_dir = results / "runs" / stamp
    (run_dir / "figures").mkdir(parents=True, exist_ok=True)
    # Folders are handed over relative to the workspace root where they can be, so an
    # executed notebook does not carry this machine's paths.
    given = {
        **(extra or {}),
        "results_dir": repo_relative(results / "cluster"),
        "figures_dir": repo_relative(run_dir / "figures"),
    }
    if jobs > 1:  # pinning is a measurement's, and two at once would pin the servers over each other
        given["pin"] = False
    jobs_of = {
        story.id: Job(
            story.id,
            str(books[story.id]),
            str(run_dir / books[story.id].name),
            str(notebooks),
            {**story_values(story, mode), **{k: v for k, v in given.items() if k in parameter_names(story)}},
            log=jobs == 1,
        )  # fmt: skip
        for story in chosen
    }
    previous = previous_durations(results / "history", mode)
    run = Run(mode, kind, run_dir, [s.id for s in chosen], previous, reference_durations())
    # A smoke run proves the pipeline, not figures; its 0.2 s windows are too short for
    # /proc's 10 ms ticks to tell a busy machine from rounding, so it runs each story once.
    story_reruns = 0 if smoke else STORY_RERUNS
    with counts_shared_by_the_stories():
        if jobs > 1:
            together = [jobs_of[s.id] for s in chosen if not s.exclusive]
            run.parallel(together, jobs)
            for story in (s for s in chosen if s.exclusive):
                run.story(jobs_of[story.id], 0)
        else:
            for story in chosen:
                run.story(jobs_of[story.id], story_reruns)
    return run.finish(results)


@contextlib.contextmanager
def counts_shared_by_the_stories() -> Iterator[None]:
    """For the run's duration, a folder where one story's cachegrind counts serve the
    next story that counts the same case (micro.COUNTS_ENV); gone with the run."""
    from .instruments.micro import COUNTS_ENV

    before = os.environ.get(COUNTS_ENV)
    with tempfile.TemporaryDirectory(prefix="rcopt-counts-") as folder:
        os.environ[COUNTS_ENV] = folder
        try:
            yield
        finally:
            if before is None:
                os.environ.pop(COUNTS_ENV, None)
            else:
                os.environ[COUNTS_ENV] = before


# Notebooks a smoke run executes at once, on two CPUs or more: a notebook alternates
# between measuring and starting its kernel or drawing, so several keep two CPUs busy (the
# quick run of every story took 245 s two at a time, 205 s three at a time, on 2 CPUs; of
# 21 stories, 201 s three and 190 s four at a time).
SMOKE_JOBS = 4


def _chosen(only: list[str] | None) -> list[Story]:
    try:
        found = stories()
    except StoryNotFound as exc:
        raise SystemExit(f"experiments: {exc}") from None
    chosen = [s for s in found.values() if not only or any(s.id.startswith(o) for o in only)]
    if not chosen:
        raise SystemExit(f"experiments: no story matches {' '.join(only or [])}; stories: {', '.join(found)}")
    return chosen


@dataclass(frozen=True)
class Job:
    """One notebook to execute: where it is, where its executed copy goes, its parameters,
    and whether its cells' output is echoed (not when several run at once)."""

    story: str
    book: str
    output: str
    cwd: str
    parameters: dict[str, Any]
    log: bool = True


def execute(job: Job) -> str | None:
    """Run one notebook with papermill; None, or why it failed (its cell and error). In
    a process of its own when several run at once, so it imports what it needs."""
    import logging

    import papermill  # type: ignore[import-untyped]
    from papermill.exceptions import PapermillExecutionError  # type: ignore[import-untyped]

    # papermill echoes each cell's output (the trial progress lines) through logging.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("papermill").setLevel(logging.INFO if job.log else logging.WARNING)
    try:
        with exported_root():  # the kernel resolves results_dir and figures_dir as we do
            papermill.execute_notebook(
                job.book,
                job.output,
                parameters=job.parameters,
                cwd=job.cwd,
                log_output=job.log,
                progress_bar=False,
                kernel_name=PAPERMILL_KERNEL,
                config=kernels_over_ipc(),
            )
    except PapermillExecutionError as exc:
        return f"cell {exc.exec_count}: {exc.ename}: {exc.evalue}"
    _keep_kernelspec(Path(job.output))
    return None


def kernels_over_ipc() -> Any:
    """A kernel manager's config that talks to its kernel over Unix sockets of its own,
    not over TCP ports. jupyter_client picks a free port, lets it go, and the kernel binds
    it later: between the two, another kernel starting at the same time, or a trial's
    outgoing connection (an ephemeral port, thousands a second), can take it, and the
    kernel dies ("Address already in use"), failing its story. A clean clone's quick run
    lost a kernel so at 39f6f5d. Each call names new socket files: without `ip`,
    jupyter_client names them kernel-ipc-1, -2 ... in the notebook's folder, and four
    kernels starting there at once took the same ones (a clean clone at 9894d10: "Invalid
    Signature")."""
    import uuid

    from traitlets.config import Config

    files = os.path.join(tempfile.gettempdir(), f"rcopt-kernel-{uuid.uuid4().hex[:12]}")
    return Config({"KernelManager": {"transport": "ipc", "ip": files}})


def timed(job: Job) -> tuple[str | None, float]:
    """execute(job), and how long it took: in a pool, the time a story waited for a
    worker is not part of its duration."""
    begun = time.monotonic()
    failure = execute(job)
    return failure, time.monotonic() - begun


def longest_first(jobs: list[Job], costs: dict[str, float]) -> list[Job]:
    """The jobs, the costliest first (those of unknown cost last, in their order): a pool
    that starts the longest story last ends with one worker busy and the others idle."""
    return sorted(jobs, key=lambda job: -costs.get(job.story, 0.0))


class Run:
    """A run in progress: each story's duration, failures, re-runs and machine state,
    then run.json, summary.md and the history entry. `previous`: each story's duration
    in the last run of this mode on this machine (the estimate of what is left); `costs`:
    what orders a parallel run, the previous durations where known, else the published
    reference's (another mode, but the same stories' relative costs)."""

    def __init__(
        self,
        mode: str,
        kind: str,
        run_dir: Path,
        stories: list[str],
        previous: dict[str, float],
        costs: dict[str, float] | None = None,
    ) -> None:
        self.mode, self.kind, self.run_dir, self.previous = mode, kind, run_dir, previous
        self.costs = previous or costs or {}
        self.stories = stories
        self.started = time.monotonic()
        self.durations: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.reruns: dict[str, int] = {}  # stories run again because their machine was busy
        self.contaminated: dict[str, str] = {}  # stories still measured on a busy machine

    def announce(self, job: Job) -> None:
        elapsed = time.monotonic() - self.started
        left = estimate_left(
            self.durations, [s for s in self.stories if s not in self.durations], self.previous
        )
        about = f", about {clock(left)} left" if left is not None else ""
        print(f"\n=== [{len(self.durations) + 1}/{len(self.stories)}] {Path(job.book).name} "
              f"(mode {self.mode}, elapsed {clock(elapsed)}{about})", flush=True)  # fmt: skip

    def story(self, job: Job, reruns: int) -> None:
        """Run one story, again while its machine was busy (up to `reruns` times)."""
        self.announce(job)
        begun = time.monotonic()
        for attempt in range(reruns + 1):
            failure = execute(job)
            if failure is not None:
                self.fail(job, failure)
                break
            state = machine_of_story(self.run_dir / "figures", job.story)
            if state is None or not state.get("contaminated"):  # quiet, or not known (a foreign target)
                self.contaminated.pop(job.story, None)
                break
            self.contaminated[job.story] = str(state.get("state"))
            if attempt < reruns:
                print(f"\nexperiments: {job.story} was measured on a busy machine ({state.get('state')}): "
                      "running it again", flush=True)  # fmt: skip
                self.reruns[job.story] = self.reruns.get(job.story, 0) + 1
        if (
            self.kind == "reference" and job.story in self.contaminated
        ):  # a reference describes a quiet machine
            self.failed[job.story] = f"contaminated after {reruns + 1} runs: {self.contaminated[job.story]}"
            print(
                f"\nexperiments: {job.story} stays {self.contaminated[job.story]}: not published",
                file=sys.stderr,
            )
        self.durations[job.story] = time.monotonic() - begun

    def parallel(self, jobs: list[Job], workers: int) -> None:
        """Run `jobs` `workers` at a time, each in a process of its own."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        print(f"\n=== {len(jobs)} stories, {workers} at a time (mode {self.mode})", flush=True)
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            running = {pool.submit(timed, job): job for job in longest_first(jobs, self.costs)}
            for done in as_completed(running):
                job = running[done]
                failure, self.durations[job.story] = done.result()
                print(f"=== {job.story}: {'failed' if failure else 'done'} "
                      f"(elapsed {clock(time.monotonic() - self.started)})", flush=True)  # fmt: skip
                if failure is not None:
                    self.fail(job, failure)
                state = machine_of_story(self.run_dir / "figures", job.story)
                if state is not None and state.get("contaminated"):
                    self.contaminated[job.story] = str(state.get("state"))

    def fail(self, job: Job, failure: str) -> None:
        # A failing story stops nothing else: the others run, the summary marks it.
        self.failed[job.story] = failure
        print(f"\nexperiments: {Path(job.book).name} failed in {failure}", file=sys.stderr)
        print(f"experiments: the partially executed notebook is {job.output}", file=sys.stderr)

    def finish(self, results: Path) -> Path:
        run = {"mode": self.mode, "kind": self.kind, "wall_s": round(time.monotonic() - self.started, 1),
               "durations": {k: round(v, 1) for k, v in self.durations.items()}, "failed": self.failed,
               "reruns": self.reruns, "contaminated": self.contaminated}  # fmt: skip
        (self.run_dir / RUN_FILE).write_text(json.dumps(run, indent=1) + "\n")
        write_summary_md(self.run_dir, results / "summary.md", self.mode)
        entry = history_entry(self.run_dir, run)
        if entry is not None:
            write_entry(entry, results / "history")
        if self.failed:
            raise StoriesFailed(self.run_dir, self.failed)
        return self.run_dir


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


def previous_durations(history: Path, mode: str) -> dict[str, float]:
    """Each story's duration in the latest history entry of this mode on this machine:
    what the progress line's estimate of what is left reads."""
    from ..bench.environment import environment

    machine = machine_of(environment())
    for entry in reversed(load_entries(history)):
        if entry["mode"] == mode and entry["machine"] == machine:
            return {k: v["duration_s"] for k, v in entry["stories"].items() if "duration_s" in v}
    return {}


def reference_durations() -> dict[str, float]:
    """Each story's duration in the published reference (results/reference/run.json of
    this checkout); empty where there is none."""
    try:
        run = read_run(root() / "results" / "reference")
    except (OSError, ValueError):  # unreadable: a parallel run then keeps the stories' order
        return {}
    return {k: float(v) for k, v in run.get("durations", {}).items()}


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

    book = nbformat.read(executed, as_version=4)  # type: ignore[no-untyped-call]
    book.metadata["kernelspec"] = dict(KERNELSPEC)
    nbformat.write(book, executed)  # type: ignore[no-untyped-call]
