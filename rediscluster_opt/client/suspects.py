"""Suspect nodes, and the watch that finds them before any command times out.

A node becomes suspect when a connection to it is lost, a command to it times out, a
connect fails, or (`watch`) a connection to it has had commands in flight and no reply
for `stall_after` seconds: a hung process, a frozen VM, a partition. While any node is
suspect the client refreshes its topology until each suspect has lost its slots (its
connections are then closed, so commands waiting on a hung master fail over at once
rather than at their timeout) or has answered again.

A stalled node is also held: nothing more is sent to it until it has answered every
command already in flight (or its slots moved). What waits in a hung master's socket runs
when the process wakes, and if the cluster promoted its replica meanwhile, the writes it
acknowledges then are discarded at its resync: holding keeps that set to what was in
flight when it stalled, and waiting for it to drain keeps a command sent after the stall
from overtaking one sent before it on another connection.

The refreshes go through the client's `RefreshSchedule`: the first at once, then every
`POLL` seconds (the schedule's `min_interval` if that is longer), and every `SLOW`
seconds once a node has been suspect for `PATIENCE` seconds (a master without a replica
that stays down).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from ..mux.multiplexer import Multiplexer
from ..mux.pool import MultiplexPool
from .refresh import RefreshSchedule

__all__ = ["STALL_AFTER", "Suspects"]

POLL = 0.25  # seconds between refreshes while a node is suspect
SLOW = 5.0  # ... once it has been suspect for PATIENCE seconds
PATIENCE = 30.0
# A connection with commands in flight and no reply for this long (at most half the
# command timeout) makes its node suspect: long enough that a busy server's slowest
# ordinary reply does not, short enough that a failover is followed before commands time
# out. A false alarm (a slow script) costs a few topology reads and a short hold.
STALL_AFTER = 0.5
WATCH_TICK = 0.1  # seconds between two looks at the connections' progress


@dataclass
class _Suspect:
    since: float
    # per connection, when it became suspect; keyed by the connection itself, not id():
    # a closed one's id may be reused by a new one
    replies: dict[Multiplexer, int]
    held: bool = False


class Suspects:
    def __init__(
        self,
        pool: MultiplexPool,
        schedule: RefreshSchedule,
        is_master: Callable[[str], bool],
        counters: dict[str, int],
        *,
        stall_after: float = STALL_AFTER,
        probe: Callable[[], None] | None = None,
    ) -> None:
        self._pool = pool
        self._schedule = schedule
        self._is_master = is_master  # in the topology now; False once its slots moved
        self._counters = counters
        self.stall_after = stall_after
        self._probe = probe  # each tick: make sure nodes that blocking commands wait on get traffic
        self._suspects: dict[str, _Suspect] = {}
        self._progress: dict[Multiplexer, tuple[int, float]] = {}  # replies, when they last changed
        self._settle: asyncio.Task[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    def __contains__(self, address: object) -> bool:
        return address in self._suspects

    def held(self) -> set[str]:
        return {address for address, suspect in self._suspects.items() if suspect.held}

    def mark(self, address: str, *, stalled: bool = False) -> None:
        suspect = self._suspects.get(address)
        if suspect is None:
            now = asyncio.get_running_loop().time()
            suspect = self._suspects[address] = _Suspect(now, self._replies_from(address))
            self._counters["suspected"] += 1
        if stalled and not suspect.held:
            suspect.held = True
            self._counters["held"] = self._counters.get("held", 0) + 1
            self._pool.hold(address)
        if not self._pool.closed and (self._settle is None or self._settle.done()):
            self._settle = asyncio.get_running_loop().create_task(self._refresh_until_settled())

    def watch(self) -> None:
        """Start the stall watch (once; it runs until the pool closes)."""
        if self._watch is None or self._watch.done():
            self._watch = asyncio.get_running_loop().create_task(self._watch_progress())

    def cancel(self) -> None:
        for task in (self._settle, self._watch):
            if task is not None:
                task.cancel()

    # -- the stall watch -----------------------------------------------------------------
    def stalled(self, now: float) -> set[str]:
        """Nodes with a connection that has had commands in flight and no reply for
        `stall_after` seconds; updates what was seen of each connection."""
        progress: dict[Multiplexer, tuple[int, float]] = {}
        found: set[str] = set()
        for mux in self._pool.connections():
            replies, seen = mux.replies, self._progress.get(mux)
            if mux.in_flight == 0 or seen is None or seen[0] != replies:
                progress[mux] = (replies, now)
                continue
            progress[mux] = seen
            if now - seen[1] >= self.stall_after:
                found.add(mux.address)
        self._progress = progress
        return found

    async def _watch_progress(self) -> None:
        loop = asyncio.get_running_loop()
        tick = min(WATCH_TICK, self.stall_after / 2)
        while not self._pool.closed:
            await asyncio.sleep(tick)
            if self._probe is not None:
                self._probe()
            for address in self.stalled(loop.time()):
                suspect = self._suspects.get(address)
                if suspect is None or not suspect.held:
                    self._counters["stalls"] = self._counters.get("stalls", 0) + 1
                    self.mark(address, stalled=True)

    # -- settling ------------------------------------------------------------------------
    def _replies_from(self, address: str) -> dict[Multiplexer, int]:
        return {mux: mux.replies for mux in self._pool.of(address)}

    def _answered_since(self, address: str, before: dict[Multiplexer, int]) -> bool:
        """Has any connection to `address` had a reply since `before` was taken?"""
        return any(count > before.get(mux, 0) for mux, count in self._replies_from(address).items())

    def _drained(self, address: str) -> bool:
        """Has every connection to `address` had the reply of every command sent on it?"""
        return all(mux.in_flight == 0 for mux in self._pool.of(address))

    def _settled(self, address: str, suspect: _Suspect) -> bool:
        if not self._is_master(address):  # its slots moved: fail what waits on it now
            self._pool.close_node(address, "closed by the client: the node lost its slots (failover)")
            return True
        if suspect.held:
            if not self._drained(address):
                return False
            self._pool.release(address)
            return True
        return self._answered_since(address, suspect.replies)

    async def _refresh_until_settled(self) -> None:
        loop = asyncio.get_running_loop()
        delay = 0.0
        while self._suspects and not self._pool.closed:
            await asyncio.sleep(delay)
            await asyncio.shield(self._schedule.request())
            now, patient = loop.time(), True
            for address, suspect in list(self._suspects.items()):
                if self._settled(address, suspect):
                    self._suspects.pop(address, None)
                elif now - suspect.since > PATIENCE:
                    patient = False
            delay = max(POLL, self._schedule.min_interval) if patient else SLOW
