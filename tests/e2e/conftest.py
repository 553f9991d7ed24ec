import uuid

import pytest

from rediscluster_opt import ClusterClient, Stages, StandaloneClient

# Presets plus mixed combinations: every combination must give the same answers.
STAGE_SETS = [
    Stages.baseline(),
    Stages.optimized(),
    Stages.baseline().replace(parser="hiredis", writer="join", slot_hash="table"),
    Stages.optimized().replace(submit="event", slot_map="ranges", redirect="regex"),
    Stages.optimized().replace(
        node_select="locked", delivery="per_reply", writer="writelines", submit="future"
    ),
]


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


@pytest.fixture
def prefix():
    """A unique key prefix, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:8]}"
