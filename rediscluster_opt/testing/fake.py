"""A client of ours with no server: fake nodes that answer every request on the next loop
tick, for tests that need the client's own behaviour without a cluster, and for the lab's
in-process measurements of what a command costs the client (lab/instruments/inprocess.py).

    async def test_something():
        client = fake_client(Stages.optimized())       # five fake masters
        assert await client.get("k") == b"v" * 200

The fake parses each request with hiredis and answers a fixed reply (by default a 200 B
bulk string, the lab's GET); it runs in the caller's loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import hiredis

from ..client import ClusterClient, StandaloneClient
from ..core.topology import SlotRange, Topology
from ..mux.multiplexer import Multiplexer
from ..stages import Stages

__all__ = ["FAKE_NODES", "REPLY", "FakeServerTransport", "fake_bare", "fake_client"]

FAKE_NODES = tuple(f"127.0.0.1:{7000 + i}" for i in range(5))  # never connected to
REPLY = b"$200\r\n" + b"v" * 200 + b"\r\n"  # the lab's GET of a 200 B value


class FakeServerTransport(asyncio.Transport):
    """Answers each complete request written to it with `reply`, one read per write
    batch, on the next loop tick (as a socket's readiness would)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol, reply: bytes) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._reply = reply
        self._requests = hiredis.Reader()
        self._closing = False
        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        self._requests.feed(bytes(data))
        answers = 0
        while self._requests.gets() is not False:
            answers += 1
        if answers:
            self._loop.call_soon(self._protocol.data_received, self._reply * answers)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True


def fake_bare(mode: str = "cluster", reply: bytes = REPLY) -> Any:
    """The calibration arm wired to fake nodes, like `fake_client`."""
    from ..bench.bare import _Bare, _Connection

    loop = asyncio.get_running_loop()
    count = len(FAKE_NODES) if mode == "cluster" else 1
    connections = []
    for _ in range(count):
        connection = _Connection(loop)
        connection.connection_made(FakeServerTransport(loop, connection, reply))
        connections.append(connection)
    width = 16384 // count + 1
    table = [connections[slot // width] for slot in range(16384)]
    return _Bare(table, connections)


def fake_client(stages: Stages, mode: str = "cluster", reply: bytes = REPLY) -> Any:
    """A client of ours whose connections are fake nodes (call inside a running loop):
    in cluster mode five masters share the slots as the local cluster's do."""
    loop = asyncio.get_running_loop()
    client: ClusterClient | StandaloneClient
    if mode == "cluster":
        client = ClusterClient(list(FAKE_NODES), stages, refresh_interval=None)
        width = 16384 // len(FAKE_NODES) + 1
        ranges = tuple(
            SlotRange(i * width, min((i + 1) * width - 1, 16383), address, ())
            for i, address in enumerate(FAKE_NODES)
        )
        client.router.install(Topology(ranges))
        # no stall watch: its ticks follow the wall clock, and would add instructions
        # that depend on how long a measure took (fake nodes never stall anyway)
        client.router.suspects.cancel()
        addresses = FAKE_NODES
    else:
        client = StandaloneClient(FAKE_NODES[0], stages)
        addresses = FAKE_NODES[:1]
    pool = client._pool
    pool.loop = loop
    for address in addresses:
        mux = Multiplexer(address, client._impl, loop, client.command_timeout, pool._forget)
        mux.connection_made(FakeServerTransport(loop, mux, reply))
        pool.selector.install(address, [mux])
    return client
