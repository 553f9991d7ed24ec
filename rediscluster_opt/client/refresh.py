"""The one way a cluster client refreshes its topology.

Every reason to re-read the layout (a MOVED reply, CLUSTERDOWN, a suspect node, the
periodic timer, a command whose slot has no known owner) goes through `request`: one
refresh at a time, started at least `min_interval` after the previous attempt (attempts,
not successes, count: a cluster that cannot answer is not asked again at once by every
waiting command), and one every `interval` seconds while the client is open.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..errors import RedisError

__all__ = ["RefreshSchedule"]


class RefreshSchedule:
    def __init__(
        self,
        refresh: Callable[[], Awaitable[object]],
        min_interval: float,
        interval: float | None,
        closed: Callable[[], bool],
    ) -> None:
        self._refresh = refresh  # raises RedisError when no node answers
        self.min_interval = min_interval
        self.interval = interval
        self._closed = closed
        self._last = float("-inf")  # loop time of the last attempt
        self._pending: asyncio.Task[None] | None = None
        self._periodic: asyncio.Task[None] | None = None

    def attempted(self) -> None:
        """A refresh starts (or just ended): the next one waits `min_interval` from now."""
        self._last = asyncio.get_running_loop().time()

    def request(self) -> asyncio.Task[None]:
        """The pending refresh, starting one if none is, delayed so that refreshes are
        at least `min_interval` apart."""
        task = self._pending
        if task is None or task.done():
            loop = asyncio.get_running_loop()
            delay = max(0.0, self._last + self.min_interval - loop.time())
            task = self._pending = loop.create_task(self._run(delay))
        return task

    async def wait(self) -> None:
        """Wait for a refresh (a command whose slot has no known owner), unless one ran
        within `min_interval`: then the caller goes on with the map it has, so commands
        on unassigned slots cannot turn into a refresh storm."""
        task = self._pending
        recent = asyncio.get_running_loop().time() - self._last < self.min_interval
        if (task is None or task.done()) and recent:
            return
        await asyncio.shield(self.request())

    def start_periodic(self) -> None:
        """The timer behind `interval` (once; a no-op without an interval)."""
        if self.interval and (self._periodic is None or self._periodic.done()):
            self._periodic = asyncio.get_running_loop().create_task(self._tick(self.interval))

    def cancel(self) -> None:
        for task in (self._pending, self._periodic):
            if task is not None:
                task.cancel()

    async def _run(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self._refresh()
        except RedisError:
            pass  # the client counts refresh failures; commands keep using the patched map

    async def _tick(self, interval: float) -> None:
        while not self._closed():
            await asyncio.sleep(interval)
            self.request()
