"""Both builds against the real cluster: the client says which build it runs, a process
asked for the compiled build gets it, and the bench runs both side by side. This file runs
in both passes of `make test` (scripts/test-builds.sh)."""

import json
import os
import subprocess
import sys

import pytest

from rediscluster_opt import ClusterClient, Stages, compiled
from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.bench.runner import run_benchmark
from rediscluster_opt.bench.workload import Workload
from rediscluster_opt.defaults import SEEDS
from rediscluster_opt.results import validate_record

pytestmark = pytest.mark.measures  # runs benchmarks: beside no other test (make test)

BUILT = compiled.ready()
needs_build = pytest.mark.skipif(
    not BUILT,
    reason="no compiled build of these sources yet (make test builds one meanwhile and runs these in its "
    "compiled pass; alone: rcopt build, which needs a C compiler)",
)


async def test_the_client_says_which_build_it_runs(local_cluster):
    client = await ClusterClient.connect(SEEDS, stages=Stages.optimized())
    try:
        await client.set("build:k", "v")
        assert await client.get("build:k") == b"v"
        assert client.describe()["build"] == compiled.loaded()
        if os.environ.get(compiled.ENV) in ("pure", "compiled"):
            assert client.describe()["build"] == os.environ[compiled.ENV]
    finally:
        await client.close()


PROBE = """
import asyncio, json, sys
import rediscluster_opt.core.resp as resp
from rediscluster_opt import ClusterClient, Stages

async def main():
    client = await ClusterClient.connect(sys.argv[1].split(","), stages=Stages.optimized())
    await client.set("build:probe", "x")
    value = await client.get("build:probe")
    print(json.dumps({"build": client.describe()["build"], "file": resp.__file__, "value": value.decode()}))
    await client.close()

asyncio.run(main())
"""


@needs_build
@pytest.mark.parametrize("build", ["pure", "compiled"])
def test_a_process_gets_the_build_it_asks_for(local_cluster, build, tmp_path):
    env = {**os.environ, compiled.ENV: build}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(SEEDS)], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    assert seen["build"] == build and seen["value"] == "x"
    assert seen["file"].endswith(".so") == (build == "compiled")


@needs_build
def test_micro_benchmarks_time_the_build_they_are_asked_for():
    from rediscluster_opt.lab.instruments import micro

    for build in ("pure", "compiled"):  # pyperf's workers start with a clean environment
        (row,) = micro.wall_times(["slot_hash.bitwise.k16"], smoke=True, build=build)
        assert row["build"] == build and row["ns"]["median"] > 0


@needs_build
def test_the_bench_runs_both_builds_side_by_side(local_cluster):
    configs = [ClientConfig.parse("optimized@pure"), ClientConfig.parse("optimized@compiled")]
    record = run_benchmark(
        configs, concurrency=[8], repeats=1, modes=["cluster"], experiment="smoke",
        duration=0.5, warmup=0.1, workload=Workload(key_count=200), progress=None, reruns=0,
    )  # fmt: skip
    validate_record(record)
    seen = {t["config"]: t for t in record["trials"]}
    assert set(seen) == {"optimized", "optimized @compiled"}
    for label, trial in seen.items():
        assert trial["status"] == "ok" and trial["valid"], trial.get("stderr_tail")
        assert trial["build"] == ("compiled" if label.endswith("@compiled") else "pure")
