"""A drop-in for redis-py's asyncio clients: `from rediscluster_opt.compat import RedisCluster`.

redis-py's own command methods and reply shapes over the multiplexed client (see
`compat.facade`). It needs redis-py itself: `pip install 'rediscluster_opt[compat]'`.
"""

from __future__ import annotations

try:
    import redis as _redis  # noqa: F401  # the mixins and callbacks the facade reuses
except ImportError as exc:  # pragma: no cover  # the extra names what to install
    raise ImportError(
        "rediscluster_opt.compat reuses redis-py's command methods: pip install 'rediscluster_opt[compat]'"
    ) from exc

from .facade import Redis, RedisCluster, UnsupportedOption

__all__ = ["Redis", "RedisCluster", "UnsupportedOption"]
