"""Parser and reader stages (US-006): bytes from the socket -> replies -> waiting callers.

The parser turns bytes into replies (pure Python or hiredis, same interface); the reader
decides how replies are handed to the submit stage: one at a time as each is parsed, or
all complete replies of one read first and then resolved in one batch.
"""

from __future__ import annotations

from typing import Protocol

import hiredis

from ..core.resp import NEED_DATA, PythonReader, ReplyError, RespProtocolError

__all__ = ["BatchReader", "PerReplyReader", "hiredis_parser", "python_parser"]


class Parser(Protocol):
    def feed(self, data: bytes) -> None: ...
    def gets(self) -> object: ...


class Deliverer(Protocol):
    def deliver_one(self, reply: object) -> None: ...
    def deliver_many(self, replies: list) -> None: ...


def python_parser() -> Parser:
    return PythonReader(reply_error=ReplyError, not_enough_data=NEED_DATA)


def hiredis_parser() -> Parser:
    return hiredis.Reader(replyError=ReplyError, notEnoughData=NEED_DATA)


# Corrupt-stream errors either parser can raise; the connection is dropped on these.
PARSE_ERRORS = (hiredis.ProtocolError, RespProtocolError)


class PerReplyReader:
    """Baseline: parse one reply, hand it to its waiter, parse the next."""

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


class BatchReader:
    """Optimized: drain every complete reply of this read, then resolve them in one call."""

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
        replies = []
        append = replies.append
        reply = gets()
        while reply is not NEED_DATA:
            append(reply)
            reply = gets()
        if replies:
            self.replies += len(replies)
            self._deliver_many(replies)
