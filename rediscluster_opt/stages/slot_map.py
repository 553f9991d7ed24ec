"""Slot-map stage (US-002, US-012): slot -> address of the master that serves it.

Every variant is built from a `Topology` and patched for one slot on MOVED. Besides the
range scan and the flat list, the containers the PRD asks about ("would an unboxed or
small array beat the vector?"): a tuple, a dict, and node indexes in an unboxed array or
in bytes beside a list of the nodes.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from array import array
from typing import ClassVar

from ..core.topology import Topology
from .traits import Traits

__all__ = ["ArraySlotMap", "BytesSlotMap", "DictSlotMap", "FlatSlotMap", "RangeScanSlotMap", "TupleSlotMap"]


class RangeScanSlotMap:
    """Baseline: the list of slot ranges, scanned per lookup, read under a lock (the
    straightforward port of "topology lives in a shared variable")."""

    TRAITS: ClassVar[Traits] = Traits(runs=("lookup",))

    def __init__(self, topology: Topology) -> None:
        self._lock = threading.Lock()
        self.replace(topology)

    def replace(self, topology: Topology) -> None:
        ranges = sorted((r.start, r.end, r.master) for r in topology.ranges)
        with self._lock:
            self._ranges = ranges

    def lookup(self, slot: int) -> str | None:
        with self._lock:
            ranges = self._ranges
        for start, end, address in ranges:
            if start <= slot <= end:
                return address
        return None

    def patch(self, slot: int, address: str) -> None:
        with self._lock:
            ranges = [r for r in self._ranges]
            for i, (start, end, old) in enumerate(ranges):
                if start <= slot <= end:
                    pieces = [(start, slot - 1, old), (slot, slot, address), (slot + 1, end, old)]
                    ranges[i : i + 1] = [p for p in pieces if p[0] <= p[1]]
                    break
            else:
                ranges.append((slot, slot, address))
                ranges.sort()
            self._ranges = ranges


class FlatSlotMap:
    """Optimized: an immutable 16384-entry list, swapped whole on change; a lookup is one
    attribute read and one index."""

    TRAITS: ClassVar[Traits] = Traits(inline="address = slot_map._table[slot]", runs=("lookup",))

    def __init__(self, topology: Topology) -> None:
        self.replace(topology)

    def replace(self, topology: Topology) -> None:
        self._table = topology.slot_table()

    def lookup(self, slot: int) -> str | None:
        return self._table[slot]

    def patch(self, slot: int, address: str) -> None:
        # Copy-on-write keeps the snapshot immutable for anyone holding the old list.
        table = list(self._table)
        table[slot] = address
        self._table = table


class TupleSlotMap:
    """The flat table as a tuple: immutable by type, indexed like the list. Not a
    subclass of FlatSlotMap: its table has another type (which the compiled build
    checks on every assignment)."""

    TRAITS: ClassVar[Traits] = Traits(inline="address = slot_map._table[slot]", runs=("lookup",))

    def __init__(self, topology: Topology) -> None:
        self.replace(topology)

    def replace(self, topology: Topology) -> None:
        self._table = tuple(topology.slot_table())

    def lookup(self, slot: int) -> str | None:
        return self._table[slot]

    def patch(self, slot: int, address: str) -> None:
        table = list(self._table)
        table[slot] = address
        self._table = tuple(table)


class DictSlotMap:
    """A dict of the served slots: a hash lookup per command, no entry for a slot no
    master serves."""

    TRAITS: ClassVar[Traits] = Traits(inline="address = slot_map._table.get(slot)", runs=("lookup",))

    def __init__(self, topology: Topology) -> None:
        self.replace(topology)

    def replace(self, topology: Topology) -> None:
        self._table = {slot: a for slot, a in enumerate(topology.slot_table()) if a is not None}

    def lookup(self, slot: int) -> str | None:
        return self._table.get(slot)

    def patch(self, slot: int, address: str) -> None:
        self._table = {**self._table, slot: address}


class _IndexedSlotMap:
    """Node indexes per slot, unboxed, beside the list of nodes (index 0: no master). The
    node list only grows, and the index is swapped whole, so a lookup that reads the list
    and then the index (or the other way round, mid-patch) always finds a node the index
    names."""

    def __init__(self, topology: Topology) -> None:
        self._nodes: list[str | None] = [None]
        self.replace(topology)

    def _positions(self, addresses: list[str | None]) -> list[int]:
        known = {node: i for i, node in enumerate(self._nodes)}
        for address in addresses:
            if address not in known:
                known[address] = len(self._nodes)
                self._nodes.append(address)
        return [known[a] for a in addresses]

    def replace(self, topology: Topology) -> None:
        self._index = self._pack(self._positions(topology.slot_table()))

    def lookup(self, slot: int) -> str | None:
        return self._nodes[self._index[slot]]

    def patch(self, slot: int, address: str) -> None:
        positions = list(self._index)
        positions[slot] = self._positions([address])[0]
        self._index = self._pack(positions)

    @abstractmethod
    def _pack(self, positions: list[int]) -> array[int] | bytes:
        """`positions` packed as this variant holds its index."""


class ArraySlotMap(_IndexedSlotMap):
    """Node indexes in an `array('H')`: 2 bytes per slot instead of an 8-byte pointer."""

    TRAITS: ClassVar[Traits] = Traits(
        inline="address = slot_map._nodes[slot_map._index[slot]]", runs=("lookup",)
    )

    def _pack(self, positions: list[int]) -> array[int]:
        return array("H", positions)


class BytesSlotMap(_IndexedSlotMap):
    """Node indexes in `bytes`: one byte per slot, so at most 255 masters."""

    TRAITS: ClassVar[Traits] = Traits(
        inline="address = slot_map._nodes[slot_map._index[slot]]", runs=("lookup",)
    )

    def _pack(self, positions: list[int]) -> bytes:
        if len(self._nodes) > 256:
            raise ValueError(f"the bytes slot map holds at most 255 masters, not {len(self._nodes) - 1}")
        return bytes(positions)
