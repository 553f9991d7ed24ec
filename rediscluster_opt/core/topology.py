"""The cluster layout as an immutable value, parsed from CLUSTER SHARDS or CLUSTER SLOTS.

A `Topology` is a tuple of slot ranges, each with its master's address and replicas: the
cluster client's one routing snapshot, replaced whole on a refresh and on a MOVED reply
(`moved`), so its masters, replicas and slots never disagree. The routing structures the
slot-map stage builds (a range list, a flat 16384-entry table) are derived from it and
patched in the same step; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .address import format_address
from .slots import SLOT_COUNT

__all__ = [
    "SlotRange",
    "Topology",
    "TopologyError",
    "View",
    "choose_view",
    "migrating_slots",
    "parse_cluster_epoch",
    "parse_cluster_shards",
    "parse_cluster_slots",
]


class TopologyError(ValueError):
    """A CLUSTER SHARDS/SLOTS reply that cannot be turned into a layout."""


@dataclass(frozen=True, slots=True)
class SlotRange:
    start: int
    end: int  # inclusive, as Redis reports it
    master: str
    replicas: tuple[str, ...] = ()


@dataclass(frozen=True)
class Topology:
    ranges: tuple[SlotRange, ...]
    failed: frozenset[str] = frozenset()  # nodes this view reports failed (CLUSTER SHARDS' health)

    def __post_init__(self) -> None:
        previous_end = -1
        for r in sorted(self.ranges, key=lambda r: r.start):
            if not 0 <= r.start <= r.end < SLOT_COUNT:
                raise TopologyError(f"slot range {r.start}-{r.end} is outside 0-{SLOT_COUNT - 1}")
            if r.start <= previous_end:
                raise TopologyError(f"slot range {r.start}-{r.end} overlaps another range")
            previous_end = r.end

    @property
    def masters(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.master for r in self.ranges))

    @cached_property
    def replicas(self) -> dict[str, tuple[str, ...]]:
        """master -> its replicas (computed once per value; the value never changes)."""
        return {r.master: r.replicas for r in self.ranges}

    def moved(self, slot: int, master: str) -> Topology:
        """This layout with `slot` served by `master` (a MOVED reply, before the refresh
        it triggers): the range holding it is split around it. `master`'s replicas are
        the ones it has elsewhere in the layout (none for a node not yet in it)."""
        if not 0 <= slot < SLOT_COUNT:
            raise TopologyError(f"slot {slot} is outside 0-{SLOT_COUNT - 1}")
        moved = SlotRange(slot, slot, master, self.replicas.get(master, ()))
        ranges: list[SlotRange] = []
        for r in self.ranges:
            if not r.start <= slot <= r.end:
                ranges.append(r)
                continue
            if r.master == master:
                return self  # already so
            if r.start < slot:
                ranges.append(SlotRange(r.start, slot - 1, r.master, r.replicas))
            if slot < r.end:
                ranges.append(SlotRange(slot + 1, r.end, r.master, r.replicas))
        return Topology((*ranges, moved), self.failed)

    @property
    def covered_slots(self) -> int:
        return sum(r.end - r.start + 1 for r in self.ranges)

    @property
    def is_complete(self) -> bool:
        return self.covered_slots == SLOT_COUNT

    def slot_table(self) -> list[str | None]:
        """Flat slot -> master address list (None for an unassigned slot)."""
        table: list[str | None] = [None] * SLOT_COUNT
        for r in self.ranges:
            table[r.start : r.end + 1] = [r.master] * (r.end - r.start + 1)
        return table


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise TopologyError(f"expected a list of {what}, got {value!r:.200}")
    return value


def _pairs(flat: list[Any] | dict[Any, Any]) -> dict[str, object]:
    if isinstance(flat, dict):  # RESP3 (a connection after HELLO 3) sends maps
        return {_text(k): v for k, v in flat.items()}
    if not isinstance(flat, list) or len(flat) % 2:
        raise TopologyError(f"expected a flat key/value list, got {flat!r:.200}")
    return {_text(k): v for k, v in zip(flat[::2], flat[1::2], strict=True)}


def _shard_node_address(node: dict[str, object], fallback_host: str, tls: bool) -> str:
    host = _text(node.get("endpoint") or node.get("ip") or "")
    if host in ("", "?"):  # the server does not know its own address; use the one we asked
        host = fallback_host
    # A node listening for both reports both ports; a TLS-only node only "tls-port".
    first, second = ("tls-port", "port") if tls else ("port", "tls-port")
    port = node.get(first, node.get(second))
    if not isinstance(port, (int, bytes, str)):
        raise TopologyError(f"shard node without a port: {node!r:.200}")
    return format_address(host, int(port))


def parse_cluster_shards(reply: object, fallback_host: str = "127.0.0.1", *, tls: bool = False) -> Topology:
    """Parse a CLUSTER SHARDS reply (Redis >= 7.0), RESP2's flat lists or RESP3's maps;
    `tls`: the client dials TLS ports, so a node's "tls-port" wins over its plain one."""
    if not isinstance(reply, list):
        raise TopologyError(f"CLUSTER SHARDS reply is not a list: {reply!r:.200}")
    ranges: list[SlotRange] = []
    failed: set[str] = set()
    for shard_flat in reply:
        shard = _pairs(shard_flat)
        nodes = [_pairs(n) for n in _list(shard.get("nodes", []), "nodes")]
        failed.update(
            _shard_node_address(n, fallback_host, tls) for n in nodes if _text(n.get("health")) == "fail"
        )
        masters = [n for n in nodes if _text(n.get("role")) == "master"]
        if len(masters) > 1:  # a failed-over master not yet reconfigured: the live one serves
            masters = [n for n in masters if _text(n.get("health", "online")) != "fail"] or masters
        slots = shard.get("slots", [])
        if not slots:
            continue  # a shard that serves no slots (e.g. a master being emptied)
        if len(masters) != 1:
            raise TopologyError(f"shard with slots {slots!r} has {len(masters)} masters")
        master = _shard_node_address(masters[0], fallback_host, tls)
        replicas = tuple(
            _shard_node_address(n, fallback_host, tls)
            for n in nodes
            if _text(n.get("role")) != "master" and _text(n.get("health", "online")) == "online"
        )
        bounds = [int(s) for s in _list(slots, "slot bounds")]
        if len(bounds) % 2:
            raise TopologyError(f"odd number of slot bounds {bounds!r}")
        ranges.extend(
            SlotRange(start, end, master, replicas)
            for start, end in zip(bounds[::2], bounds[1::2], strict=True)
        )
    return Topology(tuple(ranges), frozenset(failed))


def _slots_node_address(node: object, fallback_host: str) -> str:
    if not isinstance(node, list) or len(node) < 2:
        raise TopologyError(f"bad node entry in CLUSTER SLOTS: {node!r:.200}")
    host = _text(node[0])
    if host in ("", "?"):
        host = fallback_host
    return format_address(host, int(node[1]))


def parse_cluster_slots(reply: object, fallback_host: str = "127.0.0.1") -> Topology:
    """Parse a CLUSTER SLOTS reply (all Redis versions; deprecated since 7.0)."""
    if not isinstance(reply, list):
        raise TopologyError(f"CLUSTER SLOTS reply is not a list: {reply!r:.200}")
    ranges = []
    for entry in reply:
        if not isinstance(entry, list) or len(entry) < 3:
            raise TopologyError(f"bad CLUSTER SLOTS entry: {entry!r:.200}")
        start, end, master, *replicas = entry
        ranges.append(
            SlotRange(
                int(start),
                int(end),
                _slots_node_address(master, fallback_host),
                tuple(_slots_node_address(r, fallback_host) for r in replicas),
            )
        )
    return Topology(tuple(ranges))


def parse_cluster_epoch(reply: object) -> int:
    """`cluster_current_epoch` from a CLUSTER INFO reply: the highest configuration epoch
    the node has seen, which every failover raises. 0 when the reply has none (an old or
    unusual server): such a view is then ordered after any that says."""
    if not isinstance(reply, (bytes, str)):
        return 0
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name == "cluster_current_epoch" and value.strip().isdigit():
            return int(value)
    return 0


@dataclass(frozen=True)
class View:
    """One node's account of the layout: who said it, what it says, how recent it is."""

    source: str
    topology: Topology
    epoch: int = 0


def choose_view(views: list[View]) -> View | None:
    """The view to adopt among those read at one refresh. A node that other views report
    failed is passed over (a master woken after its replica's promotion describes the
    cluster as it was, and it would route writes to itself that the cluster then
    discards); of the rest, the most recent by epoch, the first on a tie. When every
    answering node is reported failed by another (a split), the most recent view wins."""
    usable = [view for view in views if view.topology.ranges]
    if not usable:
        return None
    reported = frozenset().union(*(view.topology.failed for view in usable))
    trusted = [view for view in usable if view.source not in reported] or usable
    return max(trusted, key=lambda view: view.epoch)  # max keeps the first of equals


def migrating_slots(cluster_nodes: object) -> set[int]:
    """The slots a node is migrating out or importing, from its CLUSTER NODES reply: only
    its own line ("myself") shows them, as [slot->-target-id] and [slot-<-source-id]."""
    text = cluster_nodes.decode() if isinstance(cluster_nodes, bytes) else str(cluster_nodes)
    slots: set[int] = set()
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or "myself" not in fields[2].split(","):
            continue
        for entry in fields[8:]:
            if entry.startswith("[") and ("->-" in entry or "-<-" in entry):
                slots.add(int(entry[1:].split("-", 1)[0]))
    return slots
