import uuid

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


@pytest.fixture
def prefix():
    """A unique key prefix, so tests never see each other's keys."""
    return f"t{uuid.uuid4().hex[:8]}"
