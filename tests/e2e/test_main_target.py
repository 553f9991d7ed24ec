"""The main job against a cluster it did not start (the password-protected one on
7600-7602, no standalone server): it starts no server, keeps no secret, touches no key
outside the lab's prefix, and skips what the target does not allow, saying why. Quick
mode, the two stories with something to skip: US-007 (a benchmark, then the migration it
may not run) and US-010 (faults); test_notebooks.py runs every story against the local
cluster, and test_targets.py the benchmarks and REST against secured ones."""

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from rediscluster_opt.bench.sync import run_sync
from rediscluster_opt.bench.target import target_from
from rediscluster_opt.pytest_plugin import SECURED_ACL_USER

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

STORIES = ["US-007", "US-010"]


def redis_servers() -> set[int]:
    """pids of running redis-server processes that serve; the environment record runs
    `redis-server --version` once per run, which is a query, not a server. A sample whose
    command line cannot be read is passed over: a real server lives across many polls."""
    found = set()
    for p in psutil.process_iter(["name", "cmdline"]):
        line = p.info["cmdline"] or []
        if p.info["name"] == "redis-server" and line and "--version" not in line:
            found.add(p.pid)
    return found


def test_the_main_job_measures_a_foreign_cluster_and_leaves_it_as_it_was(secured_cluster, tmp_path):
    name, secret = SECURED_ACL_USER
    url = f"redis://{name}@{secured_cluster.seeds[0]}?password_env=LAB_SECRET"
    env = {**os.environ, "LAB_SECRET": secret}
    os.environ["LAB_SECRET"] = secret
    target = target_from(url)
    precious = {"someone:else": "precious", "rcopt-like:but-not": "mine"}
    run_sync(lambda: _call(target, "mset", precious))
    before = redis_servers()
    job = subprocess.Popen(
        [sys.executable, "-m", "rediscluster_opt.cli", "experiments", "--mode", "quick", "--only", *STORIES,
         "--target", url, "--results", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    started: set[int] = set()
    while job.poll() is None:  # a server started and stopped during the run counts too
        started |= redis_servers() - before
        time.sleep(0.2)
    output = job.stdout.read()
    assert job.returncode == 0, output[-3000:]
    assert not started, f"the main job started redis-server processes {started}"
    assert "no local cluster is started" in output
    summary = (tmp_path / "summary.md").read_text()
    assert "skipped: needs --allow-destructive" in summary  # US-007's migration
    assert "skipped: needs the local cluster" in summary  # US-010's faults
    assert run_sync(lambda: _call(target, "mget", *precious)) == [v.encode() for v in precious.values()]
    for path in Path(tmp_path).rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".ipynb"):
            assert secret not in path.read_text(), path
    assert secret not in output


async def _call(target, method, *args):
    from rediscluster_opt import ClusterClient

    async with await ClusterClient.connect(target.seeds, **target.client_options()) as client:
        return await getattr(client, method)(*args)
