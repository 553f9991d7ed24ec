"""Node-selection stage (US-004): address -> one of that node's multiplexers.

The PRD's one big win (6.6x) came from this stage: a pool-wide round-robin counter
touched under contention by every command. In asyncio there is no thread contention,
so what remains to measure is the bookkeeping itself.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from .contracts import Connection
from .traits import Traits

__all__ = ["LockFreeSelector", "LockedSelector"]


class LockedSelector:
    """Baseline: a lock around the lookup and one round-robin counter for the whole pool,
    incremented on every command even when a node has a single connection."""

    TRAITS: ClassVar[Traits] = Traits(runs=("pick",))

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str | None, list[Connection]] = {}  # None (no owner) never has an entry
        self._counter = 0

    def pick(self, address: str | None) -> Connection | None:
        with self._lock:
            muxes = self._nodes.get(address)
            if not muxes:
                return None
            self._counter += 1
            return muxes[self._counter % len(muxes)]

    def install(self, address: str, muxes: Sequence[Any]) -> None:
        with self._lock:
            self._nodes[address] = list(muxes)

    def remove(self, address: str, mux: Any) -> None:
        with self._lock:
            muxes = self._nodes.get(address, [])
            self._nodes[address] = [m for m in muxes if m is not mux]

    def all(self) -> list[Any]:
        with self._lock:
            return [m for muxes in self._nodes.values() for m in muxes]


class LockFreeSelector:
    """Optimized: immutable maps replaced whole on change and read without a lock; a node
    with one connection is a plain dict hit, several use that node's own cycle."""

    TRAITS: ClassVar[Traits] = Traits(
        inline="""
            mux = selector._single.get(address)
            if mux is None:
                mux = selector.pick(address)
        """,
        runs=("pick",),
    )

    def __init__(self) -> None:
        self._single: dict[str | None, Connection] = {}  # None (no owner) never has an entry
        self._groups: dict[str | None, Iterator[Connection]] = {}
        self._members: dict[str, tuple[Any, ...]] = {}

    def pick(self, address: str | None) -> Connection | None:
        mux = self._single.get(address)
        if mux is not None:
            return mux
        group = self._groups.get(address)
        return next(group) if group is not None else None

    def install(self, address: str, muxes: Sequence[Any]) -> None:
        members = {**self._members, address: tuple(muxes)}
        self._publish(members)

    def remove(self, address: str, mux: Any) -> None:
        members = dict(self._members)
        members[address] = tuple(m for m in members.get(address, ()) if m is not mux)
        self._publish(members)

    def _publish(self, members: dict[str, tuple[Any, ...]]) -> None:
        self._members = members
        self._single = {a: ms[0] for a, ms in members.items() if len(ms) == 1}
        self._groups = {a: itertools.cycle(ms) for a, ms in members.items() if len(ms) > 1}

    def all(self) -> list[Any]:
        return [m for muxes in self._members.values() for m in muxes]
