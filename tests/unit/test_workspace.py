"""The one workspace root: $RCOPT_ROOT, else the current folder; a lab notebook's kernel,
started in <root>/notebooks, takes the folder above it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from rediscluster_opt import workspace
from rediscluster_opt.localcluster import default_data_dir
from rediscluster_opt.results import load_record, new_record, save_record


def test_the_root_is_the_environment_setting_else_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("RCOPT_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    assert workspace.root() == tmp_path
    monkeypatch.setenv("RCOPT_ROOT", str(tmp_path / "elsewhere"))
    assert workspace.root() == tmp_path / "elsewhere"
    assert workspace.resolve("results/cluster") == tmp_path / "elsewhere" / "results" / "cluster"
    assert workspace.resolve("/abs") == Path("/abs")
    assert workspace.relative(tmp_path / "elsewhere" / "a" / "b.json") == "a/b.json"
    assert workspace.relative("/outside/b.json") == "/outside/b.json"


def test_records_and_the_cluster_data_go_under_the_root(monkeypatch, tmp_path):
    monkeypatch.delenv("RCOPT_DATA_DIR", raising=False)
    monkeypatch.setenv("RCOPT_ROOT", str(tmp_path))
    monkeypatch.chdir("/")
    parameters = {"concurrency": [1], "duration_s": 1.0, "modes": ["cluster"], "repeats": 1}
    env = {"cpu_count": 2, "git": {"commit": "abc", "dirty": False}, "packages": {}, "python": "3.11"}
    path = save_record(new_record("ws", parameters, [], env, [], []))
    assert path.parent == tmp_path / "results" / "cluster"
    assert load_record(workspace.relative(path))["experiment"] == "ws"  # found from the root
    assert default_data_dir() == tmp_path / ".rcopt" / "cluster"
    monkeypatch.setenv("RCOPT_DATA_DIR", str(tmp_path / "data"))
    assert default_data_dir() == tmp_path / "data"


def test_a_notebook_kernel_in_notebooks_takes_the_folder_above(monkeypatch, tmp_path):
    # set (empty) through monkeypatch first, so the value adopt_notebook_root writes is undone
    monkeypatch.setenv("RCOPT_ROOT", "")
    (tmp_path / "notebooks").mkdir()
    monkeypatch.chdir(tmp_path / "notebooks")
    assert workspace.adopt_notebook_root() == tmp_path
    assert os.environ["RCOPT_ROOT"] == str(tmp_path)  # child processes agree
    monkeypatch.setenv("RCOPT_ROOT", str(tmp_path / "set"))
    assert workspace.adopt_notebook_root() == tmp_path / "set"  # an explicit setting wins


def test_an_exported_root_reaches_child_processes_and_is_restored(monkeypatch, tmp_path):
    monkeypatch.delenv("RCOPT_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    with workspace.exported_root() as root:
        code = "from rediscluster_opt.workspace import root; print(root())"
        child = subprocess.run([sys.executable, "-c", code], cwd="/", capture_output=True, text=True)
        assert child.stdout.strip() == str(root) == str(tmp_path)
    assert "RCOPT_ROOT" not in os.environ


def test_the_main_job_outside_a_checkout_says_it_needs_one(tmp_path, monkeypatch):
    from rediscluster_opt.lab.main import run_notebooks

    monkeypatch.setenv("RCOPT_ROOT", str(tmp_path))
    with pytest.raises(SystemExit) as caught:
        run_notebooks("quick", results=tmp_path / "results")
    assert "they live in a checkout of rediscluster_opt" in str(caught.value)
    assert str(tmp_path / "experiments") in str(caught.value)


def test_the_lab_settings_silence_the_news_prompt_and_keep_other_overrides(tmp_path):
    import json

    from rediscluster_opt.lab.presentation.labsettings import quiet

    settings = tmp_path / "share" / "jupyter" / "lab" / "settings"
    settings.mkdir(parents=True)
    (settings / "overrides.json").write_text(
        json.dumps({"@jupyterlab/apputils-extension:themes": {"theme": "x"}})
    )
    written = json.loads(quiet(tmp_path).read_text())
    assert written["@jupyterlab/apputils-extension:themes"] == {"theme": "x"}
    assert written["@jupyterlab/apputils-extension:notification"] == {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
    assert json.loads(quiet(tmp_path).read_text()) == written  # idempotent
