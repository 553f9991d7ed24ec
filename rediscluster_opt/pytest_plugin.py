"""pytest fixtures for the local cluster. Enable with
``pytest_plugins = ["rediscluster_opt.pytest_plugin"]`` in a conftest.py.

`local_cluster` brings the default cluster up for the session if it is not already up,
and stops it at the end only if it started it. `replica_cluster` is a second cluster of
its own, for fault tests: 3 masters with one replica each on 127.0.0.1:7400-7405, with a
short node timeout so a failed master is replaced within a few seconds. `secured_cluster`
needs a password (and has an ACL user), on 7600-7602. `tls_cluster` speaks TLS only and
needs a password: 3 masters on 7700-7702 and a standalone server on 7710, certificates
in its data folder (it skips its tests where openssl is missing).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .certs import CertificateError
from .localcluster import LocalCluster

REPLICA_CLUSTER_PORTS = (7400, 7401, 7402)
REPLICA_NODE_TIMEOUT_MS = 1500
SECURED_CLUSTER_PORTS = (7600, 7601, 7602)
SECURED_PASSWORD = "rcopt-test-password"  # a disposable local cluster's, not a secret
SECURED_ACL_USER = ("lab", "rcopt-lab-password")
TLS_CLUSTER_PORTS = (7700, 7701, 7702)
TLS_STANDALONE_PORT = 7710
TLS_PASSWORD = "rcopt-tls-password"  # a disposable local cluster's, not a secret


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster


def _own_cluster(factory: pytest.TempPathFactory, folder: str, **options: Any) -> Iterator[LocalCluster]:
    """A cluster of the session's own, in a temporary folder, stopped at the end; its
    tests skip, saying why, where certificates for a TLS one cannot be made."""
    cluster = LocalCluster(data_dir=factory.mktemp(folder), **options)
    try:
        started = cluster.up()
    except CertificateError as exc:
        pytest.skip(f"no {folder}: {exc}")
    try:
        yield cluster
    finally:
        if started:
            cluster.down()


@pytest.fixture(scope="session")
def replica_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    yield from _own_cluster(
        tmp_path_factory,
        "replica-cluster",
        ports=REPLICA_CLUSTER_PORTS,
        replicas=1,
        standalone_port=None,
        node_timeout=REPLICA_NODE_TIMEOUT_MS,
    )


@pytest.fixture(scope="session")
def secured_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """3 masters on 127.0.0.1:7600-7602 with `requirepass` (SECURED_PASSWORD) and an ACL
    user (SECURED_ACL_USER), for AUTH tests."""
    yield from _own_cluster(
        tmp_path_factory,
        "secured-cluster",
        ports=SECURED_CLUSTER_PORTS,
        standalone_port=None,
        password=SECURED_PASSWORD,
        acl_user=SECURED_ACL_USER,
    )


@pytest.fixture(scope="session")
def tls_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A TLS-only cluster with a password; `url()` gives a rediss:// URL trusting its CA."""
    yield from _own_cluster(
        tmp_path_factory,
        "tls-cluster",
        ports=TLS_CLUSTER_PORTS,
        standalone_port=TLS_STANDALONE_PORT,
        password=TLS_PASSWORD,
        tls=True,
    )
