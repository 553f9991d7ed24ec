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

__all__ = ["DirectWriter", "JoinWriter", "TickQueue", "WritelinesWriter"]


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


class TickQueue:
    """What a queueing writer holds until its flush: the payloads, their bytes, and
    whether a flush is scheduled. It is the writer's interface to a fused submit
    (`PooledFutureSubmit.fused_execute`), which queues with `JoinWriter.send`'s steps
    without the call: `send` and that closure are the only code that fills it."""

    __slots__ = ("items", "size", "scheduled")

    def __init__(self) -> None:
        self.items: list[bytes] = []
        self.size = 0  # bytes in items
        self.scheduled = False


class JoinWriter:
    """Queue commands; once per loop tick write them as one `b"".join`-ed buffer: `send`
    queues (`queue`), flushing at once past `FLUSH_BYTES`, else scheduling `flush` with
    `call_soon`; those four are what a fused submit uses too."""

    TRAITS: ClassVar[Traits] = Traits(runs=("send", "flush", "_emit"))

    FLUSH_BYTES: ClassVar[int] = 256 * 1024

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.writes = 0
        self.queue = TickQueue()
        self.call_soon = loop.call_soon
        self._transport: asyncio.WriteTransport | None = None

    def attach(self, transport: asyncio.WriteTransport) -> None:
        self._transport = transport

    def close(self) -> int:
        self._transport = None
        queue = self.queue
        unsent = len(queue.items)
        queue.items = []
        queue.size = 0
        return unsent

    def send(self, payload: bytes) -> None:
        queue = self.queue
        queue.items.append(payload)
        queue.size += len(payload)
        if queue.size >= self.FLUSH_BYTES:
            self.flush()  # large values: write now rather than join a growing pile
        elif not queue.scheduled:
            queue.scheduled = True
            self.call_soon(self.flush)

    def flush(self) -> None:
        queue = self.queue
        queue.scheduled = False
        items = queue.items
        if not items or self._transport is None or self._transport.is_closing():
            return  # a closing transport: `close` counts what is queued as never written
        queue.items = []
        queue.size = 0
        self._emit(self._transport, items)
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

    TRAITS: ClassVar[Traits] = Traits(runs=("send", "flush", "_emit"))

    def _emit(self, transport: asyncio.WriteTransport, queue: list[bytes]) -> None:
        transport.writelines(queue)
