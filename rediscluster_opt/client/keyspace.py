"""Keyspace notifications of a whole cluster.

A master publishes the notifications of its own keys only: unlike PUBLISH, which every
node relays, `__keyspace@0__:<key>` and `__keyevent@0__:<event>` never leave the node
where the key changed. So `KeyspaceEvents` subscribes its patterns on every master, one
pinned PubSub each (client/pubsub.py keeps each subscription through a lost connection),
merges what they hear into one stream, and follows the layout: a master that appears (a
promoted replica, a node added) is subscribed, one that stops being a master is left.
The servers must have notifications on (`notify-keyspace-events`, a server setting).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

from ..core.resp import to_bytes
from ..validate import check_number

if TYPE_CHECKING:
    from .client import Client
    from .pubsub import PubSub

__all__ = ["EVERY_KEY", "KeyspaceEvents"]

EVERY_KEY = b"__key*@*__:*"  # every keyspace and keyevent notification of every database


class KeyspaceEvents:
    """`client.keyspace_events(*patterns)`: the notifications matching `patterns` from
    every master, as pattern messages ({"type": "pmessage", "pattern", "channel", "data",
    and "node": the master that sent it}), read with `get_message` or `listen`."""

    def __init__(
        self,
        client: Client,
        masters: Callable[[], Sequence[str]],
        patterns: Sequence[Any],
        *,
        follow_interval: float = 1.0,
        max_buffered: int = 10_000,
    ) -> None:
        check_number("follow_interval", follow_interval, unit="seconds")
        check_number("max_buffered", max_buffered, integer=True)
        self._client, self._masters = client, masters
        self.patterns = [to_bytes(p) for p in patterns] or [EVERY_KEY]
        self.follow_interval = follow_interval
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue(max_buffered)
        self._nodes: dict[str, tuple[PubSub, asyncio.Task[None]]] = {}
        self._follower: asyncio.Task[None] | None = None
        self.closed = False
        self.counters = {"joined": 0, "left": 0, "dropped": 0}

    @property
    def nodes(self) -> list[str]:
        """The masters subscribed now."""
        return sorted(self._nodes)

    async def start(self) -> KeyspaceEvents:
        """Subscribe on every master the client knows, then keep following the layout."""
        await self._follow_once()
        self._follower = asyncio.get_running_loop().create_task(self._follow())
        return self

    async def _follow(self) -> None:
        while not self.closed:
            await asyncio.sleep(self.follow_interval)
            try:
                await self._client.router.relearn()
                await self._follow_once()
            except Exception:  # noqa: BLE001  # a failed look is retried at the next interval
                continue

    async def _follow_once(self) -> None:
        now = set(self._masters())
        for gone in set(self._nodes) - now:
            pubsub, pump = self._nodes.pop(gone)
            pump.cancel()
            await pubsub.aclose()
            self.counters["left"] += 1
        for new in sorted(now - set(self._nodes)):
            pubsub = self._client.pubsub(node=new, ignore_subscribe_messages=True)
            await pubsub.psubscribe(*self.patterns)
            pump = asyncio.get_running_loop().create_task(self._pump(new, pubsub))
            self._nodes[new] = (pubsub, pump)
            self.counters["joined"] += 1

    async def _pump(self, node: str, pubsub: PubSub) -> None:
        while not pubsub.closed:
            message = await pubsub.get_message(timeout=None)
            if message is None:  # a confirmation, skipped
                continue
            try:
                self._events.put_nowait({**message, "node": node})
            except asyncio.QueueFull:  # a reader that stopped reading: the newest go
                self.counters["dropped"] += 1

    async def get_message(self, timeout: float | None = 0.0) -> dict[str, Any] | None:
        """The next notification, waiting at most `timeout` seconds (None: until one comes)."""
        if timeout == 0:
            return None if self._events.empty() else self._events.get_nowait()
        try:
            async with asyncio.timeout(timeout):
                return await self._events.get()
        except TimeoutError:
            return None

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        while not self.closed:
            yield await self._events.get()

    async def aclose(self) -> None:
        self.closed = True
        if self._follower is not None:
            self._follower.cancel()
        for pubsub, pump in self._nodes.values():
            pump.cancel()
            await pubsub.aclose()
        self._nodes.clear()

    async def __aenter__(self) -> KeyspaceEvents:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
