"""pytest fixtures for the local cluster. Enable with
``pytest_plugins = ["rediscluster_opt.pytest_plugin"]`` in a conftest.py.

`local_cluster` brings the default cluster up for the session if it is not already up,
and stops it at the end only if it started it. `replica_cluster` is a second cluster of
its own, for fault tests: 3 masters with one replica each on 127.0.0.1:7400-7405, with a
short node timeout so a failed master is replaced within a few seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .localcluster import LocalCluster

REPLICA_CLUSTER_PORTS = (7400, 7401, 7402)
REPLICA_NODE_TIMEOUT_MS = 1500


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def replica_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    cluster = LocalCluster(
        ports=REPLICA_CLUSTER_PORTS,
        replicas=1,
        standalone_port=None,
        node_timeout=REPLICA_NODE_TIMEOUT_MS,
        data_dir=tmp_path_factory.mktemp("replica-cluster"),
    )
    with cluster:
        yield cluster
