"""Every story notebook, executed by papermill with the quick parameters against the real
cluster, must produce its records, figures and summary; a bad parameter must fail with a
message naming it."""

import json
from pathlib import Path

import papermill
import pytest
from papermill.exceptions import PapermillExecutionError

from rediscluster_opt.lab.main import ROOT, modes, run_notebooks
from rediscluster_opt.lab.records import load_records, validate_record

NOTEBOOKS = sorted((ROOT / "notebooks").glob("US-*.ipynb"))


def test_there_is_one_notebook_per_story():
    assert [n.name[:6] for n in NOTEBOOKS] == [f"US-00{i}" for i in range(1, 9)]


def test_every_notebook_runs_in_quick_mode(local_cluster, tmp_path):
    run_dir = run_notebooks("quick", results=tmp_path)
    figures = run_dir / "figures"
    for notebook in NOTEBOOKS:
        story = notebook.name[:6]
        assert (run_dir / notebook.name).exists()
        summary = json.loads((figures / f"{story}.summary.json").read_text())
        assert summary["acceptance"] and all(a["measured"] is not None for a in summary["acceptance"]), story
        assert {f"{story}_throughput.png", f"{story}_latency.png"} <= set(summary["figures"])
        for name in summary["figures"]:
            assert (figures / name).stat().st_size > 5000, name  # a real picture, not an empty canvas
        for path in summary["records"]:
            assert Path(path).parent == tmp_path / "cluster"
    records = load_records(tmp_path / "cluster")
    for record in records:
        validate_record(record)
    assert {r["experiment"] for r in records} >= {f"US-00{i}" for i in range(1, 9)} | {
        "US-001-rest",
        "US-008-rest",
    }
    text = (tmp_path / "summary.md").read_text()
    assert all(f"**US-00{i}" in text for i in range(1, 9)) and "## REST benchmark (US-008)" in text


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"duration": -1}, "invalid notebook parameter 'duration': must be positive"),
        ({"seeds": ["nohost"]}, "invalid notebook parameter 'seeds'"),
        ({"peers": ["jedis"]}, "invalid notebook parameter 'peers'"),
    ],
)
def test_an_invalid_parameter_is_named(parameters, message, tmp_path):
    notebook = NOTEBOOKS[1]
    with pytest.raises(PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(notebook), str(tmp_path / notebook.name), cwd=str(notebook.parent),
            parameters={**modes()["quick"], **parameters}, progress_bar=False,
        )  # fmt: skip
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
