"""`make lab`'s script as a new user runs it (root here, no display): it registers the
project kernel, prints a URL with its token that answers, passes --allow-root, opens no
browser, and stops on Ctrl-C (the cluster stays up: the session started it, not the lab)."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

from rediscluster_opt.lab.main import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _interruptible() -> None:
    """The lab as a terminal starts it: Ctrl-C at its default. A test run launched in the
    background (`cmd &` in a script) inherits SIGINT ignored, the lab would inherit that
    too, and Ctrl-C could never stop it (a clean-clone run started so failed here)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_make_lab_prints_a_working_url_and_stops_on_ctrl_c(local_cluster, tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    env.update(
        LAB_PORT=str(port), JUPYTER_DATA_DIR=str(tmp_path / "data"), JUPYTER_CONFIG_DIR=str(tmp_path / "cfg")
    )
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
        assert url and url.startswith(f"http://127.0.0.1:{port}/lab?token=")
        token = url.rsplit("=", 1)[1]
        for _ in range(100):  # the server comes up right after the URL is printed
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/kernelspecs?token={token}"
                ) as answer:
                    specs = answer.read().decode()
                break
            except OSError:
                time.sleep(0.3)
        assert '"rediscluster_opt"' in specs  # the project's kernel, registered by the script
        assert (tmp_path / "data" / "kernels" / "rediscluster_opt" / "kernel.json").exists()
    finally:
        os.killpg(lab.pid, signal.SIGINT)  # Ctrl-C, to the whole process group as a terminal does
        try:
            lab.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            raise
    assert local_cluster.is_up()  # not the lab's to stop: it was up before


async def test_the_explorer_measures_a_combination_and_shows_it(local_cluster, tmp_path):
    """The explorer's run without a browser: child process, records, history, chart."""
    from rediscluster_opt.lab.explorer import Explorer

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
