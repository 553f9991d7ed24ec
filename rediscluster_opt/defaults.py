"""Where the local cluster lives: the one place its addresses are written down. A leaf
module: it imports nothing of the package."""

from __future__ import annotations

__all__ = ["CLUSTER_PORTS", "HOST", "KEY_PREFIX", "SEEDS", "STANDALONE", "STANDALONE_PORT"]

HOST = "127.0.0.1"
CLUSTER_PORTS = (7000, 7001, 7002, 7003, 7004)  # five masters, no replicas
STANDALONE_PORT = 7100  # not 6379, so a system redis-server never collides
SEEDS = (f"{HOST}:{CLUSTER_PORTS[0]}",)
STANDALONE = f"{HOST}:{STANDALONE_PORT}"
# Every key the lab writes starts with this, so on someone else's cluster it deletes only
# its own keys (benchmarks, the REST cache, migrations).
KEY_PREFIX = "rcopt:"
