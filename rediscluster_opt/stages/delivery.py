"""Delivery stage (US-006): how parsed replies reach their waiting callers.

Bytes from the socket go through the parser stage (`stages.parser`); delivery decides how
the replies are handed to the submit stage: one at a time as each is parsed, or every
complete reply of one read first, then resolved in one batch.
"""

from __future__ import annotations

from typing import ClassVar

from ..core.resp import NEED_DATA
from .contracts import Deliverer, Parser
from .traits import Traits

__all__ = ["BatchDelivery", "PerReplyDelivery"]


class PerReplyDelivery:
    """Baseline: parse one reply, hand it to its waiter, parse the next."""

    TRAITS: ClassVar[Traits] = Traits(runs=("data_received",))

    def __init__(self, parser: Parser, submit: Deliverer) -> None:
        self.reads = 0
        self.replies = 0
        self._feed = parser.feed
        self._gets = parser.gets
        self._deliver = submit.deliver_one

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        self._feed(data)
        reply = self._gets()
        while reply is not NEED_DATA:
            self.replies += 1
            self._deliver(reply)
            reply = self._gets()


class BatchDelivery:
    """Optimized: drain every complete reply of this read, then resolve them in one call."""

    TRAITS: ClassVar[Traits] = Traits(runs=("data_received",))

    def __init__(self, parser: Parser, submit: Deliverer) -> None:
        self.reads = 0
        self.replies = 0
        self._feed = parser.feed
        self._gets = parser.gets
        self._deliver_many = submit.deliver_many

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        self._feed(data)
        gets = self._gets
        replies: list[object] = []
        append = replies.append
        reply = gets()
        while reply is not NEED_DATA:
            append(reply)
            reply = gets()
        if replies:
            self.replies += len(replies)
            self._deliver_many(replies)
