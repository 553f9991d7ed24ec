"""What the slow path is handed and what it sends: how a try ended (`Outcome`), and the
request it sends again (`Single`, `Transaction`).

A try ends in one of three ways, and the slow path's next step depends only on which:

- `NotSent`: nothing reached the server (no connection, no room, a refused connection's
  fast failure): send it, wherever the command belongs now;
- `Lost`: the connection broke or the wait ran out; `written` says whether the server
  may have run it, which the resend rule (core.commands.RESEND_RULES) then decides on;
- `Replied`: the server answered; an error reply (MOVED, ASK, TRYAGAIN, WRONGTYPE ...) too.

The hot path never allocates these: a one-hop success returns the bare reply, and only a
command that leaves the hop is wrapped, once, on its way into the slow path.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from ..core.commands import command_keys, is_read_only, is_repeatable, refuse_oversized
from ..core.resp import ReplyError, encode_command
from ..errors import NotSentError, RedisConnectionError

__all__ = [
    "ASKING",
    "NOT_SENT",
    "Lost",
    "NotSent",
    "Outcome",
    "Replied",
    "Request",
    "Sender",
    "Single",
    "Transaction",
    "drop",
    "outcome_of",
    "replies_of",
]

ASKING: Final = encode_command((b"ASKING",))
MULTI: Final = encode_command((b"MULTI",))
EXEC: Final = encode_command((b"EXEC",))

Encode = Callable[[tuple[Any, ...]], bytes]


class NotSent:
    """Nothing of the command reached the server yet (one instance: `NOT_SENT`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_SENT"


NOT_SENT: Final = NotSent()


@dataclass(frozen=True, slots=True)
class Lost:
    """The try ended without a reply: a broken connection or a timeout."""

    error: RedisConnectionError | TimeoutError

    @property
    def written(self) -> bool:
        """The server may have run it: it was written before the connection broke, or it
        is still waiting for its turn on a node that stopped answering."""
        return not isinstance(self.error, NotSentError)


@dataclass(frozen=True, slots=True)
class Replied:
    """The server's reply, an error reply included."""

    value: object


Outcome = NotSent | Lost | Replied


class Sender(Protocol):
    """What a request is sent on: a connection's sends (mux.Multiplexer)."""

    def execute(self, payload: bytes) -> Any: ...
    def execute_pair(self, first: bytes, payload: bytes) -> Any: ...
    def execute_many(self, payloads: Sequence[bytes], /) -> list[asyncio.Future[object]]: ...


class Single:
    """One command on the slow path. Encoded at each send rather than kept: thousands
    of callers waiting for room on a congested connection must not hold their payloads.
    A pipeline's command is encoded before anything of the pipeline is sent (a bad
    argument fails the whole pipeline unsent), so it carries its `payload`."""

    __slots__ = ("args", "payload", "_encode")

    def __init__(self, encode: Encode, args: tuple[Any, ...], payload: bytes | None = None) -> None:
        self.args = args
        self.payload = payload
        self._encode = encode

    @property
    def repeatable(self) -> bool:
        return is_repeatable(self.args)

    @property
    def read_only(self) -> bool:
        return is_read_only(self.args)

    @property
    def keys(self) -> list[bytes]:
        return command_keys(self.args)

    def encoded(self) -> bytes:
        return self.payload if self.payload is not None else self._encode(self.args)

    def send(self, mux: Sender, asking: bytes | None, max_bulk: int) -> Any:
        """Encode and send now; what the caller awaits. The payload is not kept here (the
        connection's writer holds it until written); one the server would refuse by
        closing the connection every caller shares is refused (UnsafeCommandError)."""
        payload = self.encoded()
        if len(payload) > max_bulk:
            refuse_oversized(payload, self.args, max_bulk)
        return mux.execute_pair(asking, payload) if asking else mux.execute(payload)

    @staticmethod
    def reply(reply: object) -> object:
        return reply


class Transaction:
    """MULTI, the commands, EXEC as one group of payloads (after ASKING during a slot
    migration: a MULTI keeps the ASKING flag until EXEC). `reply` finds what the retry
    loop must look at: the first error among MULTI's and the queued commands' replies
    (a MOVED/ASK there means the transaction was discarded), else EXEC's reply. The
    payloads are encoded before anything is sent, so a bad argument sends nothing."""

    args = (b"EXEC",)

    def __init__(self, encode: Encode, batch: list[tuple[Any, ...]]) -> None:
        self.payloads = [MULTI, *(encode(args) for args in batch), EXEC]
        self.repeatable = all(is_repeatable(args) for args in batch)
        self.read_only = all(is_read_only(args) for args in batch)

    async def send(self, mux: Sender, asking: bytes | None) -> list[object]:
        """Every reply. An error reply before a lost connection is the outcome, not the
        loss: the server refused the transaction (a protocol error closes the connection
        after answering), so it is never sent again."""
        futures = mux.execute_many([asking, *self.payloads] if asking else self.payloads)
        replies: list[object] = []
        try:
            for future in futures:
                try:
                    replies.append(await future)
                except (RedisConnectionError, TimeoutError):
                    if any(type(reply) is ReplyError for reply in replies):
                        return [*replies, None]  # `reply` finds the error; None stands for EXEC's
                    raise
        finally:
            drop(futures)
        return replies

    @staticmethod
    def reply(replies: object) -> object:
        assert isinstance(replies, list)  # what `send` answers
        for reply in replies[:-1]:
            if type(reply) is ReplyError:
                return reply
        return replies[-1]


Request = Single | Transaction  # what a slow path sends: one command, or MULTI...EXEC


def outcome_of(task: asyncio.Future[object]) -> Outcome:
    """A finished send's outcome (a pipeline's future): its reply, or how it was lost."""
    if task.cancelled():
        return Lost(TimeoutError("no reply while the pipeline waited"))
    error = task.exception()
    if error is None:
        return Replied(task.result())
    if isinstance(error, (RedisConnectionError, TimeoutError)):
        return Lost(error)
    raise error


async def replies_of(futures: Sequence[asyncio.Future[object]]) -> list[object]:
    """Every reply of commands sent together, in order; the first failure is raised and
    the rest are dropped."""
    try:
        return [await future for future in futures]
    finally:
        drop(futures)


def drop(futures: Sequence[asyncio.Future[object]]) -> None:
    """Give up on sent commands: a pending one is cancelled, so its late reply is read and
    dropped; a failed one has its error taken, so asyncio does not log it as unretrieved."""
    for future in futures:
        if not future.done():
            future.cancel()
        elif not future.cancelled():
            future.exception()
