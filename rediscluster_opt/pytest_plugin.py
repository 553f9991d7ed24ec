"""pytest fixtures for the local cluster. Enable with
``pytest_plugins = ["rediscluster_opt.pytest_plugin"]`` in a conftest.py.

`local_cluster` brings the default cluster up for the session if it is not already up,
and stops it at the end only if it started it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .localcluster import LocalCluster


@pytest.fixture(scope="session")
def local_cluster() -> Iterator[LocalCluster]:
    with LocalCluster() as cluster:
        yield cluster
