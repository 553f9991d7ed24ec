"""RESP wire format: command encoding and a pure-Python reply reader.

No I/O here. `PythonReader` has the same shape as `hiredis.Reader` (``feed`` bytes in,
``gets`` one reply out or a "need more data" sentinel), so the two are interchangeable in
the reader stage and one conformance suite covers both.

Server error replies (``-ERR ...``) are returned as `ReplyError` *values*, never raised:
a multiplexer must hand each error to the caller it belongs to and keep the connection.
Only a corrupt stream raises (`RespProtocolError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import ReplyError

__all__ = [
    "NEED_DATA",
    "PythonReader",
    "ReplyError",
    "RespProtocolError",
    "encode_command",
    "to_bytes",
]


class _NeedData:
    """Sentinel type: the buffer does not yet hold one complete reply."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = _NeedData()


class RespProtocolError(Exception):
    """The byte stream is not valid RESP; the connection that produced it is unusable."""


def to_bytes(value: object) -> bytes:
    """One command argument as bytes: str is UTF-8, int/float in decimal, bytes as is."""
    # Exact type checks, not isinstance: this runs for every argument of every command,
    # and a cast() per argument would be a call on the hot path; hence the ignores.
    kind = type(value)
    if kind is bytes:
        return value  # type: ignore[return-value]  # kind is bytes
    if kind is str:
        return value.encode()  # type: ignore[attr-defined, no-any-return]  # kind is str
    if kind is int:
        return b"%d" % value  # type: ignore[str-format]  # kind is int
    if kind is float:
        return repr(value).encode()
    # Off the fast path: subclasses (a StrEnum member, say) are their base type's value,
    # the same for every encoder variant.
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, str):
        return str.encode(value)
    # bool is an int subclass, but "True" on the wire is almost always a bug in the caller.
    raise TypeError(f"cannot send {kind.__name__} {value!r} to Redis: use bytes, str, int or float")


def encode_command(args: Sequence[Any]) -> bytes:
    """Encode one command as a RESP array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    append = parts.append
    for arg in args:
        data = arg if type(arg) is bytes else to_bytes(arg)
        append(b"$%d\r\n" % len(data))
        append(data)
        append(b"\r\n")
    return b"".join(parts)


class _Incomplete(Exception):
    """Raised inside the parser when the buffer ends mid-reply; never escapes `gets`."""


# Compact the buffer once this many bytes have been consumed, so a long-lived connection
# does not keep every reply it ever read, while small reads do not pay for a copy each time.
_COMPACT_AFTER = 64 * 1024


class PythonReader:
    """Incremental RESP2/RESP3 reader in pure Python, agreeing with ``hiredis.Reader``.

    Supported types are those hiredis-py supports: simple string, error, integer, bulk
    string, array, and RESP3 null, boolean, double, big number (as bytes, like hiredis),
    map (dict), set (list), verbatim string (bytes without its format prefix) and push (list).
    An incomplete reply is re-parsed from its start on the next `gets`; replies are small
    on the hot path, and that keeps the reader free of resumable state.
    """

    def __init__(
        self,
        reply_error: type[Exception] = ReplyError,
        not_enough_data: object = NEED_DATA,
    ) -> None:
        self._buffer = bytearray()
        self._pos = 0
        self._reply_error = reply_error
        self._need = not_enough_data
        self._readers = {
            43: self._simple,  # +
            45: self._error,  # -
            58: self._integer,  # :
            36: self._bulk,  # $
            42: self._array,  # *
            95: self._null,  # _
            35: self._boolean,  # #
            44: self._double,  # ,
            40: self._big_number,  # (
            37: self._map,  # %
            126: self._array,  # ~ (set, returned as a list like hiredis)
            61: self._verbatim,  # =
            62: self._array,  # > (push)
        }

    def feed(self, data: bytes) -> None:
        self._buffer += data

    def gets(self) -> object:
        try:
            value, end = self._read(self._pos)
        except _Incomplete:
            return self._need
        self._pos = end
        if end == len(self._buffer):
            self._buffer.clear()
            self._pos = 0
        elif end > _COMPACT_AFTER:
            del self._buffer[:end]
            self._pos = 0
        return value

    # Each reader takes the offset just after the type byte's line start and returns
    # (value, offset after the reply).
    def _line(self, pos: int) -> tuple[bytes, int]:
        end = self._buffer.find(b"\r\n", pos)
        if end < 0:
            raise _Incomplete
        return bytes(self._buffer[pos:end]), end + 2

    def _read(self, pos: int) -> tuple[object, int]:
        if pos >= len(self._buffer):
            raise _Incomplete
        kind = self._buffer[pos]
        reader = self._readers.get(kind)
        if reader is None:
            raise RespProtocolError(f"unknown RESP type byte {bytes([kind])!r} at offset {pos}")
        return reader(pos + 1)

    def _simple(self, pos: int) -> tuple[object, int]:
        return self._line(pos)

    def _error(self, pos: int) -> tuple[object, int]:
        line, end = self._line(pos)
        return self._reply_error(line.decode("utf-8", "replace")), end

    def _length(self, pos: int) -> tuple[int, int]:
        line, end = self._line(pos)
        try:
            return int(line), end
        except ValueError:
            raise RespProtocolError(f"bad length or integer {line!r}") from None

    def _integer(self, pos: int) -> tuple[object, int]:
        return self._length(pos)

    def _bulk(self, pos: int) -> tuple[object, int]:
        size, start = self._length(pos)
        if size < 0:
            return None, start
        end = start + size
        if len(self._buffer) < end + 2:
            raise _Incomplete
        if self._buffer[end : end + 2] != b"\r\n":
            raise RespProtocolError("bulk string not terminated by CRLF")
        return bytes(self._buffer[start:end]), end + 2

    def _items(self, count: int, pos: int) -> tuple[list[Any], int]:
        items = []
        for _ in range(count):
            item, pos = self._read(pos)
            items.append(item)
        return items, pos

    def _array(self, pos: int) -> tuple[object, int]:
        count, pos = self._length(pos)
        if count < 0:
            return None, pos
        return self._items(count, pos)

    def _map(self, pos: int) -> tuple[object, int]:
        count, pos = self._length(pos)
        flat, pos = self._items(2 * count, pos)
        return dict(zip(flat[::2], flat[1::2], strict=True)), pos

    def _null(self, pos: int) -> tuple[object, int]:
        _, end = self._line(pos)
        return None, end

    def _boolean(self, pos: int) -> tuple[object, int]:
        line, end = self._line(pos)
        if line not in (b"t", b"f"):
            raise RespProtocolError(f"bad boolean {line!r}")
        return line == b"t", end

    def _double(self, pos: int) -> tuple[object, int]:
        line, end = self._line(pos)
        try:
            return float(line), end
        except ValueError:
            raise RespProtocolError(f"bad double {line!r}") from None

    def _big_number(self, pos: int) -> tuple[object, int]:
        return self._line(pos)

    def _verbatim(self, pos: int) -> tuple[object, int]:
        text, end = self._bulk(pos)
        # The first four bytes are the format ("txt:" or "mkd:"), which hiredis drops.
        return text[4:], end  # type: ignore[index]  # _bulk of a '=' reply is always bytes
