"""Every story notebook, executed by papermill with the quick parameters against the real
cluster, must produce its records, verdicts with intervals beside an A/A control, figures
(flame graphs where py-spy can attach) and summary; every criterion's figure must be
measured or its absence explained; rerun=False must redraw from the saved records without
measuring; a bad parameter must fail with a message naming it. What only one story shows
is checked in tests/e2e/stories/."""

import json
import os
import re
import shutil
from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from rediscluster_opt.lab.criteria import STATES
from rediscluster_opt.lab.main import PAPERMILL_KERNEL, Job, execute, kernels_over_ipc, run_notebooks
from rediscluster_opt.lab.parameters import story_values
from rediscluster_opt.lab.presentation import plots
from rediscluster_opt.lab.presentation.builder import path_of
from rediscluster_opt.lab.registry import stories
from rediscluster_opt.results import load_records, validate_record
from rediscluster_opt.results.history import load_entries

ROOT = Path(__file__).resolve().parents[2]
STORIES = stories()
COMMON_FIGURES = ("throughput", "latency", "verdicts")  # every story of the common shape


def test_there_is_one_notebook_per_story():
    books = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if p.name != "explorer.ipynb")
    assert books == sorted(path_of(s, ROOT / "notebooks").name for s in STORIES.values())


def quick_lacks(story, needs: str) -> bool:
    """Whether the story's quick-mode parameters lack what a figure says it needs: the
    one reason a quick run may leave a figure unmeasured."""
    quick = story_values(story, "quick")
    if ", " in needs:  # several needs: lacking any one leaves the figure out
        return any(quick_lacks(story, part) for part in needs.split(", "))
    if needs == "cachegrind":
        return not quick["cachegrind"]
    if needs.startswith(("the peer", "the full sweep", "a run beyond smoke")):  # a smoke run does less
        return quick["smoke"]
    if found := re.fullmatch(r"(\w+) including (\S+)", needs):
        return found[2] not in {str(v) for v in quick[found[1]]}
    if found := re.fullmatch(r"fault (\w+)", needs):
        return found[1] not in quick.get("faults", ())
    return False


def _explained(story, row):
    """A figure the quick run leaves out: skipped on this target with the reason, or
    needing something the quick mode lacks."""
    return row["verdict"] == "skipped" or quick_lacks(story, row["needs"])


def test_every_notebook_runs_in_quick_mode_with_verdicts_and_aa(quick_run):
    for story in STORIES.values():
        assert (quick_run.run_dir / path_of(story, Path()).name).exists()
        summary = quick_run.summary(story.id)
        for row in summary["acceptance"]:
            assert row["verdict"] in STATES, row
            if row["verdict"] in ("not measured", "skipped"):
                assert _explained(story, row), (story.id, row["criterion"], row["measured"])
            else:
                assert row["effect"]["n"] >= 1 and row["effect"]["low"] <= row["effect"]["high"]
            if row["control"] and row["effect"]:
                assert row["aa"], (story.id, row["criterion"])  # the A/A control beside the effect
        if story.criteria:
            assert any(summary["headline"].startswith(r["criterion"] + ": ") for r in summary["acceptance"])
        if story.cells is None:  # the common shape: speed plots, and one flame graph (quick: the after one)
            assert summary["machine"]["speed_spread"] >= 1.0, story.id  # its trials probed the host
            drawn = [n for n in COMMON_FIGURES if story.criteria or n != "verdicts"]  # no criteria: no plot
            names = {f"{story.id}_{name}.png" for name in drawn}
            assert names <= set(summary["figures"]), story.id
        if story.figures is not None:
            assert len(summary["figures"]) > (0 if story.cells else len(COMMON_FIGURES)), story.id
        for name in summary["figures"]:
            assert (quick_run.figures / name).stat().st_size > 5000, name  # a real picture
        for path in summary["records"]:
            assert Path(path).parent == quick_run.results / "cluster" or (ROOT / path).parent == (
                quick_run.results / "cluster"
            )
        assert summary["paragraph"].startswith(f"**{story.id} verdict**")


def test_every_metric_a_story_reads_is_produced_by_its_runner(quick_run):
    """A criterion (or recorded figure) whose metric no runner fills shows up here, not as
    a quiet "not measured" in a summary. Produced: measured, or named with no value
    because an instrument was off (cachegrind in quick mode). Only a figure of a family
    the quick parameters do not run (a fault, a connection count, a REST scenario, a
    peer, a sweep level) may be absent, and the test checks the quick mode lacks it."""
    records = {r["experiment"]: r for r in load_records(quick_run.results / "cluster")}
    for story in STORIES.values():
        extra = records[story.id]["extra"]
        produced = set(extra["measured"]) | set(extra["unmeasured"])
        summary = quick_run.summary(story.id)
        rows = {r["metric"]: r for r in [*summary["acceptance"], *summary["recorded"]]}
        for metric in story.metrics():
            row = rows[metric]
            absent = row["measured"].startswith("skipped: ") or (
                row["needs"] != "cachegrind" and quick_lacks(story, row["needs"])
            )
            assert metric in produced or absent, (story.id, metric, row["measured"])
        for c in story.criteria:  # its A/A and its "before" figure come with the figure itself
            if c.metric in produced:
                assert {m for m in (c.control, c.before) if m} <= produced, (story.id, c.text)


def test_the_run_s_records_and_summary(quick_run):
    if shutil.which("py-spy") or (ROOT / ".venv/bin/py-spy").exists():
        speed = {s.id for s in STORIES.values() if s.cells is None}
        assert {f.name.split("_flame_")[0] for f in quick_run.figures.glob("*_flame_*.png")} == speed
    records = load_records(quick_run.results / "cluster")
    for record in records:
        validate_record(record)
    if (os.cpu_count() or 1) >= 2:  # stories ran side by side: none pinned the servers
        pinned = [r["experiment"] for r in records if r["environment"].get("pinning", {}).get("enabled")]
        assert pinned == []
    assert {r["experiment"] for r in records} >= set(STORIES)
    # A smoke run re-runs no trial (its notebooks run side by side, so no second is quiet,
    # and each re-run would first wait out a quiet moment's patience): every record's.
    reran = [(r["experiment"], t["config"]) for r in records for t in r["trials"] if t.get("rerun")]
    assert reran == [] and not any(r.get("superseded") for r in records), reran
    text = (quick_run.results / "summary.md").read_text()
    assert all(f"**{s}" in text for s in STORIES)
    assert "| criterion | source | needs | measured | interval | A/A | before | verdict |" in text
    for story in STORIES.values():  # executed notebooks name the project's kernel, as the sources do
        book = (quick_run.run_dir / path_of(story, Path()).name).read_text()
        assert '"name": "rediscluster_opt"' in book
        assert plots.NO_DATA not in book, story.id  # every panel of every figure drew data
    # The run says how it went, and adds its entry to the history.
    run = json.loads((quick_run.run_dir / "run.json").read_text())
    assert set(run["durations"]) == set(STORIES) and run["failed"] == {} and run["kind"] == "experiments"
    assert f"- experiments run: {len(STORIES)} stories in " in text and "<!-- rcopt:staleness -->" in text
    (entry,) = load_entries(quick_run.results / "history")
    assert entry["mode"] == "quick" and set(entry["stories"]) == set(STORIES)
    assert all(found["metrics"] for story, found in entry["stories"].items()
               if any(c.headline for c in STORIES[story].criteria))  # fmt: skip


def _quick(story, **overrides):
    """The quick mode's values of the parameters the story's notebook lists."""
    return story_values(story, "quick") | overrides


SAMPLE = STORIES["US-002"]  # any story of the common shape


def test_rerun_false_redraws_from_the_saved_record_without_measuring(quick_run, tmp_path):
    before = sorted(p.name for p in (quick_run.results / "cluster").glob("*.json"))
    notebook = path_of(SAMPLE, ROOT / "notebooks")
    parameters = _quick(
        SAMPLE,
        rerun=False,
        results_dir=str(quick_run.results / "cluster"),
        figures_dir=str(tmp_path / "figures"),
        seeds=["127.0.0.1:1"],
    )
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        cwd=str(notebook.parent),
        parameters=parameters,
        progress_bar=False,
        kernel_name=PAPERMILL_KERNEL,
        config=kernels_over_ipc(),
    )
    assert (
        sorted(p.name for p in (quick_run.results / "cluster").glob("*.json")) == before
    )  # nothing measured
    redrawn = json.loads((tmp_path / "figures" / f"{SAMPLE.id}.summary.json").read_text())
    assert redrawn["acceptance"] == quick_run.summary(SAMPLE.id)["acceptance"]


def test_story_kernels_started_at_once_talk_over_unix_sockets_of_their_own(tmp_path):
    """Four kernels start at once in a quick run, beside trials that open connections by
    the thousand: a TCP port chosen for a kernel could be taken before it binds it (one
    was, in a clean clone), so execute() starts kernels over IPC, each with socket files
    of its own (kernels sharing a folder's default names got each other's messages)."""
    from concurrent.futures import ProcessPoolExecutor

    import nbformat

    probe = "import json\nfrom ipykernel.connect import get_connection_file\n"
    probe += "info = json.load(open(get_connection_file()))\nprint(info['transport'], info['ip'])"
    book = tmp_path / "probe.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(probe)]), book)
    jobs = [
        Job("probe", str(book), str(tmp_path / f"ran{i}.ipynb"), str(tmp_path), {}, log=False)
        for i in range(4)
    ]
    with ProcessPoolExecutor(4) as pool:  # as a quick run does: a process per notebook
        assert list(pool.map(execute, jobs)) == [None] * 4
    seen = []
    for job in jobs:
        (cell,) = nbformat.read(job.output, as_version=4).cells
        seen.append(cell.outputs[0]["text"].split())
    assert {transport for transport, _ in seen} == {"ipc"}
    assert len({files for _, files in seen}) == 4


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"duration": -1}, "invalid notebook parameter 'duration': must be a positive number"),
        ({"seeds": ["nohost"]}, "invalid notebook parameter 'seeds'"),
        ({"repeats": "many"}, "invalid notebook parameter 'repeats'"),
    ],
)
def test_an_invalid_parameter_is_named(parameters, message, tmp_path):
    notebook = path_of(SAMPLE, ROOT / "notebooks")
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(notebook),
            str(tmp_path / notebook.name),
            cwd=str(notebook.parent),
            parameters=_quick(SAMPLE, **parameters),
            progress_bar=False,
            kernel_name=PAPERMILL_KERNEL,
            config=kernels_over_ipc(),
        )
    assert caught.value.ename == "NotebookParameterError"
    assert message in caught.value.evalue


def test_a_failing_notebook_is_named_and_marked_and_the_run_exits_1(local_cluster, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        run_notebooks("quick", results=tmp_path, only=[SAMPLE.id], extra={"repeats": 0})
    assert caught.value.code == 1
    assert f"**{SAMPLE.id} failed** (cell " in (tmp_path / "summary.md").read_text()
    err = capsys.readouterr().err
    assert f"{path_of(SAMPLE, Path()).name} failed in cell" in err
    assert "NotebookParameterError: invalid notebook parameter 'repeats'" in err
    partial = err.split("the partially executed notebook is ")[1].strip()
    assert Path(partial).exists() and Path(partial).parent.parent == tmp_path / "runs"
