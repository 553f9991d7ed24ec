"""Slot-map stage (US-002): slot -> address of the master that serves it.

Both variants are built from a `Topology` and patched in place of one slot on MOVED.
"""

from __future__ import annotations

import threading

from ..core.topology import Topology
from .traits import describes

__all__ = ["FlatSlotMap", "RangeScanSlotMap"]


@describes(runs=("lookup",))
class RangeScanSlotMap:
    """Baseline: the list of slot ranges, scanned per lookup, read under a lock (the
    straightforward port of "topology lives in a shared variable")."""

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


@describes(inline="address = slot_map._table[slot]", runs=("lookup",))
class FlatSlotMap:
    """Optimized: an immutable 16384-entry list, swapped whole on change; a lookup is one
    attribute read and one index."""

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
