"""Where redis-py sends a command, and how it merges several nodes' replies.

redis-py's asyncio RedisCluster (8.x, `_resolve_command_policies`) decides in this order:
its policy resolver's record for the command (a static table shipped with redis-py:
RANDOMKEY to every shard, FUNCTION STATS merged specially, module commands...), then its
node flags (`AbstractRedisCluster.COMMAND_FLAGS`: FLUSHALL to every primary, INFO to the
default node...), then the command's keys. This module asks redis-py's own resolver and
table, so the facade follows redis-py as it changes. No I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.cluster import AbstractRedisCluster
from redis.commands.metadata import RequestPolicy, ResponsePolicy
from redis.commands.policies import StaticPolicyResolver

__all__ = [
    "ALL_MASTERS", "ANY_MASTER", "BY_KEYS", "CONTAINERS", "DEFAULT_NODE", "NODE_FLAGS", "Route", "route_of",
]  # fmt: skip

# Where a command goes here. Replicas serve no keyless command in this client, so what
# redis-py sends to every node goes to every master.
ALL_MASTERS, ANY_MASTER, DEFAULT_NODE, BY_KEYS = "all masters", "any master", "default node", "by keys"
_BY_POLICY = {
    RequestPolicy.ALL_SHARDS: ALL_MASTERS,
    RequestPolicy.ALL_NODES: ALL_MASTERS,
    RequestPolicy.ALL_REPLICAS: ALL_MASTERS,
    RequestPolicy.DEFAULT_KEYLESS: DEFAULT_NODE,
    RequestPolicy.DEFAULT_NODE: DEFAULT_NODE,
    RequestPolicy.SPECIAL: DEFAULT_NODE,
    RequestPolicy.DEFAULT_KEYED: BY_KEYS,
    RequestPolicy.MULTI_SHARD: BY_KEYS,
}
NODE_FLAGS = {
    AbstractRedisCluster.PRIMARIES: ALL_MASTERS,
    AbstractRedisCluster.ALL_NODES: ALL_MASTERS,
    AbstractRedisCluster.REPLICAS: ALL_MASTERS,
    AbstractRedisCluster.RANDOM: ANY_MASTER,
    AbstractRedisCluster.DEFAULT_NODE: DEFAULT_NODE,
}
_RESOLVER = StaticPolicyResolver()
# Commands whose subcommand decides their route (CLIENT SETNAME, CONFIG GET...)
CONTAINERS = frozenset(name.split()[0] for name in AbstractRedisCluster.COMMAND_FLAGS if " " in name)


@dataclass(frozen=True)
class Route:
    to: str  # ALL_MASTERS, ANY_MASTER, DEFAULT_NODE or BY_KEYS
    response: ResponsePolicy | None = None  # how several replies merge, when redis-py says


def route_of(name: str) -> Route:
    """The route of command `name` ("CONFIG GET", "RANDOMKEY"), in redis-py's order."""
    policies = _RESOLVER.resolve(name.lower())
    if policies is not None and policies.request_policy is not None:
        return Route(_BY_POLICY[policies.request_policy], policies.response_policy)
    flags = AbstractRedisCluster.COMMAND_FLAGS
    flag = flags.get(name.upper(), flags.get(name.split()[0].upper()))
    if flag in NODE_FLAGS:
        return Route(NODE_FLAGS[flag])
    return Route(BY_KEYS)
