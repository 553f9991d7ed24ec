"""`calibration:bare`: the lower bound the lab measures our client against. NOT A CLIENT.

The least a multiplexed cluster GET can cost in this runtime: a hiredis reader, one
write per loop tick, a deque of futures, a slot table read once. It has none of the
client's guarantees: no timeouts, no redirects (a MOVED comes back as the reply), no
reconnects, no backpressure, no error types, no cancellation bookkeeping. It exists only
as a calibration arm (`rcopt bench --clients optimized,calibration:bare`), so a figure of
ours can be read as a fraction of what the design allows; nothing exports it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any

import hiredis

from ..stages.slot_hash import slot_crc_hqx as _slot  # the same hash-tag rule as the client

__all__ = ["open_bare"]


def _args(*args: bytes) -> tuple[Any, ...]:
    """A command's arguments as hiredis.pack_command takes them (its stub names 1-tuples)."""
    return args


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._reader = hiredis.Reader()
        self._waiters: deque[asyncio.Future[Any]] = deque()
        self._queue: list[bytes] = []
        self._transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        reply = self._reader.gets()
        while reply is not False:
            self._waiters.popleft().set_result(reply)
            reply = self._reader.gets()

    def send(self, payload: bytes) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        self._waiters.append(future)
        if not self._queue:
            self._loop.call_soon(self._flush)
        self._queue.append(payload)
        return future

    def _flush(self) -> None:
        self._transport.write(b"".join(self._queue))
        self._queue = []


class _Bare:
    def __init__(self, table: list[_Connection], connections: list[_Connection]) -> None:
        self._table = table
        self._connections = connections

    def get(self, key: bytes) -> asyncio.Future[Any]:
        return self._table[_slot(key)].send(b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key))

    def set(self, key: bytes, value: bytes, px: int | None = None) -> asyncio.Future[Any]:
        args: tuple[Any, ...] = (b"SET", key, value) if px is None else (b"SET", key, value, b"PX", px)
        return self._table[_slot(key)].send(hiredis.pack_command(args))

    def delete(self, key: bytes) -> asyncio.Future[Any]:
        return self._table[_slot(key)].send(hiredis.pack_command(_args(b"DEL", key)))

    async def close(self) -> None:
        for connection in self._connections:
            connection._transport.close()


async def open_bare(
    addresses: list[str], cluster: bool, auth: tuple[Any, ...] | None, tls: ssl.SSLContext | None
) -> _Bare:
    """One connection per master, found from the first address's CLUSTER SLOTS."""
    loop = asyncio.get_running_loop()

    async def connect(address: str) -> _Connection:
        host, port = address.rsplit(":", 1)
        _, connection = await loop.create_connection(
            lambda: _Connection(loop), host, int(port), ssl=tls, server_hostname=host if tls else None
        )
        if auth is not None:
            answer = await connection.send(hiredis.pack_command(auth))
            if isinstance(answer, hiredis.ReplyError):
                raise ConnectionError(f"calibration:bare: {address} refused AUTH: {answer}")
        return connection

    first = await connect(addresses[0])
    if not cluster:
        return _Bare([first] * 16384, [first])
    by_address = {addresses[0]: first}
    table: list[_Connection] = [first] * 16384
    for start, end, master, *_ in await first.send(hiredis.pack_command(_args(b"CLUSTER", b"SLOTS"))):
        address = f"{master[0].decode() or addresses[0].rsplit(':', 1)[0]}:{master[1]}"
        if address not in by_address:
            by_address[address] = await connect(address)
        table[start : end + 1] = [by_address[address]] * (end - start + 1)
    return _Bare(table, list(by_address.values()))
