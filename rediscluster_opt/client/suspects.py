"""Suspect nodes: a timeout or a lost connection makes its node suspect, and while any
node is, the client refreshes its topology until each suspect has lost its slots (its
connections are then closed, so commands waiting on a hung master fail over at once
rather than at their timeout) or has answered again.

The refreshes go through the client's `RefreshSchedule`: the first at once, then every
`POLL` seconds (the schedule's `min_interval` if that is longer), and every `SLOW`
seconds once a node has been suspect for `PATIENCE` seconds (a master without a replica
that stays down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..mux.multiplexer import Multiplexer
from ..mux.pool import MultiplexPool
from .refresh import RefreshSchedule

__all__ = ["Suspects"]

POLL = 0.25  # seconds between refreshes while a node is suspect
SLOW = 5.0  # ... once it has been suspect for PATIENCE seconds
PATIENCE = 30.0


class Suspects:
    def __init__(
        self,
        pool: MultiplexPool,
        schedule: RefreshSchedule,
        is_master: Callable[[str], bool],
        counters: dict[str, int],
    ) -> None:
        self._pool = pool
        self._schedule = schedule
        self._is_master = is_master  # in the topology now; False once its slots moved
        self._counters = counters
        # address -> (since when, replies so far per connection of it). Keyed by the
        # connection itself, not id(): a closed one's id may be reused by a new one.
        self._since: dict[str, tuple[float, dict[Multiplexer, int]]] = {}
        self._watch: asyncio.Task[None] | None = None

    def __contains__(self, address: object) -> bool:
        return address in self._since

    def mark(self, address: str) -> None:
        if address not in self._since:
            now = asyncio.get_running_loop().time()
            self._since[address] = (now, self._replies_from(address))
            self._counters["suspected"] += 1
        if not self._pool.closed and (self._watch is None or self._watch.done()):
            self._watch = asyncio.get_running_loop().create_task(self._refresh_until_settled())

    def cancel(self) -> None:
        if self._watch is not None:
            self._watch.cancel()

    def _replies_from(self, address: str) -> dict[Multiplexer, int]:
        return {m: m.io_counters()["replies"] for m in self._pool.connections() if m.address == address}

    def _answered_since(self, address: str, before: dict[Multiplexer, int]) -> bool:
        """Has any connection to `address` had a reply since `before` was taken?"""
        return any(count > before.get(mux, 0) for mux, count in self._replies_from(address).items())

    async def _refresh_until_settled(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while self._since and not self._pool.closed:
            await asyncio.sleep(delay)
            await asyncio.shield(self._schedule.request())
            now, patient = loop.time(), True
            for address, (since, replies) in list(self._since.items()):
                if not self._is_master(address):  # its slots moved: fail what waits on it now
                    self._since.pop(address, None)
                    self._pool.close_node(address)
                elif self._answered_since(address, replies):
                    self._since.pop(address, None)
                elif now - since > PATIENCE:
                    patient = False
            delay = max(POLL, self._schedule.min_interval) if patient else SLOW
