import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rediscluster_opt import ClusterClient, StandaloneClient
from tests.stage_sets import STAGE_SETS


@pytest.fixture(params=STAGE_SETS, ids=lambda s: s.label())
def stages(request):
    return request.param


@pytest.fixture
async def cluster_client(local_cluster, stages):
    client = await ClusterClient.connect(local_cluster.seeds, stages=stages)
    yield client
    await client.close()


@pytest.fixture
async def standalone_client(local_cluster, stages):
    client = await StandaloneClient.connect(local_cluster.standalone_address, stages=stages)
    yield client
    await client.close()


@pytest.fixture(params=["cluster", "standalone"])
async def client(request, local_cluster):
    """The optimized client on the cluster, then on the standalone server."""
    if request.param == "cluster":
        native = await ClusterClient.connect(local_cluster.seeds)
    else:
        native = await StandaloneClient.connect(local_cluster.standalone_address)
    yield native
    await native.close()


@pytest.fixture(params=["cluster", "standalone"])
async def pair(request, local_cluster):
    """(redis-py's client, the drop-in) on the same server(s), decode_responses=True."""
    redis_asyncio = pytest.importorskip("redis.asyncio")
    from rediscluster_opt.compat import Redis, RedisCluster
    from rediscluster_opt.core.address import split_address

    if request.param == "cluster":
        host, port = split_address(local_cluster.seeds[0])
        theirs, ours = redis_asyncio.RedisCluster, RedisCluster
    else:
        host, port = split_address(local_cluster.standalone_address)
        theirs, ours = redis_asyncio.Redis, Redis
    clients = (
        theirs(host=host, port=port, decode_responses=True),
        ours(host=host, port=port, decode_responses=True),
    )
    yield clients
    for one in clients:
        await one.aclose()


@pytest.fixture
def prefix():
    """A unique key prefix, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:8]}"


@dataclass
class QuickRun:
    """Every story notebook executed once by the main job in quick mode (results in a
    temporary folder); the generic checks are in test_notebooks, a story's own in
    tests/e2e/stories/."""

    results: Path
    run_dir: Path

    @property
    def figures(self) -> Path:
        return self.run_dir / "figures"

    def summary(self, story_id: str) -> dict[str, Any]:
        return json.loads((self.figures / f"{story_id}.summary.json").read_text())


@pytest.fixture(scope="session")
def quick_run(local_cluster, tmp_path_factory):
    from rediscluster_opt.lab.main import run_notebooks

    results = tmp_path_factory.mktemp("results")
    return QuickRun(results, run_notebooks("quick", results=results))
