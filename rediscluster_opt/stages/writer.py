"""Writer stage (US-005): how queued commands reach the socket.

Both the selector transport and uvloop try `send()` at once on `write()`, so without
coalescing in user space every command costs one syscall. The batching writers queue
commands and flush once per event-loop tick, after every task that ran in that tick has
submitted; or sooner, once `FLUSH_BYTES` are queued, so one tick's burst of large values
never piles up here: the transport's buffer is what the multiplexer bounds (backpressure).

`close()` returns how many payloads were dropped unwritten: the multiplexer tells those
commands' callers that nothing was sent, so they may be sent again. A transport that is
closing (its connection broke; the multiplexer hears of it a callback later) is not
written to: asyncio would drop the bytes and, after a few, log "socket.send() raised
exception." for each write, and the commands would pass for written (maybe applied)
when they never left. Under a CLIENT KILL storm the per-command writer logged thousands.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ClassVar

from .traits import Traits

__all__ = ["DirectWriter", "JoinWriter", "WritelinesWriter"]


def _discard(data: bytes | bytearray | memoryview) -> None:
    """Write target once the connection is gone: its commands were already failed."""


def _open() -> bool:
    return False


class DirectWriter:
    """Baseline: one `transport.write` per command."""

    TRAITS: ClassVar[Traits] = Traits(runs=("send",))

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writes = 0
        self._dropped = 0  # payloads not written: the transport was closing
        self._write = _discard
        self._closing: Callable[[], bool] = _open

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._write = transport.write
        self._closing = transport.is_closing

    def close(self) -> int:
        self._write = _discard
        self._closing = _open
        return self._dropped  # the rest went to the transport at once

    def send(self, payload: bytes) -> None:
        if self._closing():
            self._dropped += 1
            return
        self._write(payload)
        self.writes += 1


class JoinWriter:
    """Queue commands; once per loop tick write them as one `b"".join`-ed buffer.
    `PooledFutureSubmit.fused_execute` fills the same queue (`_queue`, `_queued`,
    `_scheduled`, `_flush`, `_call_soon`, `FLUSH_BYTES`) with `send`'s steps: change
    them together."""

    TRAITS: ClassVar[Traits] = Traits(runs=("send", "_flush", "_emit"))

    FLUSH_BYTES: ClassVar[int] = 256 * 1024

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writes = 0
        self._queue: list[bytes] = []
        self._queued = 0  # bytes in _queue
        self._scheduled = False
        self._call_soon = loop.call_soon
        self._transport: asyncio.WriteTransport | None = None

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def close(self) -> int:
        self._transport = None
        unsent = len(self._queue)
        self._queue = []
        self._queued = 0
        return unsent

    def send(self, payload: bytes) -> None:
        self._queue.append(payload)
        self._queued += len(payload)
        if self._queued >= self.FLUSH_BYTES:
            self._flush()  # large values: write now rather than join a growing pile
        elif not self._scheduled:
            self._scheduled = True
            self._call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        queue = self._queue
        if not queue or self._transport is None or self._transport.is_closing():
            return  # a closing transport: `close` counts what is queued as never written
        self._queue = []
        self._queued = 0
        self._emit(self._transport, queue)
        self.writes += 1

    def _emit(self, transport: asyncio.WriteTransport, queue: list[bytes]) -> None:
        if len(queue) == 1:
            transport.write(queue[0])
        elif len(queue[-1]) >= self.FLUSH_BYTES:  # a large value is written, not copied again
            transport.write(b"".join(queue[:-1]))
            transport.write(queue[-1])
        else:
            transport.write(b"".join(queue))


class WritelinesWriter(JoinWriter):
    """Like `JoinWriter`, but hands the list to `transport.writelines`: a vectored send on
    uvloop and on CPython >= 3.12; on 3.11's selector loop it joins internally."""

    TRAITS: ClassVar[Traits] = Traits(runs=("send", "_flush", "_emit"))

    def _emit(self, transport: asyncio.WriteTransport, queue: list[bytes]) -> None:
        transport.writelines(queue)
