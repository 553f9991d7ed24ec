"""The package as a user installs it: the wheel built from this tree, in a fresh virtualenv
outside the checkout, first without extras, then with the lab's packages beside it.

The lab's packages are not downloaded again: a `.pth` file puts this interpreter's
site-packages behind the fresh environment's own, which holds the wheel (a `.pth` in a
folder added that way is not run, so the checkout's editable install stays out)."""

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = re.compile(r"<!-- app-example:.*?-->\s*```python\n(.*?)```\s*<!-- /app-example -->", re.S)


def run(args, cwd, env=None, timeout=300):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("RCOPT_", "PYTHON"))}
    return subprocess.run(
        args, cwd=cwd, env={**environment, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv with the wheel and its required dependencies only; returns its bin/."""
    base = tmp_path_factory.mktemp("installed")
    dist = base / "dist"
    built = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], base)
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next(dist.glob("rediscluster_opt-*.whl"))
    made = run([sys.executable, "-m", "venv", str(base / "venv")], base)
    assert made.returncode == 0, made.stderr
    bin_dir = base / "venv" / "bin"
    done = run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheel)], base)
    assert done.returncode == 0, done.stderr[-2000:]
    return bin_dir


def site_packages(bin_dir: Path) -> Path:
    out = run(
        [str(bin_dir / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], "/"
    )
    return Path(out.stdout.strip())


def test_the_core_install_has_the_client_and_a_cli_that_names_missing_extras(installed, tmp_path):
    python = str(installed / "python")
    imported = run([python, "-c", "import rediscluster_opt, sys; print(rediscluster_opt.__file__)"], tmp_path)
    assert imported.returncode == 0, imported.stderr
    assert str(installed.parent) in imported.stdout  # the wheel, not the checkout
    code = "import importlib.util as u; print([m for m in ('orjson', 'papermill') if u.find_spec(m)])"
    assert run([python, "-c", code], tmp_path).stdout.strip() == "[]", "the core install has a lab package"

    helped = run([str(installed / "rcopt"), "--help"], tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "bench" in helped.stdout and "experiments" in helped.stdout

    bench = run([str(installed / "rcopt"), "bench", "--clients", "optimized"], tmp_path)
    assert bench.returncode == 2
    assert "pip install 'rediscluster_opt[lab]'" in bench.stderr
    assert "Traceback" not in bench.stderr
    assert not (tmp_path / "results").exists()


def test_the_wheel_carries_the_native_hot_path_where_a_compiler_is(installed, local_cluster, tmp_path):
    """pip built hotpath.pyx into the wheel (setup.py), keyed by its source: the installed
    package loads it and runs GETs on the native preset, with no `rcopt build`."""
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    if shutil.which("gcc") is None or not headers.is_file():
        pytest.skip("no C compiler or no Python.h here: the wheel is built without the native hot path")
    code = (
        "import asyncio\n"
        "from rediscluster_opt import ClusterClient, Stages, native\n"
        "assert native.load() is not None and native.installed() is not None, native.missing()\n"
        "async def main():\n"
        f"    seeds = {local_cluster.seeds[0]!r}\n"
        "    async with await ClusterClient.connect(seeds, stages=Stages.native()) as c:\n"
        "        await c.set('rcopt:installed:native', 'v')\n"
        "        print(await c.get('rcopt:installed:native'), c.describe()['stages']['submit'])\n"
        "asyncio.run(main())\n"
    )
    done = run([str(installed / "python"), "-c", code], tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["b'v'", "native"]


def test_the_readme_application_example_runs_as_written(installed, local_cluster, tmp_path):
    example = EXAMPLE.search((ROOT / "README.md").read_text())
    assert example, "README.md has no app-example block"
    script = tmp_path / "app.py"
    script.write_text(example.group(1))
    done = run([str(installed / "python"), str(script)], tmp_path, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == ["b'hello'", "[b'hello', None]"]


def test_an_installed_bench_writes_its_record_where_it_runs(installed, local_cluster, tmp_path):
    lab = sysconfig.get_paths()["purelib"]  # this environment's lab packages, behind the wheel
    (site_packages(installed) / "zz_lab_packages.pth").write_text(lab + "\n")
    workdir = tmp_path / "empty"
    workdir.mkdir()
    args = ["bench", "--clients", "optimized", "--modes", "cluster", "--concurrency", "4"]
    # --reruns 0: this checks where the record goes, and make test runs it beside other
    # work, where re-running each contaminated trial after a quiet second took 90 s
    args += ["--duration", "0.3", "--warmup", "0.05", "--repeats", "1", "--no-pin", "--reruns", "0"]
    done = run([str(installed / "rcopt"), *args], workdir, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    records = list((workdir / "results" / "cluster").glob("*_bench.json"))
    assert len(records) == 1, sorted(p.relative_to(workdir) for p in workdir.rglob("*"))
    record = json.loads(records[0].read_text())
    assert [t["status"] for t in record["trials"]] == ["ok"]
    assert f"record: {records[0]}" in done.stdout
