"""A connection of its own for pub/sub: once subscribed, the server sends on it whenever a
message is published, so it can never be one of the multiplexed connections, whose
replies answer commands in the order sent.

Before its first subscription it answers the handshake (AUTH, CLIENT SETNAME...) in
order, like any connection; after that every reply (a confirmation, a message, an error)
goes to `on_reply` as it is read, and the pub/sub layer above (client/pubsub.py) tells
them apart. Reading pauses while the layer above holds too many unread messages, so a
slow reader leaves them in the socket (and the server's output buffer) rather than in
this process's memory.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Callable
from typing import cast

from ..core.resp import NEED_DATA
from ..errors import ProtocolError, RedisConnectionError
from ..stages.contracts import Parser
from ..stages.parser import PARSE_ERRORS
from .multiplexer import NO_HANDSHAKE, Handshake, open_transport, run_handshake

__all__ = ["Subscriber"]


class Subscriber(asyncio.Protocol):
    def __init__(
        self,
        address: str,
        parser: Parser,
        on_reply: Callable[[Subscriber, object], None],
        on_lost: Callable[[Subscriber, RedisConnectionError], None],
    ) -> None:
        self.address = address
        self.closed = False
        self._parser = parser
        self._on_reply = on_reply
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._setup: deque[asyncio.Future[object]] = deque()  # handshake replies awaited
        self._reading = True

    @classmethod
    async def open(
        cls,
        address: str,
        parser: Parser,
        on_reply: Callable[[Subscriber, object], None],
        on_lost: Callable[[Subscriber, RedisConnectionError], None],
        *,
        connect_timeout: float,
        handshake: Handshake = NO_HANDSHAKE,
        tls: ssl.SSLContext | None = None,
    ) -> Subscriber:
        """Connect and run the handshake, as a multiplexed connection does."""
        connection = cls(address, parser, on_reply, on_lost)
        await open_transport(address, connection, tls, connect_timeout)
        await run_handshake(connection, handshake, connect_timeout)
        return connection

    def execute(self, payload: bytes, /) -> asyncio.Future[object]:
        """A handshake command: its reply is the next one read (nothing is subscribed yet)."""
        reply = asyncio.get_running_loop().create_future()
        self._setup.append(reply)
        self.send(payload)
        return reply

    def send(self, payload: bytes) -> None:
        if self.closed or self._transport is None:
            raise RedisConnectionError(f"pub/sub connection to {self.address} is closed")
        self._transport.write(payload)

    # -- flow control ------------------------------------------------------------------
    def pause_reading(self) -> None:
        if self._reading and self._transport is not None and not self.closed:
            self._reading = False
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if not self._reading and self._transport is not None and not self.closed:
            self._reading = True
            self._transport.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        try:
            parser.feed(data)
            reply = parser.gets()
            while reply is not NEED_DATA:
                if self._setup:
                    waiter = self._setup.popleft()
                    if not waiter.done():
                        waiter.set_result(reply)
                else:
                    self._on_reply(self, reply)
                reply = parser.gets()
        except PARSE_ERRORS as exc:
            self._shutdown(ProtocolError(f"invalid RESP from {self.address}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else " (closed by the server)"
        self._shutdown(RedisConnectionError(f"pub/sub connection to {self.address} lost{reason}"))

    def close(self, reason: str = "closed by the client") -> None:
        self._shutdown(RedisConnectionError(f"pub/sub connection to {self.address} {reason}"))

    def _shutdown(self, error: RedisConnectionError) -> None:
        if self.closed:
            return
        self.closed = True
        if self._transport is not None:
            self._transport.close()
        while self._setup:
            waiter = self._setup.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        self._on_lost(self, error)
