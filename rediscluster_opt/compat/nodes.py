"""A cluster node as redis-py's `ClusterNode` describes it, for `target_nodes=` and
`pubsub(node=...)`: a description only, since the multiplexer holds the connections."""

from __future__ import annotations

from typing import Any

from redis.cluster import PRIMARY

__all__ = ["Node", "node_at"]


class Node:
    """A node as redis-py's `ClusterNode` describes it (host, port, name, server_type), to
    pass as `target_nodes=`. Only a description: the multiplexer holds the connections, so
    redis-py's connection internals of a node (`_free`, `redis_connection`...) are refused
    by name rather than taking a mock or a command that would never be used."""

    __slots__ = ("host", "name", "port", "server_type")

    def __init__(self, host: str, port: int, server_type: str = PRIMARY) -> None:
        self.host, self.port, self.server_type = host, port, server_type
        self.name = f"{host}:{port}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f"[host={self.host}, port={self.port}, name={self.name}, server_type={self.server_type}]"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from .facade import UnsupportedAttribute  # the facade's error, named where it is defined

        raise UnsupportedAttribute(f"ClusterNode.{name} is redis-py's own and is not supported here")


def node_at(address: str, server_type: str = PRIMARY) -> Node:
    host, _, port = address.rpartition(":")
    return Node(host, int(port), server_type)
