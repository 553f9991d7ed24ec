"""The history of headline figures (results/history/), the reference's refusal of a dirty
tree, the staleness sentence, and the progress estimate: from constructed entries and
throwaway git repositories, no server."""

import subprocess
import time
from pathlib import Path

import pytest

from rediscluster_opt.bench.environment import CLIENT_PACKAGES, staleness, staleness_text
from rediscluster_opt.lab import main
from rediscluster_opt.lab.docs import Block, render_blocks
from rediscluster_opt.lab.history import entry_from_summaries, format_history, import_run
from rediscluster_opt.lab.main import Job, Run, estimate_left, longest_first, reference_durations
from rediscluster_opt.lab.reference import dirty_files
from rediscluster_opt.results.history import load_entries, series, steps, write_entry
from rediscluster_opt.results.stats import Interval

SIX = {"n": 6, "method": "order statistic", "coverage": 0.969}
ROOT = Path(__file__).resolve().parents[2]


def _row(metric, median, aa=(0.98, 1.02), comparison="<=", lead=True):
    return {
        "criterion": f"the {metric}", "metric": metric, "comparison": comparison, "threshold": 1,
        "headline": lead, "verdict": "met",
        "effect": Interval(median, median * 0.98, median * 1.02, **SIX).as_dict(),
        "control": Interval(1.0, *aa, **SIX).as_dict(),
    }  # fmt: skip


def _entry(commit, created, median, machine="AMD EPYC", aa=(0.98, 1.02)):
    summary = {"story": "US-002", "title": "slots", "acceptance": [_row("cpu.gain", median, aa)]}
    env = {"cpu_model": machine, "cpu_count": 2, "git": {"commit": commit, "dirty": False}, "python": "3.11"}
    return entry_from_summaries([summary], env, kind="reference", mode="default", created=created)


def test_an_entry_keeps_each_storys_headline_criteria_and_marks_the_lead():
    summary = {"story": "US-002", "title": "t", "acceptance": [
        _row("cpu.gain", 0.7), _row("throughput.gain", 1.3, aa=(0.9, 1.1), comparison=">="),
        _row("not.a.headline", 2.0, lead=False)]}  # fmt: skip
    env = {"cpu_model": "X", "cpu_count": 2, "git": {"commit": "abc", "dirty": False}}
    entry = entry_from_summaries(
        [summary],
        env,
        kind="experiments",
        mode="default",
        created="2026-12-03T04:00:00Z",
        durations={"US-002": 12.5},
    )
    metrics = entry["stories"]["US-002"]["metrics"]
    assert set(metrics) == {"cpu.gain", "throughput.gain"}
    assert metrics["cpu.gain"]["lead"] and not metrics["throughput.gain"]["lead"]  # the narrower A/A leads
    assert (
        entry["machine"] == "X, 2 CPUs"
        and entry["commit"] == "abc"
        and entry["stories"]["US-002"]["duration_s"] == 12.5
    )


def test_a_step_beyond_the_aa_band_is_named_with_its_commit_range(tmp_path):
    for commit, day, median in (("a", 1, 0.70), ("b", 2, 0.71), ("c", 3, 0.90)):
        write_entry(_entry(commit * 40, f"2026-12-0{day}T00:00:00Z", median), tmp_path)
    found = series(load_entries(tmp_path))
    points = found[("AMD EPYC, 2 CPUs", "default", "US-002", "cpu.gain")]
    assert [p.commit[0] for p in points] == ["a", "b", "c"]
    (step,) = steps(points, "<=")  # 0.70 -> 0.71 is inside the 2 % band; 0.71 -> 0.90 is not
    assert step.kind == "regression" and step.first == "b" * 40 and step.last == "c" * 40
    assert "regression of +27% (A/A band 2%) between bbbbbbb and ccccccc" == step.text()
    assert steps(points, ">=")[0].kind == "improvement"  # higher is better there
    text = format_history(tmp_path)
    assert "-> regression of +27%" in text and "US-002 the cpu.gain (<= 1); AMD EPYC, 2 CPUs, default" in text


def test_the_plot_draws_one_panel_per_headline_criterion(tmp_path):
    from rediscluster_opt.lab.history import plot_history

    for commit, day, median in (("a", 1, 0.70), ("c", 3, 0.90)):
        write_entry(_entry(commit * 40, f"2026-12-0{day}T00:00:00Z", median), tmp_path / "history")
    target = plot_history(tmp_path / "history", tmp_path / "history.png")
    assert target.stat().st_size > 1000 and target.read_bytes()[:4] == b"\x89PNG"


def test_entries_from_another_machine_are_never_joined_into_one_series(tmp_path):
    write_entry(_entry("a" * 40, "2026-12-01T00:00:00Z", 0.7), tmp_path)
    write_entry(_entry("b" * 40, "2026-12-02T00:00:00Z", 0.9, machine="Intel Xeon"), tmp_path)
    found = series(load_entries(tmp_path))
    assert len(found) == 2 and all(len(points) == 1 for points in found.values())
    assert "no step" not in format_history(tmp_path) and "->" not in format_history(tmp_path)


def test_a_wide_aa_band_hides_a_step_of_the_same_size(tmp_path):
    write_entry(_entry("a" * 40, "2026-12-01T00:00:00Z", 0.70, aa=(0.7, 1.3)), tmp_path)
    write_entry(_entry("b" * 40, "2026-12-02T00:00:00Z", 0.85, aa=(0.7, 1.3)), tmp_path)
    (points,) = series(load_entries(tmp_path)).values()
    assert steps(points, "<=") == [] and "no step beyond the A/A band" in format_history(tmp_path)


def test_the_old_reference_imports_as_one_entry_per_commit_it_was_measured_at(tmp_path):
    written = import_run(ROOT / "results" / "reference", tmp_path)
    entries = load_entries(tmp_path)
    assert len(written) == len(entries) >= 1
    commits = [e["commit"] for e in entries]
    assert len(set(commits)) == len(commits)  # a composite reference splits by commit
    stories = [s for e in entries for s in e["stories"]]
    assert len(stories) == len(set(stories)) and all(e["kind"] == "imported" for e in entries)


def _git(where, *args):
    subprocess.run(["git", "-C", str(where), *args], check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
                        "GIT_COMMITTER_EMAIL": "t@t", "PATH": "/usr/bin:/bin"})  # fmt: skip
    return subprocess.run(
        ["git", "-C", str(where), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()


def test_staleness_counts_commits_and_the_lines_they_changed_in_the_client_packages(tmp_path):
    _git(tmp_path, "init", "-q")
    package = tmp_path / CLIENT_PACKAGES[0]
    package.mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    _git(tmp_path, "add", ".")
    measured = _git(tmp_path, "commit", "-qm", "one")
    (tmp_path / "README.md").write_text("docs\n")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "docs only")
    found = staleness(measured, tmp_path)
    assert (found["behind"], found["touching"], found["lines"], found["changes"]) == (1, 0, 0, [])
    assert "the client's packages are unchanged since" in staleness_text(measured, tmp_path)
    (package / "a.py").write_text("x = 2\ny = 3\n")
    _git(tmp_path, "commit", "-qam", "code")
    found = staleness(measured, tmp_path)
    assert (found["behind"], found["touching"], found["lines"]) == (2, 1, 3) and found["changes"][0].endswith(
        " code"
    )
    text = staleness_text(measured, tmp_path, behind=False)
    assert "1 commit(s) since changed the client's packages" in text and "3 lines: `" in text
    assert text.endswith("` code") and "behind" not in text
    assert "staleness unknown" in staleness_text("0" * 40, tmp_path)


def test_the_reference_refuses_a_tree_with_changes(tmp_path):
    assert dirty_files(tmp_path) is None  # not a checkout
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("a")
    assert dirty_files(tmp_path) == ["a.txt"]
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "a")
    assert dirty_files(tmp_path) == []
    (tmp_path / "results" / "history").mkdir(parents=True)
    (tmp_path / "results" / "history" / "entry.json").write_text("{}")
    assert dirty_files(tmp_path) == []  # a run's history entry is not a change of the code


def test_the_estimate_of_what_is_left_uses_last_runs_durations_then_this_runs_mean():
    assert estimate_left({}, ["US-001", "US-002"], {}) is None
    assert estimate_left({}, ["US-001", "US-002"], {"US-001": 60.0, "US-002": 30.0}) == 90.0
    assert estimate_left({"US-001": 10.0, "US-002": 30.0}, ["US-003", "US-004"], {"US-004": 5.0}) == 25.0
    assert estimate_left({"US-001": 10.0}, [], {}) == 0.0


def test_a_parallel_run_starts_the_costliest_story_first_and_times_each_from_its_own_start(
    tmp_path, monkeypatch
):
    jobs = [Job(s, f"{s}.ipynb", "out", ".", {}) for s in ("US-001", "US-002", "US-003", "US-004")]
    costs = {"US-002": 10.0, "US-003": 300.0, "US-001": 40.0}
    assert [j.story for j in longest_first(jobs, costs)] == ["US-003", "US-001", "US-002", "US-004"]
    # this mode's last durations order the run where known, else the reference's
    assert Run("quick", "experiments", tmp_path, [], {"US-004": 1.0}, costs).costs == {"US-004": 1.0}
    assert Run("quick", "experiments", tmp_path, [], {}, costs).costs == costs
    reference = reference_durations()  # the committed reference names every story it ran
    assert reference["US-008"] > 0 and len(reference) >= 21
    monkeypatch.setattr(main, "execute", lambda job: time.sleep(0.05) or "cell 3: boom")
    failure, took = main.timed(jobs[0])
    assert failure == "cell 3: boom" and 0.05 <= took < 1.0


def test_blocks_are_renewed_by_their_renderer_and_unknown_ones_are_named():
    text = f"a {Block('x').wrap('old')} b {Block('y').wrap('kept')}\n"
    renewed, unknown = render_blocks(text, {"x": lambda: "new"})
    assert renewed == f"a {Block('x').wrap('new')} b {Block('y').wrap('kept')}\n" and unknown == ["y"]


def test_a_reference_with_a_failed_story_still_publishes_then_exits_1(tmp_path, monkeypatch):
    import pytest

    from rediscluster_opt.lab import reference
    from rediscluster_opt.lab.main import StoriesFailed

    published = []
    monkeypatch.setattr(reference, "dirty_files", lambda where: [])

    def fails(mode, **options):
        assert options["kind"] == "reference"
        raise StoriesFailed(tmp_path / "runs" / "x", {"US-003": "cell 4: ValueError: no"})

    monkeypatch.setattr(reference, "run_notebooks", fails)
    monkeypatch.setattr(reference, "publish_reference", lambda run_dir, *a, **k: published.append(run_dir))
    with pytest.raises(SystemExit) as caught:
        reference.make_reference(tmp_path)
    assert caught.value.code == 1 and published == [tmp_path / "runs" / "x"]
    monkeypatch.setattr(reference, "dirty_files", lambda where: ["README.md"])
    with pytest.raises(SystemExit, match=r"the tree has changes \(README.md\); commit or stash them"):
        reference.make_reference(tmp_path)


def test_exact_counts_are_tracked_and_step_at_one_percent():
    exact = {"criterion": "instructions", "metric": "instr", "comparison": "<", "threshold": 1,
             "headline": False, "verdict": "met", "effect": Interval.exact(0.90).as_dict(),
             "control": None}  # fmt: skip
    env = {"cpu_model": "X", "cpu_count": 2, "git": {"commit": "a" * 40, "dirty": False}}
    entries = []
    for commit, value in (("a", 0.900), ("b", 0.905), ("c", 0.93)):
        row = {**exact, "effect": Interval.exact(value).as_dict()}
        summary = {"story": "US-018", "title": "t", "acceptance": [row], "machine": {"quiet": True}}
        env = {**env, "git": {"commit": commit * 40, "dirty": False}}
        entries.append(entry_from_summaries([summary], env, kind="reference", mode="default",
                                            created=f"2026-12-0{len(entries) + 1}T00:00:00Z"))  # fmt: skip
    assert entries[0]["stories"]["US-018"]["metrics"]["instr"]["effect"]["method"] == "exact"
    assert entries[0]["stories"]["US-018"]["machine"] == {"quiet": True}
    ((key, points),) = series(entries).items()
    (step,) = steps(points, "<")
    assert (
        step.kind == "regression" and step.band == 0.01 and step.first.startswith("b")
    )  # 0.5 % is not a step


def test_repeat_runs_at_one_commit_set_the_band_of_a_ratio():
    """Three runs at commit a (1.00, 1.10, 0.95: 10 % run to run) make a step of 8 % to b
    no step, where the A/A band (2 %) alone would call it one; the commit's middle run is
    its figure."""
    entries = [
        _entry("a" * 40, "2026-12-01T00:00:00Z", 1.00),
        _entry("a" * 40, "2026-12-01T01:00:00Z", 1.10),
        _entry("a" * 40, "2026-12-01T02:00:00Z", 0.95),
        _entry("b" * 40, "2026-12-02T00:00:00Z", 1.08),
    ]
    ((_, points),) = series(entries).items()
    from rediscluster_opt.results.history import run_to_run

    assert run_to_run(points) == pytest.approx(0.10)
    assert steps(points, "<=") == []
    assert steps(points[2:], "<=")  # without the repeats, the A/A band flags it


def test_a_story_measured_on_a_busy_machine_runs_again_and_a_reference_refuses_one_that_stays(
    tmp_path, monkeypatch
):
    """papermill faked: each execution writes the story's summary with the machine state the
    script gives it; US-001 is busy once then quiet, US-002 busy every time."""
    import json

    import papermill
    import pytest

    from rediscluster_opt.lab import main
    from rediscluster_opt.lab.main import RUN_FILE, STORY_RERUNS, StoriesFailed
    from rediscluster_opt.lab.publish import publish_reference
    from tests.unit.test_lab import _summary

    states = {"US-001": [3, 0], "US-002": [5, 4], "US-003": [0]}
    runs: list[str] = []

    def execute(book, output, parameters, **options):
        story = Path(book).name.split("_", 1)[0]
        runs.append(story)
        busy = states[story].pop(0)
        figures = Path(output).parent / "figures"
        summary = {**_summary(story), "records": [], "figures": []}
        summary["machine"] = {"state": f"contaminated ({busy} of 9 trials)" if busy else "quiet",
                              "quiet": not busy, "contaminated": busy, "trials": 9}  # fmt: skip
        (figures / f"{story}.summary.json").write_text(json.dumps(summary))
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", execute)
    monkeypatch.setattr(main, "_keep_kernelspec", lambda output: None)
    monkeypatch.setattr(main, "history_entry", lambda run_dir, run: None)
    with pytest.raises(StoriesFailed) as caught:
        main.run_notebooks("default", results=tmp_path, only=["US-001", "US-002", "US-003"], kind="reference")
    assert runs == ["US-001", "US-001", "US-002", "US-002", "US-003"] and STORY_RERUNS == 1
    run = json.loads((caught.value.run_dir / RUN_FILE).read_text())
    assert run["reruns"] == {"US-001": 1, "US-002": 1}
    assert run["contaminated"] == {"US-002": "contaminated (4 of 9 trials)"}
    assert caught.value.failed == {"US-002": "contaminated after 2 runs: contaminated (4 of 9 trials)"}
    summary = publish_reference(caught.value.run_dir, tmp_path, "default").read_text()
    published = sorted(p.name for p in (tmp_path / "reference" / "figures").iterdir())
    assert published == ["US-001.summary.json", "US-003.summary.json"]
    assert sorted(p.name for p in (tmp_path / "reference" / "notebooks").iterdir()) == [
        "US-001_baseline.ipynb", "US-003_submit.ipynb"
    ]  # fmt: skip
    assert "**US-002 failed** (contaminated after 2 runs" in summary
    assert "run again because other work took the CPU: US-001, US-002" in summary

    # a smoke run (quick) runs each story once and says which stayed busy
    states.update({"US-001": [3], "US-002": [0]})
    runs.clear()
    folder = main.run_notebooks("quick", results=tmp_path / "quick", only=["US-001", "US-002"], jobs=1)
    assert runs == ["US-001", "US-002"]
    assert json.loads((folder / RUN_FILE).read_text())["contaminated"] == {
        "US-001": "contaminated (3 of 9 trials)"
    }
