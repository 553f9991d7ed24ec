"""Node address -> its multiplexers. Connections are opened lazily, once per node even
when many callers ask at the same time, and a closed one is dropped so the next command
reconnects."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from ..errors import RedisConnectionError
from ..stages.contracts import Impl
from ..validate import check_number
from .multiplexer import NO_HANDSHAKE, Handshake, Multiplexer

__all__ = ["MultiplexPool"]


class MultiplexPool:
    def __init__(
        self,
        impl: Impl,
        *,
        connections_per_node: int,
        connect_timeout: float,
        command_timeout: float,
        max_queued_bytes: int = 8 * 1024 * 1024,
        handshake: Handshake = NO_HANDSHAKE,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        check_number("connections_per_node", connections_per_node, integer=True)
        self._impl = impl
        self._max_queued = max_queued_bytes
        self._handshake = handshake
        self._tls = tls
        self.loop: asyncio.AbstractEventLoop | None = None  # the loop of the first connect owns us
        self._per_node = connections_per_node
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self.selector = impl.node_select()
        self._connecting: dict[str, asyncio.Task[Any]] = {}
        self._retired: dict[str, int] = {}  # io counters of closed connections, kept for stats
        # hot path: address -> open Multiplexer or None. The selector hands back what this
        # pool installed in it, so its picks are this pool's Multiplexers.
        self.pick = cast("Callable[[str | None], Multiplexer | None]", self.selector.pick)
        self.closed = False

    async def connect(self, address: str) -> Multiplexer:
        """An open multiplexer for `address`, connecting first if needed (slow path)."""
        while True:
            if self.closed:
                raise RedisConnectionError(f"client is closed (command for {address})")
            if self.loop is None:
                self.loop = asyncio.get_running_loop()
            mux: Multiplexer | None = self.pick(address)
            if mux is not None:
                return mux
            task = self._connecting.get(address)
            if task is None:
                task = asyncio.ensure_future(self._open_node(address))
                self._connecting[address] = task
                task.add_done_callback(partial(self._connected, address))
            # shield: one caller's cancellation must not abort a connect others wait for
            await asyncio.shield(task)

    def _connected(self, address: str, _task: object) -> None:
        self._connecting.pop(address, None)

    async def _open_node(self, address: str) -> None:
        opened = await asyncio.gather(
            *(
                Multiplexer.open(
                    address,
                    self._impl,
                    connect_timeout=self._connect_timeout,
                    command_timeout=self._command_timeout,
                    on_close=self._forget,
                    max_queued_bytes=self._max_queued,
                    handshake=self._handshake,
                    tls=self._tls,
                )
                for _ in range(self._per_node)
            ),
            return_exceptions=True,
        )
        errors = [r for r in opened if isinstance(r, BaseException)]
        muxes = [r for r in opened if isinstance(r, Multiplexer)]
        if not errors and any(mux.closed for mux in muxes):
            # lost after it opened, before the others did: its close found nothing to
            # forget, and installed it would refuse every command sent to it
            errors = [RedisConnectionError(f"a connection to {address} was lost while connecting")]
        if errors or self.closed:  # all of a node's connections, or none of them
            for mux in muxes:
                mux.close()
            if errors:
                raise errors[0]
            return
        self.selector.install(address, muxes)

    def _forget(self, mux: Multiplexer) -> None:
        for name, value in mux.io_counters().items():
            self._retired[name] = self._retired.get(name, 0) + value
        self.selector.remove(mux.address, mux)

    def close_node(self, address: str, reason: str = "closed by the client") -> None:
        """Close every connection to `address` (a master that lost its slots while hung):
        its callers fail now, as after a connection loss, rather than at their timeout."""
        for mux in self.of(address):
            mux.close(reason)

    def hold(self, address: str) -> None:
        """Send nothing more to `address` for now (it stopped answering): see Multiplexer.hold."""
        for mux in self.of(address):
            mux.hold()

    def release(self, address: str) -> None:
        for mux in self.of(address):
            mux.release()

    def of(self, address: str) -> list[Multiplexer]:
        """The open connections to `address`."""
        return [mux for mux in self.connections() if mux.address == address]

    def connections(self) -> list[Multiplexer]:
        return self.selector.all()

    def io_counters(self) -> dict[str, int]:
        totals = dict.fromkeys(("writes", "reads", "replies"), 0)
        totals.update(self._retired)
        for mux in self.connections():
            for name, value in mux.io_counters().items():
                totals[name] += value
        return totals

    async def close(self) -> None:
        self.closed = True
        for task in list(self._connecting.values()):
            task.cancel()
        for mux in self.connections():
            mux.close()
        await asyncio.sleep(0)  # let the transports run their close callbacks
