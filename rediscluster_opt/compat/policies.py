"""Where redis-py sends a keyless command, and how it merges several nodes' replies.

redis-py 8 routes a command by the server's command tips (COMMAND's
`request_policy:all_shards`, `response_policy:agg_sum` ...), then by its own node flags
(`AbstractRedisCluster.COMMAND_FLAGS`), then by its keys. This module reads the tips out of
a COMMAND reply and answers with the same order. No I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redis.cluster import AbstractRedisCluster
from redis.commands.metadata import RequestPolicy, ResponsePolicy

__all__ = ["ALL_MASTERS", "ANY_MASTER", "BY_KEYS", "NODE_FLAGS", "Route", "route_of", "tips_of"]

ALL_MASTERS, ANY_MASTER, BY_KEYS = "all masters", "any master", "by keys"
# redis-py's request policies and node flags, as this client sends: replicas serve no
# keyless command here, so a policy naming every node sends to every master
_BY_POLICY = {
    RequestPolicy.ALL_SHARDS: ALL_MASTERS,
    RequestPolicy.ALL_NODES: ALL_MASTERS,
    RequestPolicy.ALL_REPLICAS: ALL_MASTERS,
    RequestPolicy.DEFAULT_KEYLESS: ANY_MASTER,
    RequestPolicy.DEFAULT_NODE: ANY_MASTER,
    RequestPolicy.SPECIAL: ANY_MASTER,
    RequestPolicy.DEFAULT_KEYED: BY_KEYS,
    RequestPolicy.MULTI_SHARD: BY_KEYS,
}
NODE_FLAGS = {
    AbstractRedisCluster.PRIMARIES: ALL_MASTERS,
    AbstractRedisCluster.ALL_NODES: ALL_MASTERS,
    AbstractRedisCluster.REPLICAS: ALL_MASTERS,
    AbstractRedisCluster.RANDOM: ANY_MASTER,
    AbstractRedisCluster.DEFAULT_NODE: ANY_MASTER,
}


@dataclass(frozen=True)
class Route:
    to: str  # ALL_MASTERS, ANY_MASTER or BY_KEYS
    response: ResponsePolicy | None = None  # how several replies merge, when the server says


Tips = dict[str, tuple[str | None, str | None]]  # "config get" -> (request, response) policy


def tips_of(command_reply: Sequence[Any]) -> Tips:
    """The routing tips of every command (and subcommand) in a COMMAND reply."""
    found: Tips = {}
    for entry in command_reply:
        name = entry[0].decode().lower().replace("|", " ")
        request = response = None
        for tip in entry[7] if len(entry) > 7 else ():
            kind, _, value = tip.decode().partition(":")
            if kind == "request_policy":
                request = value
            elif kind == "response_policy":
                response = value
        if request or response:
            found[name] = (request, response)
        if len(entry) > 9 and entry[9]:
            found |= tips_of(entry[9])
    return found


def route_of(name: str, tips: Tips) -> Route:
    """redis-py's order: the server's tips, its node flags, the command's keys."""
    request, response = tips.get(name.lower(), (None, None))
    if request is not None:
        return Route(_BY_POLICY[RequestPolicy(request)], ResponsePolicy(response) if response else None)
    flag = AbstractRedisCluster.COMMAND_FLAGS.get(name.upper())
    if flag in NODE_FLAGS:
        return Route(NODE_FLAGS[flag], ResponsePolicy(response) if response else None)
    return Route(BY_KEYS)
