"""One TCP connection shared by every caller: the only code that touches the event loop's
transport. Stages do the work; this class wires them together once, at construction.

    callers --execute(payload)--> submit stage --send--> writer stage --> transport
    transport --data_received--> delivery stage (parser) --deliver--> submit stage --> callers
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

from ..core.address import split_address
from ..errors import ProtocolError, RedisConnectionError
from ..stages.contracts import Impl
from ..stages.parser import PARSE_ERRORS

__all__ = ["Multiplexer"]


class Multiplexer(asyncio.Protocol):
    def __init__(
        self,
        address: str,
        impl: Impl,
        loop: asyncio.AbstractEventLoop,
        command_timeout: float,
        on_close: Callable[[Multiplexer], None] | None = None,
    ) -> None:
        self.address = address
        self.closed = False
        self._transport: asyncio.Transport | None = None
        self._on_close = on_close
        self._writer = impl.writer(loop)
        self._submit = impl.submit(loop, self._writer.send, command_timeout)
        self._delivery = impl.delivery(impl.parser(), self._submit)
        self._on_data = self._delivery.data_received
        # The hot path: callers use these attributes directly. On close they are swapped
        # for functions that fail at once, so no per-command "is it open?" check is needed.
        self.execute = self._submit.call
        self.execute_pair = self._submit.call_pair

    @classmethod
    async def open(
        cls,
        address: str,
        impl: Impl,
        *,
        connect_timeout: float,
        command_timeout: float,
        on_close: Callable[[Multiplexer], None] | None = None,
    ) -> Multiplexer:
        loop = asyncio.get_running_loop()
        host, port = split_address(address)
        mux = cls(address, impl, loop, command_timeout, on_close)
        try:
            await asyncio.wait_for(loop.create_connection(lambda: mux, host, port), connect_timeout)
        except TimeoutError:
            raise RedisConnectionError(
                f"cannot connect to {address}: no answer within {connect_timeout:g} s"
            ) from None
        except OSError as exc:
            raise RedisConnectionError(f"cannot connect to {address}: {exc.strerror or exc}") from exc
        return mux

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_connection always hands a stream protocol a read-write transport
        self._transport = cast(asyncio.Transport, transport)
        self._writer.attach(self._transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._on_data(data)
        except PARSE_ERRORS as exc:
            self._shutdown(ProtocolError(f"invalid RESP from {self.address}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else " (closed by the server)"
        self._shutdown(RedisConnectionError(f"connection to {self.address} lost{reason}"))

    # -- lifecycle -------------------------------------------------------------------
    def close(self) -> None:
        self._shutdown(RedisConnectionError(f"connection to {self.address} closed by the client"))

    def _shutdown(self, error: RedisConnectionError) -> None:
        if self.closed:
            return
        self.closed = True
        self.execute = self.execute_pair = _refuser(error)
        self._writer.close()
        if self._transport is not None:
            self._transport.close()
        self._submit.fail_all(error)
        if self._on_close is not None:
            self._on_close(self)

    @property
    def in_flight(self) -> int:
        return self._submit.in_flight

    def io_counters(self) -> dict[str, int]:
        return {
            "writes": self._writer.writes,
            "reads": self._delivery.reads,
            "replies": self._delivery.replies,
        }


def _refuser(error: RedisConnectionError) -> Callable[..., asyncio.Future[object]]:
    def refuse(*payloads: bytes) -> asyncio.Future[object]:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(type(error)(str(error)))
        return future

    return refuse
