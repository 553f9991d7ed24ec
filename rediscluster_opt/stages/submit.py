"""Submit stage (US-003): how a caller's command waits for its reply on a multiplexed
connection, and how per-command timeouts are enforced.

Each instance belongs to one connection and owns that connection's FIFO of pending
commands: the writer puts a command on the wire, the reader hands replies back in order
(`deliver_one` / `deliver_many`). An entry whose caller gave up (timeout, cancellation)
keeps its place, so its late reply is read and dropped and the stream stays in sync.

Every entry is handed to the writer as its own `send`, so when a connection dies the
writer's count of payloads it never wrote is exactly the number of trailing entries
that were never sent (`fail_all(..., unsent=n)`): those are safe to send again.

`call_many` is a pipeline's way in: its commands are queued back to back, each with a
future of its own and no per-command deadline. A pipeline of 100k commands is answered
over seconds, so a deadline counted from its submit would fail its tail while the server
is still answering; the pipeline waits by progress instead (client/conversation.py).
"""

from __future__ import annotations

import asyncio
import math
from abc import abstractmethod
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from .traits import Traits
from .writer import JoinWriter

__all__ = ["EventSubmit", "FutureSubmit", "PooledFutureSubmit"]

Send = Callable[[bytes], None]
NO_DEADLINE = math.inf  # a pipeline's entry: the sweep passes it by (see `call_many`)


class _EventWaiter:
    __slots__ = ("event", "result")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.result: object = None


class _FutureWaiter:
    """A pipeline's entry in `EventSubmit`'s FIFO: where a caller's entry sets its event,
    this one resolves its future (`deliver_one` calls `waiter.event.set()`)."""

    __slots__ = ("future", "result")

    def __init__(self, future: asyncio.Future[object]) -> None:
        self.future = future
        self.result: object = None

    @property
    def event(self) -> _FutureWaiter:
        return self

    def set(self) -> None:
        if self.future.done():
            return
        if isinstance(self.result, _Failure):
            self.future.set_exception(self.result.error)
        else:
            self.future.set_result(self.result)


class EventSubmit:
    """Baseline: an Event (plus a result holder) per command, and `asyncio.wait_for` per
    command for its timeout, the first thing one writes with asyncio's toolbox."""

    TRAITS: ClassVar[Traits] = Traits(runs=("call", "deliver_one", "deliver_many"))

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, timeout: float) -> None:
        self._pending: deque[_EventWaiter | _FutureWaiter] = deque()
        self._send = send
        self._timeout = timeout
        self._new_future = loop.create_future

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    async def call(self, payload: bytes) -> object:
        waiter = _EventWaiter()
        self._pending.append(waiter)
        self._send(payload)
        payload = b""  # not kept alive in this frame while the reply is awaited
        await asyncio.wait_for(waiter.event.wait(), self._timeout)
        return _outcome(waiter)

    async def call_pair(self, first: bytes, payload: bytes) -> object:
        """Send two commands back to back; return the second's reply, drop the first's."""
        self._pending.append(_EventWaiter())
        self._send(first)
        return await self.call(payload)

    def call_many(self, payloads: Sequence[bytes]) -> list[asyncio.Future[object]]:
        """Queue and send every payload now, in order; a future per reply, no deadline."""
        futures = []
        for payload in payloads:
            future = self._new_future()
            self._pending.append(_FutureWaiter(future))
            self._send(payload)
            futures.append(future)
        return futures

    def deliver_one(self, reply: object) -> None:
        waiter = self._pending.popleft()
        waiter.result = reply
        waiter.event.set()

    def deliver_many(self, replies: list[object]) -> None:
        for reply in replies:
            self.deliver_one(reply)

    def fail_all(
        self, error: BaseException, unsent: int = 0, unsent_error: BaseException | None = None
    ) -> None:
        for failure in _failures(len(self._pending), error, unsent, unsent_error):
            self.deliver_one(_Failure(failure))


def _failures(
    count: int, error: BaseException, unsent: int, unsent_error: BaseException | None
) -> list[BaseException]:
    """The error for each of `count` pending entries, oldest first: the last `unsent`
    were never written, so they get `unsent_error` (when given)."""
    cut = count - unsent if unsent_error is not None else count
    return [error] * max(cut, 0) + [unsent_error or error] * (count - max(cut, 0))


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


def _outcome(waiter: _EventWaiter) -> object:
    if isinstance(waiter.result, _Failure):
        raise waiter.result.error
    return waiter.result


class _DeadlineSweep:
    """What both future-based variants share: a deque of pending entries, and one timer
    per connection that fires at the oldest pending deadline and fails every expired
    command. Commands share one timeout, so FIFO order is deadline order and the scan
    stops at the first live entry."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, timeout: float) -> None:
        self._loop = loop
        self._send = send
        self._timeout = timeout
        self._handle: asyncio.TimerHandle | None = None
        self._pending: deque[Any] = deque()
        self._new_future = loop.create_future
        self._now = loop.time

    @property
    def in_flight(self) -> int:
        return len(self._pending)

    def arm(self, deadline: float) -> None:
        self._handle = self._loop.call_at(deadline, self._sweep)

    def _sweep(self) -> None:
        self._handle = None
        now = self._loop.time()
        for future, deadline in self._entries():
            if future.done() or deadline == NO_DEADLINE:  # a pipeline's entry waits by progress
                continue
            if deadline > now:
                self.arm(deadline)
                return
            future.set_exception(TimeoutError(f"no reply within {self._timeout:g} s"))

    @abstractmethod
    def _entries(self) -> Iterator[tuple[asyncio.Future[object], float]]:
        """(future, deadline) pairs, oldest first."""

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def fail_all(
        self, error: BaseException, unsent: int = 0, unsent_error: BaseException | None = None
    ) -> None:
        self.cancel()
        entries = list(self._entries())
        self._pending.clear()
        for (future, _), failure in zip(
            entries, _failures(len(entries), error, unsent, unsent_error), strict=True
        ):
            if not future.done():
                future.set_exception(failure)

    def call_many(self, payloads: Sequence[bytes]) -> list[asyncio.Future[object]]:
        """Queue and send every payload now, in order; a future per reply, no deadline."""
        futures = []
        for payload in payloads:
            future = self._new_future()
            self._append_entry(future, NO_DEADLINE)
            self._send(payload)
            futures.append(future)
        return futures

    @abstractmethod
    def _append_entry(self, future: asyncio.Future[object], deadline: float) -> None:
        """Queue `future` with its deadline, as this variant keeps its entries."""

    @abstractmethod
    def call(self, payload: bytes) -> asyncio.Future[object]:
        """Queue and send `payload`; the future of its reply, which fails at the deadline."""


class FutureSubmit(_DeadlineSweep):
    """A bare `loop.create_future()` per command, queued with its deadline as a tuple;
    timeouts come from the per-connection sweep, not a timer per command."""

    TRAITS: ClassVar[Traits] = Traits(runs=("call", "deliver_one", "deliver_many"))

    def _entries(self) -> Iterator[tuple[asyncio.Future[object], float]]:
        return iter(self._pending)

    def _append_entry(self, future: asyncio.Future[object], deadline: float) -> None:
        self._pending.append((future, deadline))

    def call(self, payload: bytes) -> asyncio.Future[object]:
        future = self._new_future()
        deadline = self._now() + self._timeout
        self._pending.append((future, deadline))
        self._send(payload)
        if self._handle is None:
            self.arm(deadline)
        return future

    def call_pair(self, first: bytes, payload: bytes) -> asyncio.Future[object]:
        skipped = self._new_future()
        skipped.cancel()  # done already, so its reply (or failure) is dropped
        self._pending.append((skipped, self._now() + self._timeout))
        self._send(first)
        return self.call(payload)

    def deliver_one(self, reply: object) -> None:
        future = self._pending.popleft()[0]
        if not future.done():
            future.set_result(reply)

    def deliver_many(self, replies: list[object]) -> None:
        popleft = self._pending.popleft
        for reply in replies:
            future = popleft()[0]
            if not future.done():
                future.set_result(reply)


class _Pending:
    __slots__ = ("future", "deadline")

    future: asyncio.Future[object] | None
    deadline: float


class PooledFutureSubmit(_DeadlineSweep):
    """Like `FutureSubmit`, but the pending records are recycled through a free list
    instead of allocating a tuple per command (the PRD's SlotPool idea). Every record
    comes from the free list (ASK pairs included) and the list keeps at most `FREE_CAP`,
    so memory after a burst of commands is bounded."""

    TRAITS: ClassVar[Traits] = Traits(runs=("call", "deliver_one", "deliver_many"))

    FREE_CAP: ClassVar[int] = 1024

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send, timeout: float) -> None:
        super().__init__(loop, send, timeout)
        self._free: list[_Pending] = []

    def _entries(self) -> Iterator[tuple[asyncio.Future[object], float]]:
        return ((record.future, record.deadline) for record in self._pending)

    def _append_entry(self, future: asyncio.Future[object], deadline: float) -> None:
        record = self._free.pop() if self._free else _Pending()
        record.future = future
        record.deadline = deadline
        self._pending.append(record)

    def call(self, payload: bytes) -> asyncio.Future[object]:
        free = self._free
        record = free.pop() if free else _Pending()
        record.future = future = self._new_future()
        record.deadline = deadline = self._now() + self._timeout
        self._pending.append(record)
        self._send(payload)
        if self._handle is None:
            self.arm(deadline)
        return future

    @staticmethod
    def fuses_with(writer: object) -> bool:
        """Whether `fused_execute` has a form for this writer class."""
        return isinstance(writer, type) and issubclass(writer, JoinWriter)

    def fused_execute(self, writer: object) -> Callable[[bytes], asyncio.Future[object]] | None:
        """`call` with a queueing writer's `send` spliced in (JoinWriter and its
        subclasses): one frame where the pair takes two, same steps in the same order.
        None for any other writer, whose `send` `call` then calls. The fused dispatch
        gives each connection this as its `execute`; the e2e suite runs both forms."""
        if not self.fuses_with(type(writer)):
            return None
        assert isinstance(writer, JoinWriter)
        free = self._free
        append_pending = self._pending.append
        new_future = self._new_future
        now = self._now
        timeout = self._timeout
        arm = self.arm
        # the writer's declared interface: its queue and how it flushes (JoinWriter.send)
        queue = writer.queue
        limit = writer.FLUSH_BYTES
        flush = writer.flush
        call_soon = writer.call_soon

        def execute(payload: bytes) -> asyncio.Future[object]:
            record = free.pop() if free else _Pending()
            record.future = future = new_future()
            record.deadline = deadline = now() + timeout
            append_pending(record)
            queue.items.append(payload)  # re-read: each flush starts a new list
            queue.size += len(payload)
            if queue.size >= limit:
                flush()
            elif not queue.scheduled:
                queue.scheduled = True
                call_soon(flush)
            if self._handle is None:
                arm(deadline)
            return future

        return execute

    def call_pair(self, first: bytes, payload: bytes) -> asyncio.Future[object]:
        free = self._free
        record = free.pop() if free else _Pending()
        record.future = self._new_future()
        record.future.cancel()  # done already, so its reply (or failure) is dropped
        record.deadline = self._now() + self._timeout
        self._pending.append(record)
        self._send(first)
        return self.call(payload)

    def deliver_one(self, reply: object) -> None:
        record = self._pending.popleft()
        future = record.future
        record.future = None
        if len(self._free) < self.FREE_CAP:
            self._free.append(record)
        if not future.done():
            future.set_result(reply)

    def deliver_many(self, replies: list[object]) -> None:
        popleft = self._pending.popleft
        release = self._free.append
        for reply in replies:
            record = popleft()
            future = record.future
            record.future = None
            release(record)
            if not future.done():
                future.set_result(reply)
        free = self._free
        if len(free) > self.FREE_CAP:  # once per read, not per reply
            del free[self.FREE_CAP :]
