"""Connections of their own for blocking commands (BLPOP, BZPOPMIN, XREAD BLOCK...).

A blocking command holds its connection until the server answers, so it must never go
on a multiplexed one. Each dedicated connection carries one command at a time; a node
has at most `per_node` of them, and callers beyond that wait their turn. A connection
whose command did not finish cleanly (client-side timeout, cancellation) is closed,
never reused: the server may still be blocking on it.

Each call names the slot it was routed by, so a client that learns the slot moved (a
failover of a hung master, a migration) closes the connection its caller waits on: the
caller gets a typed error at once instead of waiting on a node that no longer serves it.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Callable

from ..errors import RedisTimeoutError
from ..stages.contracts import Impl
from .multiplexer import NO_HANDSHAKE, Handshake, Multiplexer

__all__ = ["DedicatedConnections"]

_FOREVER = 10 * 365 * 86400.0  # the mux's own sweep never fires; `call` enforces the limit


class DedicatedConnections:
    def __init__(
        self,
        impl: Impl,
        per_node: int,
        *,
        connect_timeout: float,
        handshake: Handshake = NO_HANDSHAKE,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        if per_node < 1:
            raise ValueError(f"blocking_connections_per_node must be at least 1, got {per_node}")
        self._impl = impl
        self._per_node = per_node
        self._connect_timeout = connect_timeout
        self._handshake = handshake
        self._tls = tls
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._idle: dict[str, list[Multiplexer]] = {}
        self._open: set[Multiplexer] = set()
        self._busy: dict[Multiplexer, int | None] = {}  # a connection in use -> its call's slot
        self.closed = False

    def busy_addresses(self) -> set[str]:
        """The nodes a blocking command waits on now."""
        return {mux.address for mux in self._busy}

    def close_moved(self, serves: Callable[[str, int | None], bool]) -> int:
        """Close each busy connection whose node no longer serves its call's slot
        (`serves(address, slot)` false); returns how many were closed."""
        moved = [mux for mux, slot in self._busy.items() if not serves(mux.address, slot)]
        for mux in moved:
            mux.close(
                "closed by the client: the node no longer serves the command's slot (failover or migration)"
            )
        return len(moved)

    async def call(self, address: str, payload: bytes, limit: float, slot: int | None = None) -> object:
        """Send one blocking command to `address`. Waiting for a free connection,
        connecting and the command together take at most `limit` seconds (`inf`: as
        long as the server holds it); RedisTimeoutError says which wait ran out. `slot`:
        what the command was routed by, for `close_moved`."""
        turns = self._turns.setdefault(address, asyncio.Semaphore(self._per_node))
        waiting = True
        try:
            async with asyncio.timeout(None if math.isinf(limit) else limit), turns:
                waiting = False
                return await self._run(address, payload, slot)
        except TimeoutError:
            if waiting:
                raise RedisTimeoutError(
                    f"no connection for blocking commands to {address} came free within {limit:g} s: "
                    f"all {self._per_node} are held (blocking_connections_per_node); "
                    "the command was not sent"
                ) from None
            raise

    async def _run(self, address: str, payload: bytes, slot: int | None) -> object:
        mux = await self._take(address)
        self._busy[mux] = slot
        try:
            reply = await mux.execute(payload)
        except BaseException:  # timed out, cancelled or broken: the server may still block on it
            self._drop(mux)
            raise
        finally:
            self._busy.pop(mux, None)
        if mux.closed or self.closed:
            self._drop(mux)
        else:
            self._idle.setdefault(address, []).append(mux)
        return reply

    async def _take(self, address: str) -> Multiplexer:
        idle = self._idle.setdefault(address, [])
        while idle:
            mux = idle.pop()
            if not mux.closed:
                return mux
            self._open.discard(mux)
        mux = await Multiplexer.open(
            address,
            self._impl,
            connect_timeout=self._connect_timeout,
            command_timeout=_FOREVER,
            handshake=self._handshake,
            tls=self._tls,
        )
        self._open.add(mux)
        return mux

    def _drop(self, mux: Multiplexer) -> None:
        mux.close()
        self._open.discard(mux)

    async def close(self) -> None:
        self.closed = True
        for mux in list(self._open):
            mux.close()
        self._open.clear()
        self._idle.clear()
