"""Multiplexed Redis Cluster client: the client assembly (client/client.py) holding the
cluster's router (client/router.py).

The composed hot path (`_keyed` -> `Client._route`) is: slot hash, slot-map lookup, node
selection, submit, redirect check, each a stage function chosen at construction.
Everything else (connecting, MOVED/ASK, TRYAGAIN/CLUSTERDOWN, unassigned slots,
connection loss, backpressure) is the one slow path (client/slowpath.py).

Redirect policy: MOVED retries at the address the error names, patches that one slot at
once and asks for a refresh; ASK sends ASKING and the command together to the target with
no refresh. A redirect never closes a connection, since other callers' commands share it.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..core.address import parse_address
from ..core.commands import command_name, is_read_only
from ..core.resp import encode_command, to_bytes
from ..core.topology import Topology
from ..core.url import parse_url
from ..errors import ClusterDownError, ConfigurationError
from ..mux.dedicated import DedicatedConnections
from ..mux.multiplexer import SetupCommand
from ..mux.pool import MultiplexPool
from ..stages import Impl, Stages
from ..validate import check_number
from .client import Client, url_options
from .fused import subclass_of
from .outcome import NOT_SENT, Single
from .router import ClusterRouter
from .slowpath import RetryPolicy, SlowPath
from .suspects import STALL_AFTER

__all__ = ["ClusterClient"]

READ_FROM = ("primary", "replica", "prefer_replica", "any")
REPLICA_CHOICES = ("random", "round_robin")
_READONLY = SetupCommand("read_from", encode_command((b"READONLY",)))


class ClusterClient(Client):
    router: ClusterRouter

    def __init__(
        self,
        seeds: Iterable[str] | str,
        stages: Stages | None = None,
        *,
        min_refresh_interval: float = 0.25,
        refresh_interval: float | None = 10.0,
        topology_timeout: float = 1.0,
        read_from: str = "primary",
        replica_choice: str = "random",
        **options: Any,
    ) -> None:
        """`seeds`: "host:port" addresses (a list, or one string, comma-separated).
        `options`: see Client (timeouts, retries, credentials, TLS...). TRYAGAIN and
        CLUSTERDOWN are retried until the command's deadline (`command_timeout`), a
        failed connect `retry_attempts` times. `refresh_interval`: seconds between
        periodic topology refreshes (None: only on events), at most one refresh per
        `min_refresh_interval`. `topology_timeout`: how long one node may take to give
        its view of the layout before the refresh moves on (at most `command_timeout`).
        `read_from`: "primary", "replica" (reads only from a replica of the slot's shard),
        "prefer_replica" (a replica when one is reachable) or "any" (the primary or a
        replica: reads spread over the whole shard); writes always go to the primary.
        `replica_choice`: how a read picks among those nodes, "random" or "round_robin"
        (each in turn, per shard)."""
        if read_from not in READ_FROM:
            raise ValueError(f"read_from must be one of {', '.join(READ_FROM)}, got {read_from!r}")
        if replica_choice not in REPLICA_CHOICES:
            raise ValueError(
                f"replica_choice must be one of {', '.join(REPLICA_CHOICES)}, got {replica_choice!r}"
            )
        check_number("min_refresh_interval", min_refresh_interval, allow_zero=True, unit="seconds")
        check_number("topology_timeout", topology_timeout, unit="seconds")
        if refresh_interval is not None:
            check_number(
                "refresh_interval", refresh_interval, unit="seconds, or None for no periodic refresh"
            )
        for index, command in enumerate(options.get("setup_commands", ())):
            if command and command_name(command) == b"SELECT":
                raise ConfigurationError(
                    f"setup_commands[{index}]: SELECT is refused in cluster mode, which has database 0 only"
                )
        seed_list = seeds.split(",") if isinstance(seeds, str) else list(seeds)
        if not seed_list:
            raise ValueError("give at least one seed address, e.g. '127.0.0.1:7000'")
        self.seeds = [parse_address(s) for s in seed_list]
        command_timeout = options.get("command_timeout", 5.0)
        if isinstance(command_timeout, (int, float)) and not isinstance(command_timeout, bool):
            topology_timeout = min(topology_timeout, command_timeout)

        def cluster_router(
            pool: MultiplexPool,
            dedicated: DedicatedConnections,
            impl: Impl,
            counters: dict[str, int],
            policy: RetryPolicy,
        ) -> ClusterRouter:
            return ClusterRouter(
                pool=pool,
                dedicated=dedicated,
                impl=impl,
                seeds=self.seeds,
                counters=counters,
                backoff=policy.backoff,
                read_from=read_from,
                replica_choice=replica_choice,
                tls=self.tls,
                min_refresh_interval=min_refresh_interval,
                refresh_interval=refresh_interval,
                topology_timeout=topology_timeout,
                stall_after=min(STALL_AFTER, policy.command_timeout / 2),
            )

        # a replica serves reads only on a READONLY connection
        extra = (_READONLY,) if read_from != "primary" else ()
        super().__init__(cluster_router, stages, extra_setup=extra, **options)
        self.read_from = read_from
        self._slot_of = self.router.slot_of
        self._slot_map = self.router.slot_map
        self._lookup = self.router.lookup
        if read_from != "primary":
            self.__class__ = _reading_replicas(type(self))
            self._dispatch = {
                "dispatch": "composed",
                "not_fused": f"read_from={read_from} chooses replica or primary per command",
            }
        else:
            self._install_routes()

    @classmethod
    async def connect(
        cls, seeds: Iterable[str] | str, *, require_full_coverage: bool = True, **options: Any
    ) -> ClusterClient:
        """Build a client, load the topology from the seeds and return it."""
        client = cls(seeds, **options)
        try:
            topology = await client.refresh_topology()
            if require_full_coverage and not topology.is_complete:
                raise ClusterDownError(
                    f"the cluster at {', '.join(client.seeds)} serves only "
                    f"{topology.covered_slots} of 16384 slots"
                )
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def from_url(cls, url: str | Iterable[str], **options: Any) -> ClusterClient:
        """Connect from `redis://[user:password@]host:port[,host:port...]` (or a list of
        such URLs); see `rediscluster_opt.core.url`. Options override the URL's."""
        spec = parse_url(url)
        if spec.db:
            raise ValueError(f"{spec.redacted()}: a cluster has database 0 only, not {spec.db}")
        return await cls.connect(list(spec.addresses), **{**url_options(spec), **options})

    # -- hot path ---------------------------------------------------------------------------
    def _composed_route(self) -> tuple[Callable[..., Any], ...]:
        if self.read_from != "primary":
            return (ClusterClient._keyed_reads, ClusterClient._route_read, SlowPath.retry)
        return super()._composed_route()

    def _keyed(self, key: Any, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        slot = self._slot_of(key if type(key) is bytes else to_bytes(key))
        return self._route(slot, self._lookup(slot), args)

    # -- replicas ---------------------------------------------------------------------------
    def _keyed_reads(self, key: Any, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        slot = self._slot_of(key if type(key) is bytes else to_bytes(key))
        if is_read_only(args):
            return self._route_read(slot, args)
        return self._route(slot, self._lookup(slot), args)

    async def _route_read(self, slot: int, args: tuple[Any, ...]) -> Any:
        """A read for a replica of the slot's shard, through the slow path's steps as a
        master read: MOVED moves it to a replica of the new owner, ASK to the importing
        node, TRYAGAIN and CLUSTERDOWN are retried, a lost replica gives way to another
        (to the primary with "prefer_replica"; "replica" never reads from a primary,
        and raises ClusterDownError when no replica answers)."""
        address = self.router.target(slot, replica=True)
        if address is not None and address != self._lookup(slot):
            self.counters["replica_reads"] += 1
        return await self.slow.retry(slot, Single(self._encode, args), address, NOT_SENT, replica=True)

    # -- the topology -----------------------------------------------------------------------
    @property
    def topology(self) -> Topology:
        """The routing snapshot: masters, replicas and slots in one immutable value."""
        return self.router.topology

    async def refresh_topology(self) -> Topology:
        """Reload the layout from the cluster's view (see client/router.py)."""
        return await self.router.refresh()

    @property
    def refresh_interval(self) -> float | None:
        return self.router.refreshes.interval

    @property
    def min_refresh_interval(self) -> float:
        return self.router.refreshes.min_interval

    @property
    def topology_timeout(self) -> float:
        return self.router.topology_timeout

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "mode": "cluster",
            "seeds": list(self.seeds),
            "read_from": self.read_from,
        }


_REPLICA_READING: dict[type[ClusterClient], type[ClusterClient]] = {}


def _reading_replicas(base: type[ClusterClient]) -> type[ClusterClient]:
    """The class of a client whose reads may go to replicas: its keyed route asks per
    command whether the command reads (`_keyed_reads`), so no route is generated. One
    per client class, made on first use."""
    found = _REPLICA_READING.get(base)
    if found is None:
        found = _REPLICA_READING[base] = subclass_of(base, {"_keyed": base._keyed_reads})
    return found
