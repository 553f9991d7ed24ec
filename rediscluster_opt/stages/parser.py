"""Parser stage (US-006): bytes from the socket -> replies. Both variants have the shape
of `hiredis.Reader` (``feed`` bytes in, ``gets`` one reply out or `NEED_DATA`)."""

from __future__ import annotations

import hiredis

from ..core.resp import NEED_DATA, PythonReader, ReplyError, RespProtocolError
from .contracts import Parser
from .traits import describes

__all__ = ["PARSE_ERRORS", "hiredis_parser", "python_parser"]


@describes(runs=())  # a factory: what runs is the reader it makes
def python_parser() -> Parser:
    return PythonReader(reply_error=ReplyError, not_enough_data=NEED_DATA)


@describes(runs=())  # hiredis.Reader runs in C
def hiredis_parser() -> Parser:
    reader: Parser = hiredis.Reader(replyError=ReplyError, notEnoughData=NEED_DATA)
    return reader


# Corrupt-stream errors either parser can raise; the connection is dropped on these.
PARSE_ERRORS = (hiredis.ProtocolError, RespProtocolError)
