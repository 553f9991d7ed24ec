"""Writer stage (US-005): how queued commands reach the socket.

Both the selector transport and uvloop try `send()` at once on `write()`, so without
coalescing in user space every command costs one syscall. The batching writers queue
commands and flush once per event-loop tick, after every task that ran in that tick has
submitted.
"""

from __future__ import annotations

import asyncio

__all__ = ["DirectWriter", "JoinWriter", "WritelinesWriter"]


def _discard(data: bytes | bytearray | memoryview) -> None:
    """Write target once the connection is gone: its commands were already failed."""


class DirectWriter:
    """Baseline: one `transport.write` per command."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writes = 0
        self._write = _discard

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._write = transport.write

    def close(self) -> None:
        self._write = _discard

    def send(self, payload: bytes) -> None:
        self._write(payload)
        self.writes += 1


class JoinWriter:
    """Queue commands; once per loop tick write them as one `b"".join`-ed buffer."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writes = 0
        self._queue: list[bytes] = []
        self._scheduled = False
        self._call_soon = loop.call_soon
        self._transport: asyncio.WriteTransport | None = None

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def close(self) -> None:
        self._transport = None
        self._queue = []

    def send(self, payload: bytes) -> None:
        self._queue.append(payload)
        if not self._scheduled:
            self._scheduled = True
            self._call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        queue = self._queue
        if not queue or self._transport is None:
            return
        self._queue = []
        self._emit(self._transport, queue)
        self.writes += 1

    def _emit(self, transport: asyncio.WriteTransport, queue: list[bytes]) -> None:
        transport.write(queue[0] if len(queue) == 1 else b"".join(queue))


class WritelinesWriter(JoinWriter):
    """Like `JoinWriter`, but hands the list to `transport.writelines`: a vectored send on
    uvloop and on CPython >= 3.12; on 3.11's selector loop it joins internally."""

    def _emit(self, transport: asyncio.WriteTransport, queue: list[bytes]) -> None:
        transport.writelines(queue)
