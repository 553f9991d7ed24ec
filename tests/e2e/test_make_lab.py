"""`make lab`'s script as a new user runs it (root here, no display): it registers the
project kernel, prints a URL with its token that answers, passes --allow-root, opens no
browser, and stops on Ctrl-C. A cluster it started stops with it; one that was up before
(the session's) stays up."""

import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tests.ports import free_port, listening

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

ROOT = Path(__file__).resolve().parents[2]


def _interruptible() -> None:
    """The lab as a terminal starts it: Ctrl-C at its default. A test run launched in the
    background (`cmd &` in a script) inherits SIGINT ignored, the lab would inherit that
    too, and Ctrl-C could never stop it (a clean-clone run started so failed here)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_lab(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """scripts/lab.sh in a process group of its own, as a terminal runs it (no display);
    returns it with the URL it printed, once JupyterLab answers there."""
    env = {k: v for k, v in {**os.environ, **env}.items() if k != "DISPLAY"}
    lab = subprocess.Popen(
        [str(ROOT / "scripts" / "lab.sh")], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        preexec_fn=_interruptible,
    )  # fmt: skip
    try:
        url = None
        deadline = time.monotonic() + 60
        while url is None and time.monotonic() < deadline:
            line = lab.stdout.readline()
            assert line or lab.poll() is None, "make lab exited early"
            found = re.search(r"lab: JupyterLab at (http://\S+token=\S+)", line)
            url = found.group(1) if found else None
        assert url, "make lab printed no URL within 60 s"
        # Keep reading what it prints: a full pipe would block JupyterLab's next log line,
        # and a lab blocked on a write never ends on Ctrl-C (a fresh clone's first run
        # logs more, and hung here once).
        threading.Thread(target=_keep_tail, args=(lab,), daemon=True).start()
        base, token = url.split("/lab?")[0], url.rsplit("=", 1)[1]
        for _ in range(300):  # the server comes up after the cluster, if it starts one
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}"):
                    return lab, url
            except OSError:
                assert lab.poll() is None, "make lab exited early"
                time.sleep(0.3)
        raise AssertionError(f"nothing answers at {url}")
    except BaseException:
        _ctrl_c(lab)
        raise


_TAILS: dict[int, list[str]] = {}  # a running lab's last lines of output, by pid


def _keep_tail(lab: subprocess.Popen) -> None:
    tail = _TAILS.setdefault(lab.pid, [])
    for line in lab.stdout:
        tail.append(line)
        del tail[:-40]


def _ctrl_c(lab: subprocess.Popen) -> None:
    """Ctrl-C, to the whole process group as a terminal sends it; the lab must end."""
    os.killpg(lab.pid, signal.SIGINT)
    try:
        lab.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(lab.pid, signal.SIGKILL)
        tail = "".join(_TAILS.get(lab.pid, []))
        raise AssertionError(f"the lab did not end within 30 s of Ctrl-C; its last output:\n{tail}") from None


def _jupyter_dirs(tmp_path) -> dict[str, str]:
    """Jupyter's data and config folders for one test (the kernel is registered there)."""
    return {"JUPYTER_DATA_DIR": str(tmp_path / "data"), "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}


def test_make_lab_prints_a_working_url_and_stops_on_ctrl_c(local_cluster, tmp_path):
    port = free_port()
    lab, url = _start_lab({"LAB_PORT": str(port), **_jupyter_dirs(tmp_path)})
    try:
        assert url.startswith(f"http://127.0.0.1:{port}/lab?token=")
        token = url.rsplit("=", 1)[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}") as answer:
            specs = answer.read().decode()
        assert '"rediscluster_opt"' in specs  # the project's kernel, registered by the script
        assert (tmp_path / "data" / "kernels" / "rediscluster_opt" / "kernel.json").exists()
    finally:
        _ctrl_c(lab)
    assert local_cluster.is_up()  # not the lab's to stop: it was up before


def test_make_lab_stops_the_cluster_it_started_on_ctrl_c(tmp_path):
    """With no cluster up, the lab starts one and Ctrl-C stops it again (a cluster of three
    masters on ports of its own, beside the session's, through RCOPT_CLUSTER_ARGS)."""
    ports = (7250, 7251, 7252)
    assert not any(listening(p) for p in ports), "ports 7250-7252 are taken"
    lab, _ = _start_lab(
        {
            "LAB_PORT": str(free_port()),
            **_jupyter_dirs(tmp_path),
            "RCOPT_DATA_DIR": str(tmp_path / "cluster"),
            "RCOPT_CLUSTER_ARGS": "--ports 7250-7252 --standalone-port 0",
        }
    )
    try:
        try:
            assert all(listening(p) for p in ports), "the lab did not start its cluster"
        finally:
            _ctrl_c(lab)
        assert not any(listening(p) for p in ports), "the cluster the lab started is still up"
        assert not (tmp_path / "cluster").exists()
    finally:  # whatever failed, its servers do not outlive the test (they hold the ports)
        down = [str(ROOT / ".venv" / "bin" / "rcopt"), "cluster", "down"]
        subprocess.run(
            down, env={**os.environ, "RCOPT_DATA_DIR": str(tmp_path / "cluster")}, capture_output=True
        )


async def test_the_explorer_measures_a_combination_and_shows_it(local_cluster, tmp_path):
    """The explorer's run without a browser: child process, records, history, chart."""
    from rediscluster_opt.lab.presentation.explorer import Explorer

    explorer = Explorer(tmp_path)
    explorer.stage_pickers["parser"].value = "python"
    explorer.trial_s.value = 0.2
    row = await explorer.run(explorer.plan())
    assert row is not None, explorer.status.value
    assert row["stages (vs optimized)"] == "parser=python" and row["chosen ops/s"] > 0
    assert explorer.status.value.startswith("done in") and explorer.chart.value[:4] == b"\x89PNG"
    assert "cProfile top 5" in explorer.details.value and "explorer-history-row" in explorer.table.value
    exported = explorer.export(tmp_path / "exported")
    assert len(exported) == 2 and all(p.exists() for p in exported)
