"""Where a command goes: the router a client holds (the cluster's, or a standalone
server's), behind the slow path's `Router` protocol (client/slowpath.py).

The cluster router owns the routing snapshot (`Topology`, replaced whole on a refresh or a
MOVED reply, with the slot-map stage patched in the same step), the refresh schedule
(client/refresh.py), suspect tracking and the stall watch (client/suspects.py), replica
choice, and the placement of pipelined, multi-key and keyless commands.

A refresh follows the cluster's view, not one node's. It asks up to `FANOUT` nodes at
once, each within `topology_timeout` (a hung node costs that, never a command timeout),
moving on to the next ones until two have answered; of the views read, one from a node
that another reports failed is passed over, and the most recent by epoch wins
(core.topology.choose_view). A master woken after its replica's promotion still
describes itself as the owner of its slots: adopted, that view would send writes to it
that the cluster discards at its resync.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from typing import Any

from ..core.address import parse_address, split_address
from ..core.commands import command_keys, command_name
from ..core.resp import ReplyError, encode_command, to_bytes
from ..core.topology import (
    Topology,
    TopologyError,
    View,
    choose_view,
    parse_cluster_epoch,
    parse_cluster_shards,
    parse_cluster_slots,
)
from ..errors import (
    AuthenticationError,
    ClusterDownError,
    ConfigurationError,
    CrossSlotError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    TLSError,
    response_error,
)
from ..mux.dedicated import DedicatedConnections
from ..mux.pool import MultiplexPool
from ..stages.contracts import Impl
from .outcome import replies_of
from .refresh import RefreshSchedule
from .slowpath import Attempt, command_label
from .suspects import STALL_AFTER, Suspects

__all__ = ["FANOUT", "ClusterRouter", "Placement", "StandaloneRouter"]

FANOUT = 3  # nodes asked at once for the topology
_SHARDS = encode_command((b"CLUSTER", b"SHARDS"))
_INFO = encode_command((b"CLUSTER", b"INFO"))
_SLOTS = encode_command((b"CLUSTER", b"SLOTS"))
_PING = encode_command((b"PING",))
# What a node answers for every node alike: asking the next one cannot help.
_SAME_EVERYWHERE = (AuthenticationError, TLSError, ConfigurationError)

# Keyless commands whose answer is one node's share of the keys: sent to any one master,
# they would answer for a random fifth of the cluster, and a SCAN cursor would continue
# on another node.
_ONE_NODES_KEYS = {
    b"SCAN": (
        "SCAN in cluster mode needs target='host:port' (one of client.topology.masters), the same "
        "node for every call of one scan: a cursor belongs to the node that gave it"
    ),
    b"KEYS": (
        "KEYS in cluster mode needs a target: target='all' gives every master's keys (a dict "
        "per node), target='host:port' one node's"
    ),
}

Placement = tuple[int | None, str | None]  # (slot, its owner) or (None, the node it is pinned to)


class ClusterRouter:
    def __init__(
        self,
        *,
        pool: MultiplexPool,
        dedicated: DedicatedConnections,
        impl: Impl,
        seeds: Sequence[str],
        counters: dict[str, int],
        backoff: Callable[[int], float],
        read_from: str = "primary",
        replica_choice: str = "random",
        tls: bool = False,
        min_refresh_interval: float = 0.25,
        refresh_interval: float | None = 10.0,
        topology_timeout: float = 1.0,
        stall_after: float = STALL_AFTER,
    ) -> None:
        self._pool = pool
        self._dedicated = dedicated
        self.seeds = list(seeds)
        self._counters = counters
        self._backoff = backoff
        self.read_from = read_from
        self.replica_choice = replica_choice
        self._turns: dict[str, int] = {}  # master -> its shard's next turn ("round_robin")
        self._tls = tls
        self.topology_timeout = topology_timeout
        self.topology = Topology(())
        self.slot_of = impl.slot_hash
        self.slot_map = impl.slot_map(self.topology)
        self.lookup = self.slot_map.lookup
        self.refreshes = RefreshSchedule(
            self.refresh, min_refresh_interval, refresh_interval, lambda: pool.closed
        )
        self.suspects = Suspects(
            pool, self.refreshes, self.is_master, counters, stall_after=stall_after, probe=self._probe_blocked
        )
        self._probed: dict[str, float] = {}  # node -> when its blocked commands' probe last went
        self.clusterscan: bool | None = None  # do the servers have CLUSTERSCAN? (client/scan.py)

    # -- the slow path's Router protocol ------------------------------------------------
    def target(self, slot: int, replica: bool) -> str | None:
        """The slot's owner; for a replica read, a replica of it that is not suspect
        (with "prefer_replica", the owner when there is none; with "any", the owner or
        one of those replicas). None: no such node is known."""
        owner = self.lookup(slot)
        if not replica or owner is None:
            return owner
        if self.read_from == "any":
            return self._choose(owner, [owner, *self._answering_replicas(owner)])
        chosen = self.replica_of(owner)
        if chosen is None and self.read_from == "prefer_replica":
            return owner
        return chosen

    async def locate(self, slot: int, label: str, attempt: Attempt) -> bool:
        """A slot with no known owner (or, for a replica read, no replica): refresh and
        look again. A replica read waits for a replica until the deadline, as for
        CLUSTERDOWN: between a failover and the old master's resync a shard has none."""
        await self.refreshes.wait()
        attempt.address = self.target(slot, attempt.replica)
        if attempt.address is None and attempt.replica:
            attempt.transient += 1
            pause = self._backoff(attempt.transient)
            if asyncio.get_running_loop().time() + pause < attempt.deadline:
                self.refreshes.request()
                await asyncio.sleep(pause)
                return False
        if attempt.address is None:
            served = "has no replica that answers" if attempt.replica else "is not served by any node"
            raise ClusterDownError(f"{label}: slot {slot} {served}")
        return True

    def moved(self, slot: int, address: str) -> None:
        """A MOVED reply: the snapshot and the slot map say so at once, and a refresh
        brings the rest of the layout (the moved slot is rarely the only one)."""
        self.topology = self.topology.moved(slot, address)
        self.slot_map.patch(slot, address)
        self._dedicated.close_moved(self.serves)
        self.refreshes.request()

    def layout_changed(self) -> None:
        self.refreshes.request()

    async def relearn(self) -> None:
        """Re-read the layout now (at most once per `min_refresh_interval`)."""
        await asyncio.shield(self.refreshes.request())

    def node_failed(self, address: str) -> None:
        self.suspects.mark(address)

    # -- placement ----------------------------------------------------------------------
    def is_master(self, address: str) -> bool:
        return address in self.topology.replicas

    def serves(self, address: str, slot: int | None) -> bool:
        """Does `address` still serve `slot` (any slot, for None) as its owner or a replica?"""
        if slot is None:
            return self.is_master(address) or any(address in rs for rs in self.topology.replicas.values())
        owner = self.lookup(slot)
        return address == owner or (owner is not None and address in self.topology.replicas.get(owner, ()))

    def replica_of(self, master: str) -> str | None:
        return self._choose(master, self._answering_replicas(master))

    def _answering_replicas(self, master: str) -> list[str]:
        return [r for r in self.topology.replicas.get(master, ()) if r not in self.suspects]

    def _choose(self, master: str, nodes: list[str]) -> str | None:
        """One of a shard's `nodes` for a read: at random, or each in turn ("round_robin")."""
        if not nodes:
            return None
        if self.replica_choice == "random":
            return random.choice(nodes)
        turn = self._turns.get(master, 0)
        self._turns[master] = turn + 1
        return nodes[turn % len(nodes)]

    def slot_for(self, key: Any) -> int:
        return self.slot_of(key if type(key) is bytes else to_bytes(key))

    def shared_slot(self, keys: Sequence[Any], what: str) -> int | None:
        """The one slot every key hashes to (None for no keys); CrossSlotError names
        `what` otherwise, before anything is sent."""
        slots = {self.slot_for(key) for key in keys}
        if len(slots) > 1:
            shown = ", ".join(to_bytes(k).decode("utf-8", "replace") for k in list(keys)[:6])
            raise CrossSlotError(
                f"{what}: its keys hash to {len(slots)} slots ({shown}); all keys of one "
                "command or transaction must share a slot: use a hash tag, e.g. {user1}:a and {user1}:b"
            )
        return slots.pop() if slots else None

    def place(self, args: tuple[Any, ...], key: Any = None) -> Placement:
        """Where a pipelined command goes: its slot and the slot's owner (all its keys
        must share the slot, as on the server); a keyless one is pinned to any one master.
        `key`: the command's one key, when the caller knows it."""
        if key is not None:
            slot = self.slot_for(key)
            return slot, self.lookup(slot)
        keys = command_keys(args)
        if not keys:
            return None, self.any_master(args)
        shared = self.shared_slot(keys, f"{command_label(args)} in a pipeline")
        assert shared is not None  # there are keys
        return shared, self.lookup(shared)

    def any_master(self, args: tuple[Any, ...]) -> str:
        if not self.topology.masters:
            raise ClusterDownError(
                f"{command_label(args)}: no master is known; the last topology refresh failed"
            )
        return random.choice(self.topology.masters)

    def per_slot(self, first_keys: Sequence[Any]) -> dict[int | None, list[int]]:
        """Item indexes grouped by their key's slot, in order (a multi-key command split)."""
        groups: dict[int | None, list[int]] = {}
        for index, key in enumerate(first_keys):
            groups.setdefault(self.slot_for(key), []).append(index)
        return groups

    async def nodes(self, args: tuple[Any, ...], target: str | None) -> list[str]:
        """Where a keyless command goes: every master ("all"), the node named, or any one
        master; SCAN and KEYS need a target (their answer is one node's keys)."""
        name = command_name(args)
        if target is None and name in _ONE_NODES_KEYS:
            raise ValueError(_ONE_NODES_KEYS[name])
        if not self.topology.masters:
            await self.refreshes.wait()
        if target == "all":
            if not self.topology.masters:
                self.any_master(args)  # raises, naming the command
            return list(self.topology.masters)
        return [parse_address(target) if target else self.any_master(args)]

    # -- the topology ---------------------------------------------------------------------
    def _candidates(self) -> list[str]:
        """Nodes to ask, in order: known masters (shuffled), their replicas, the seeds;
        suspect ones last, since a hung node costs a whole topology_timeout."""
        known = list(self.topology.masters)
        random.shuffle(known)
        replicas = [r for rs in self.topology.replicas.values() for r in rs]
        order = list(dict.fromkeys([*known, *replicas, *self.seeds]))
        order.sort(key=lambda address: address in self.suspects)  # stable: healthy first
        return order

    async def refresh(self) -> Topology:
        """Reload the layout from the cluster's view (see the module's docstring)."""
        # Rate limits count attempts, not successes: a cluster that cannot answer is not
        # asked again at once by every waiting command.
        self.refreshes.attempted()
        candidates = self._candidates()
        healthy = [address for address in candidates if address not in self.suspects]
        suspect = [address for address in candidates if address in self.suspects]
        views: list[View] = []
        failures: list[str] = []
        # Two views from nodes thought healthy are enough to tell a failed node's own view;
        # when fewer answer, the suspect ones are asked, and one view is taken as it is.
        await self._read_views(healthy, 2, views, failures)
        if not views:
            await self._read_views(suspect, 1, views, failures)
        chosen = choose_view(views)
        if chosen is None:
            self._counters["refresh_failures"] += 1
            raise ClusterDownError("no node gave a cluster topology: " + "; ".join(failures))
        self.install(chosen.topology)
        return chosen.topology

    async def _read_views(
        self, order: list[str], enough: int, views: list[View], failures: list[str]
    ) -> None:
        """Ask `order`'s nodes, FANOUT at a time, until `enough` views are in; a node that
        has not answered when they are is left (its read is cancelled)."""
        for start in range(0, len(order), FANOUT):
            reads = {
                asyncio.ensure_future(self._read_view(address)): address
                for address in order[start : start + FANOUT]
            }
            try:
                pending = set(reads)
                while pending and len(views) < enough:
                    done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                    for read in done:
                        self._take_view(reads[read], read, views, failures)
            finally:
                for read in reads:
                    if not read.done():
                        read.cancel()
            if len(views) >= enough:
                return

    @staticmethod
    def _take_view(address: str, read: asyncio.Future[View], views: list[View], failures: list[str]) -> None:
        error = read.exception()
        if isinstance(error, _SAME_EVERYWHERE):
            raise error  # the next node wants the same credentials or certificate
        if error is not None:
            if not isinstance(error, (RedisError, TopologyError)):
                raise error
            failures.append(f"{address}: {error}")
        elif not read.result().topology.ranges:
            failures.append(f"{address}: no slots assigned")
        else:
            views.append(read.result())

    async def _read_view(self, address: str) -> View:
        """`address`'s view: CLUSTER SHARDS (CLUSTER SLOTS before Redis 7) and its epoch,
        within `topology_timeout`; a node that does not answer in time is suspect."""
        host = split_address(address)[0]
        try:
            async with asyncio.timeout(self.topology_timeout):
                mux = self._pool.pick(address) or await self._pool.connect(address)
                shards, info = await replies_of(mux.execute_many([_SHARDS, _INFO]))
                if type(shards) is not ReplyError:
                    topology = parse_cluster_shards(shards, host, tls=self._tls)
                elif "unknown" not in shards.args[0].lower():  # NOAUTH, cluster support disabled...
                    raise response_error(shards.args[0], node=address, command="CLUSTER SHARDS")
                else:  # CLUSTER SHARDS is Redis >= 7.0; older servers only know CLUSTER SLOTS
                    (slots,) = await replies_of(mux.execute_many([_SLOTS]))
                    if type(slots) is ReplyError:
                        raise response_error(slots.args[0], node=address, command="CLUSTER SLOTS")
                    topology = parse_cluster_slots(slots, host)
        except TimeoutError:
            self.node_failed(address)
            raise RedisTimeoutError(
                f"no topology from {address} within {self.topology_timeout:g} s (topology_timeout)"
            ) from None
        except RedisConnectionError:
            self.node_failed(address)
            raise
        return View(address, topology, parse_cluster_epoch(info))

    def install(self, topology: Topology) -> None:
        self.topology = topology
        self.slot_map.replace(topology)
        self.refreshes.attempted()
        self._counters["refreshes"] += 1
        self.refreshes.start_periodic()
        self.suspects.watch()
        if self._dedicated.close_moved(self.serves):
            self._counters["blocking_moved"] = self._counters.get("blocking_moved", 0) + 1

    def _probe_blocked(self) -> None:
        """A node that only blocking commands wait on gets no other traffic, so its stall
        would go unseen and a failover unfollowed: a PING on its shared connection,
        every half `stall_after`, gives the stall watch a reply to wait for."""
        now = asyncio.get_running_loop().time()
        for address in self._dedicated.busy_addresses():
            if now - self._probed.get(address, float("-inf")) < self.suspects.stall_after / 2:
                continue
            self._probed[address] = now
            mux = self._pool.pick(address)
            if mux is None:
                _detach(asyncio.ensure_future(self._pool.connect(address)))
            elif mux.in_flight == 0 and not mux.held:
                _detach(asyncio.ensure_future(mux.execute(_PING)))

    def close(self) -> None:
        self.refreshes.cancel()
        self.suspects.cancel()


class StandaloneRouter:
    """One server: every command is pinned to its address, so the slow path never asks
    where a slot went; a failure there says nothing about a layout."""

    def __init__(self, address: str) -> None:
        self.address = address

    def target(self, slot: int, replica: bool) -> str | None:
        return self.address

    async def locate(self, slot: int, label: str, attempt: Attempt) -> bool:
        attempt.address = self.address
        return True

    def moved(self, slot: int, address: str) -> None:
        raise ConfigurationError(
            f"{self.address} answered MOVED {slot} {address}: it is a cluster node; "
            "connect with ClusterClient"
        )

    def layout_changed(self) -> None:
        """CLUSTERDOWN from a lone server: there is no layout to re-read; the slow path's
        retries until the deadline are all there is to do."""
        return None

    def node_failed(self, address: str) -> None:
        """The next command reconnects to the same address: nothing to re-route."""
        return None

    async def relearn(self) -> None:
        """One server has no layout to re-read."""
        return None

    def slot_for(self, key: Any) -> int:
        return 0  # one server holds every slot

    def place(self, args: tuple[Any, ...], key: Any = None) -> Placement:
        return None, self.address

    def shared_slot(self, keys: Sequence[Any], what: str) -> int | None:
        return None  # one server holds every key

    def per_slot(self, first_keys: Sequence[Any]) -> dict[int | None, list[int]]:
        return {None: list(range(len(first_keys)))} if first_keys else {}

    async def nodes(self, args: tuple[Any, ...], target: str | None) -> list[str]:
        if target not in (None, "all", self.address):
            raise ValueError(f"target {target!r} is not this client's server {self.address}")
        return [self.address]

    def close(self) -> None:
        """Nothing runs in the background for one server."""
        return None


def _detach(task: asyncio.Future[Any]) -> None:
    """A probe nobody awaits: its failure is the stall watch's business, not a warning."""
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
