"""Every story notebook, executed by papermill with the quick parameters against the real
cluster, must produce its records, verdicts with intervals beside an A/A control, figures
(flame graphs where py-spy can attach) and summary; rerun=False must redraw from the saved
records without measuring; a bad parameter must fail with a message naming it."""

import json
import shutil
from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from rediscluster_opt.lab.catalogue import STORIES
from rediscluster_opt.lab.main import PAPERMILL_KERNEL, modes, run_notebooks
from rediscluster_opt.results import load_records, validate_record

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("US-*.ipynb"))


def test_there_is_one_notebook_per_story():
    assert [n.name[:6] for n in NOTEBOOKS] == list(STORIES)


@pytest.fixture(scope="module")
def quick_run(local_cluster, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    return results, run_notebooks("quick", results=results)


def test_every_notebook_runs_in_quick_mode_with_verdicts_and_aa(quick_run):
    results, run_dir = quick_run
    figures = run_dir / "figures"
    for notebook in NOTEBOOKS:
        story = notebook.name[:6]
        assert (run_dir / notebook.name).exists()
        summary = json.loads((figures / f"{story}.summary.json").read_text())
        for row in summary["acceptance"]:
            assert row["verdict"] in ("met", "NOT met", "inconclusive", "not measured"), row
            if row["verdict"] == "not measured":  # quick mode counts no instructions, sweeps 1-2 connections
                assert row["needs"] and row["needs"] in row["measured"], (story, row["criterion"])
            else:
                assert row["effect"]["n"] >= 1 and row["effect"]["low"] <= row["effect"]["high"]
            if row["metric"].startswith(("throughput.", "cpu.")) and row["effect"]:
                assert row["control"] and row["aa"], (story, row["criterion"])  # A/A beside the effect
        if story != "US-001":
            assert any(summary["headline"].startswith(r["criterion"] + ": ") for r in summary["acceptance"])
        else:
            assert not summary["acceptance"] and any("A/A" in r["item"] for r in summary["recorded"])
        if story == "US-008":  # the local cluster is the target: TLS is compared on a twin of it
            assert "US-008_tls_cost.png" in summary["figures"]
            assert any(
                r["item"].startswith("TLS / plain throughput, ours") and r["value"]
                for r in summary["recorded"]
            )
        if story == "US-009":  # the sweep and the in-process cost breakdown
            assert {"US-009_concurrency_sweep.png", "US-009_cost_waterfall.png"} <= set(summary["figures"])
            assert any(r["metric"] == "frames.over_bare" and r["effect"] for r in summary["acceptance"])
            assert any(path.endswith("_US-009-sweep.json") for path in summary["records"])
        if story == "US-010":  # resilience: one timeline per fault instead of speed plots
            assert {f"US-010_fault_{f}.png" for f in modes()["quick"]["faults"]} == set(summary["figures"])
        else:
            assert {f"{story}_throughput.png", f"{story}_latency.png", f"{story}_verdicts.png"} <= set(
                summary["figures"]
            )
        for name in summary["figures"]:
            assert (figures / name).stat().st_size > 5000, name  # a real picture, not an empty canvas
        for path in summary["records"]:
            assert (ROOT / path).parent == results / "cluster" or Path(path).parent == results / "cluster"
        assert summary["paragraph"].startswith(f"**{story} verdict**")
    flames = sorted(figures.glob("*_flame_*.svg"))
    if shutil.which("py-spy") or (Path(ROOT / ".venv/bin/py-spy")).exists():
        speed_stories = set(STORIES) - {"US-010"}
        assert {f.name[:6] for f in flames} == speed_stories, (
            "a flame graph per speed story (quick: the after one)"
        )
    records = load_records(results / "cluster")
    for record in records:
        validate_record(record)
    linked = {"US-001-rest", "US-008-rest", "US-008-tls", "US-009-sweep"}
    assert {r["experiment"] for r in records} >= set(STORIES) | linked
    text = (results / "summary.md").read_text()
    assert all(f"**{s}" in text for s in STORIES) and "## REST benchmark (US-008)" in text
    assert "| criterion | source | needs | measured [interval] | A/A | verdict |" in text


def test_rerun_false_redraws_from_the_saved_record_without_measuring(quick_run, tmp_path):
    results, run_dir = quick_run
    before = sorted(p.name for p in (results / "cluster").glob("*.json"))
    notebook = NOTEBOOKS[1]
    parameters = {
        **modes()["quick"],
        "rerun": False,
        "results_dir": str(results / "cluster"),
        "figures_dir": str(tmp_path / "figures"),
        "seeds": ["127.0.0.1:1"],
    }
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        cwd=str(notebook.parent),
        parameters=parameters,
        progress_bar=False,
        kernel_name=PAPERMILL_KERNEL,
    )
    assert sorted(p.name for p in (results / "cluster").glob("*.json")) == before  # nothing measured or saved
    redrawn = json.loads((tmp_path / "figures" / "US-002.summary.json").read_text())
    original = json.loads((run_dir / "figures" / "US-002.summary.json").read_text())
    assert redrawn["acceptance"] == original["acceptance"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"duration": -1}, "invalid notebook parameter 'duration': must be a positive number"),
        ({"seeds": ["nohost"]}, "invalid notebook parameter 'seeds'"),
        ({"peers": ["jedis"]}, "invalid notebook parameter 'peers'"),
    ],
)
def test_an_invalid_parameter_is_named(parameters, message, tmp_path):
    notebook = NOTEBOOKS[1]
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(notebook),
            str(tmp_path / notebook.name),
            cwd=str(notebook.parent),
            parameters={**modes()["quick"], **parameters},
            progress_bar=False,
            kernel_name=PAPERMILL_KERNEL,
        )
    assert caught.value.ename == "NotebookParameterError"
    assert message in caught.value.evalue


def test_a_failing_notebook_stops_the_run_and_says_where(local_cluster, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        run_notebooks("quick", results=tmp_path, only=["US-002"], extra={"repeats": 0})
    assert caught.value.code == 1
    err = capsys.readouterr().err
    assert "US-002_slot_lookup.ipynb failed in cell" in err
    assert "NotebookParameterError: invalid notebook parameter 'repeats'" in err
    partial = err.split("the partially executed notebook is ")[1].strip()
    assert Path(partial).exists() and Path(partial).parent.parent == tmp_path / "runs"
