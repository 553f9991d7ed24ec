"""Multiplexed Redis Cluster client.

The composed hot path (`_keyed` -> `BaseClient._route`) is: slot hash, slot-map lookup, node selection,
submit, redirect check, each a stage function chosen at construction. Everything else
(connecting, MOVED/ASK, TRYAGAIN/CLUSTERDOWN, unassigned slots, connection loss,
backpressure) is the one slow path every client shares, `BaseClient._retry`; this class
gives it the cluster's routing (`_target`, `_find_target`, `_move_slot`).

Redirect policy: MOVED retries at the address the error names, patches that one slot at
once and asks for a refresh; ASK sends ASKING and the command together to the target with
no refresh. A redirect never closes a connection, since other callers' commands share it.

The client is a coordinator of small parts: the routing snapshot (`Topology`, replaced
whole on a refresh or a MOVED reply, with the slot-map stage patched in the same step),
the refresh schedule (`client.refresh`: one refresh at a time, rate-limited, periodic),
suspect tracking (`client.suspects`: a timeout or a lost connection marks a node; the
topology is refreshed until its slots move, when its connections are closed so waiting
commands fail over at once, or until it answers again) and the shared slow path.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..core.address import parse_address, split_address
from ..core.commands import command_keys, is_read_only
from ..core.resp import to_bytes
from ..core.slots import SLOT_COUNT
from ..core.topology import Topology, TopologyError, parse_cluster_shards, parse_cluster_slots
from ..core.url import parse_url
from ..errors import (
    AuthenticationError,
    ClusterDownError,
    CrossSlotError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    TLSError,
)
from ..stages import Stages
from ..validate import check_number
from .base import (
    NOT_SENT,
    BaseClient,
    Single,
    Transaction,
    _Attempt,
    command_label,
    url_options,
)
from .refresh import RefreshSchedule
from .suspects import Suspects

__all__ = ["ClusterClient"]

READ_FROM = ("primary", "replica", "prefer_replica")
RETRY_BACKOFF_MAX = 0.5  # seconds: the longest pause between two tries of one command


class ClusterClient(BaseClient):
    def __init__(
        self,
        seeds: Iterable[str] | str,
        stages: Stages | None = None,
        *,
        max_redirects: int = 16,
        retry_attempts: int = 3,
        retry_backoff: float = 0.05,
        min_refresh_interval: float = 0.25,
        refresh_interval: float | None = 10.0,
        read_from: str = "primary",
        **options: Any,
    ) -> None:
        """`seeds`: "host:port" addresses (a list, or one string, comma-separated).
        `options`: see BaseClient. `max_redirects` bounds MOVED/ASK hops per command.
        TRYAGAIN and CLUSTERDOWN are retried until the command's deadline
        (`command_timeout`), a failed connect `retry_attempts` times; the pauses start at
        `retry_backoff` seconds and double up to RETRY_BACKOFF_MAX. `refresh_interval`:
        seconds between periodic topology refreshes (None: only on events), at most one
        refresh per `min_refresh_interval`. `read_from`: "primary", "replica" (reads only
        from a replica of the slot's shard) or "prefer_replica" (a replica when one is
        reachable); writes always go to the primary."""
        if read_from not in READ_FROM:
            raise ValueError(f"read_from must be one of {', '.join(READ_FROM)}, got {read_from!r}")
        check_number("max_redirects", max_redirects, integer=True, allow_zero=True)
        check_number("retry_attempts", retry_attempts, integer=True, allow_zero=True)
        check_number("retry_backoff", retry_backoff, allow_zero=True, unit="seconds")
        check_number("min_refresh_interval", min_refresh_interval, allow_zero=True, unit="seconds")
        if refresh_interval is not None:
            check_number(
                "refresh_interval", refresh_interval, unit="seconds, or None for no periodic refresh"
            )
        if read_from != "primary":  # a replica serves reads only on a READONLY connection
            options["setup_commands"] = (*options.get("setup_commands", ()), (b"READONLY",))
        super().__init__(stages, **options)
        seed_list = seeds.split(",") if isinstance(seeds, str) else list(seeds)
        if not seed_list:
            raise ValueError("give at least one seed address, e.g. '127.0.0.1:7000'")
        self.seeds = [parse_address(s) for s in seed_list]
        self.max_redirects = max_redirects
        self.retry_attempts = retry_attempts
        self.retry_backoff = retry_backoff
        self.read_from = read_from
        # The routing snapshot: masters, replicas and slots in one immutable value,
        # replaced whole (refresh, MOVED); the slot-map stage is patched in the same step.
        self.topology = Topology(())
        self._slot_of = self._impl.slot_hash
        self._slot_map = self._impl.slot_map(self.topology)
        self._lookup = self._slot_map.lookup
        self._refreshes = RefreshSchedule(
            self.refresh_topology, min_refresh_interval, refresh_interval, lambda: self._pool.closed
        )
        self._suspects = Suspects(
            self._pool, self._refreshes, lambda address: address in self.topology.replicas, self.counters
        )
        if read_from != "primary":
            self._keyed = self._keyed_reads  # type: ignore[method-assign]
            self._dispatch = {
                "dispatch": "composed",
                "not_fused": f"read_from={read_from} chooses replica or primary per command",
            }
        else:
            self._install_routes(self._slot_map, None, self._retry)
        self.counters.update(
            dict.fromkeys(
                (
                    "moved",
                    "ask",
                    "tryagain",
                    "clusterdown",
                    "reconnects",
                    "refreshes",
                    "refresh_failures",
                    "suspected",
                    "replica_reads",
                ),
                0,
            )
        )

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

    # -- hot path ---------------------------------------------------------------------
    def _composed_route(self) -> tuple[Callable[..., Any], ...]:
        if self.read_from != "primary":
            return (ClusterClient._keyed_reads, ClusterClient._route_read, ClusterClient._retry)
        return (ClusterClient._keyed, BaseClient._route)

    def _keyed(self, key: Any, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        slot = self._slot_of(key if type(key) is bytes else to_bytes(key))
        return self._route(slot, self._lookup(slot), args)

    # -- slow path hooks (the slow path itself is BaseClient._retry) -------------------
    async def _find_target(self, slot: int | None, args: tuple[Any, ...], attempt: _Attempt) -> bool:
        """A slot with no known owner (or, for a replica read, no replica): refresh and
        look again. A replica read waits for a replica until the deadline, as for
        CLUSTERDOWN: between a failover and the old master's resync a shard has none."""
        assert slot is not None  # a pinned command always has its node
        await self._refreshes.wait()
        attempt.address = self._target(slot, attempt.replica)
        if attempt.address is None and attempt.replica:
            attempt.transient += 1
            pause = self._backoff(attempt.transient)
            if self._now() + pause < attempt.deadline:
                self._refreshes.request()
                await asyncio.sleep(pause)
                return False
        if attempt.address is None:
            served = "has no replica that answers" if attempt.replica else "is not served by any node"
            raise ClusterDownError(f"{command_label(args)}: slot {slot} {served}")
        return True

    def _layout_changed(self) -> None:
        self._refreshes.request()

    def _target(self, slot: int | None, replica: bool) -> str | None:
        """Where the command's next try goes: the slot's owner; for a replica read, a
        replica of it that is not suspect (with "prefer_replica", the owner when there
        is none). None: no such node is known (the caller refreshes, then gives up)."""
        assert slot is not None  # only an unpinned command asks where to go
        owner = self._lookup(slot)
        if not replica or owner is None:
            return owner
        chosen = self._replica_of(owner)
        if chosen is None and self.read_from == "prefer_replica":
            return owner
        return chosen

    # -- replicas ---------------------------------------------------------------------
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
        address = self._target(slot, replica=True)
        if address is not None and address != self._lookup(slot):
            self.counters["replica_reads"] += 1
        return await self._retry(slot, Single(self._encode, args), address, NOT_SENT, replica=True)

    def _replica_of(self, master: str) -> str | None:
        replicas = [r for r in self.topology.replicas.get(master, ()) if r not in self._suspects]
        return random.choice(replicas) if replicas else None

    # -- transactions and blocking commands -------------------------------------------
    async def _run_transaction(self, keys: list[bytes], request: Transaction) -> Any:
        slots = {self._slot_of(key) for key in keys}
        if len(slots) > 1:
            raise CrossSlotError(
                f"transaction keys hash to {len(slots)} slots "
                f"({', '.join(k.decode('utf-8', 'replace') for k in keys[:6])}); all keys of "
                "one transaction must share a slot: use a hash tag, e.g. {user1}:a and {user1}:b"
            )
        slot = slots.pop() if slots else random.randrange(SLOT_COUNT)
        return await self._retry(slot, request, self._lookup(slot), NOT_SENT)

    async def _blocking_keyed(self, key: Any, args: tuple[Any, ...], seconds: float) -> Any:
        """On a dedicated connection of the slot's owner. Its replies take the slow path's
        steps (`_absorb`: MOVED, TRYAGAIN and CLUSTERDOWN, the redirect bound), except ASK:
        mid-migration it waits for the slot to settle rather than block on the importing
        node. The whole call ends within `seconds` plus command_timeout."""
        slot = self._slot_of(to_bytes(key))
        attempt = _Attempt(self._lookup(slot), self._now() + seconds + self.command_timeout)
        while True:
            if attempt.address is None:  # refresh and look again, or ClusterDownError
                await self._find_target(slot, args, attempt)
            assert attempt.address is not None
            remaining = attempt.deadline - self._now()
            if remaining <= 0:
                raise RedisTimeoutError(
                    f"{command_label(args)}: no reply within its timeout plus command_timeout"
                )
            reply = await self._blocking(attempt.address, args, remaining)
            if await self._absorb(reply, slot, args, attempt, None):
                return reply
            if attempt.asking:
                attempt.address, attempt.asking = self._lookup(slot), False
                await asyncio.sleep(self.retry_backoff)

    # -- pipelines --------------------------------------------------------------------
    def _placement(self, args: tuple[Any, ...], key: Any = None) -> tuple[int | None, str | None]:
        """A keyed command goes to its slot's owner (all its keys must share the slot, as
        on the server); a keyless one is pinned to any one master."""
        if key is not None:  # the command's one key, as the pipeline's own method knows it
            slot = self._slot_of(key if type(key) is bytes else to_bytes(key))
            return slot, self._lookup(slot)
        keys = command_keys(args)
        if not keys:
            if not self.topology.masters:
                raise ClusterDownError(
                    f"{command_label(args)}: no master is known; the last topology refresh failed"
                )
            return None, random.choice(self.topology.masters)
        slots = {self._slot_of(key) for key in keys}
        if len(slots) > 1:
            raise CrossSlotError(
                f"{command_label(args)}: its keys hash to {len(slots)} slots; in a pipeline, as on the "
                "server, one command's keys must share a slot (use a hash tag, e.g. {user1}:a and {user1}:b)"
            )
        slot = slots.pop()
        return slot, self._lookup(slot)

    # -- multi-key and keyless --------------------------------------------------------
    async def _per_slot(self, command: bytes, items: list[tuple[Any, ...]]) -> list[tuple[list[int], Any]]:
        groups: dict[int, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(self._slot_of(to_bytes(item[0])), []).append(index)

        async def send(slot: int, indexes: list[int]) -> tuple[list[int], Any]:
            args = (command, *(part for i in indexes for part in items[i]))
            return indexes, await self._route(slot, self._lookup(slot), args)

        if len(groups) <= 1:
            return [await send(slot, indexes) for slot, indexes in groups.items()]
        return await _gather_or_raise(send(slot, indexes) for slot, indexes in groups.items())

    async def _keyless(self, args: tuple[Any, ...], target: str | None) -> Any:
        if not self.topology.masters:
            await self._refreshes.wait()
            if not self.topology.masters:
                raise ClusterDownError(
                    f"{command_label(args)}: no master is known; the last topology refresh failed"
                )
        if target == "all":
            masters = self.topology.masters
            replies = await _gather_or_raise(self._route(None, a, args) for a in masters)
            return dict(zip(masters, replies, strict=True))
        address = parse_address(target) if target else random.choice(self.topology.masters)
        return await self._route(None, address, args)

    # -- topology ---------------------------------------------------------------------
    async def refresh_topology(self) -> Topology:
        """Reload the layout from any node that answers: known masters first (in random
        order), then their replicas, then the seeds; suspect nodes last, since a hung
        node would hold the refresh for a whole command timeout."""
        # Rate limits count attempts, not successes: a cluster that cannot answer is not
        # asked again at once by every waiting command.
        self._refreshes.attempted()
        known = list(self.topology.masters)
        random.shuffle(known)
        replicas = [r for rs in self.topology.replicas.values() for r in rs]
        order = list(dict.fromkeys([*known, *replicas, *self.seeds]))
        order.sort(key=lambda address: address in self._suspects)  # stable: healthy first
        failures = []
        for address in order:
            try:
                topology = await self._fetch_topology(address)
            except (AuthenticationError, TLSError):
                raise  # the next node wants the same credentials or certificate: say so, not "cluster down"
            except (RedisError, TopologyError) as exc:
                failures.append(f"{address}: {exc}")
                continue
            if not topology.ranges:
                failures.append(f"{address}: no slots assigned")
                continue
            self._install(topology)
            return topology
        self.counters["refresh_failures"] += 1
        raise ClusterDownError("no node gave a cluster topology: " + "; ".join(failures))

    async def _fetch_topology(self, address: str) -> Topology:
        host = split_address(address)[0]
        try:
            shards = await self._route(None, address, (b"CLUSTER", b"SHARDS"))
            return parse_cluster_shards(shards, host, tls=self.tls)
        except ResponseError as exc:
            if "cluster support disabled" in exc.message:
                raise
        # CLUSTER SHARDS is Redis >= 7.0; older servers only know CLUSTER SLOTS.
        return parse_cluster_slots(await self._route(None, address, (b"CLUSTER", b"SLOTS")), host)

    def _install(self, topology: Topology) -> None:
        self.topology = topology
        self._slot_map.replace(topology)
        self._refreshes.attempted()
        self.counters["refreshes"] += 1
        self._refreshes.start_periodic()

    def _move_slot(self, slot: int, address: str) -> None:
        """A MOVED reply: the snapshot and the slot map say so at once, and a refresh
        brings the rest of the layout (the moved slot is rarely the only one)."""
        self.topology = self.topology.moved(slot, address)
        self._slot_map.patch(slot, address)
        self._refreshes.request()

    # -- suspects ---------------------------------------------------------------------
    def _connection_lost(self, address: str | None) -> None:
        if address is not None:
            self._suspects.mark(address)

    def _connect_failed(self, address: str) -> None:
        self._suspects.mark(address)

    @property
    def refresh_interval(self) -> float | None:
        return self._refreshes.interval

    @property
    def min_refresh_interval(self) -> float:
        return self._refreshes.min_interval

    async def close(self) -> None:
        self._refreshes.cancel()
        self._suspects.cancel()
        await super().close()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "mode": "cluster",
            "seeds": list(self.seeds),
            "read_from": self.read_from,
        }


async def _gather_or_raise(coroutines: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """gather() that waits for every coroutine, then raises the first failure, so no
    exception is left unretrieved in a sibling task."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
