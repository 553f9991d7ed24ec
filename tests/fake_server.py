"""An in-process RESP server for unit tests of protocol edge cases (never a stand-in for
the real cluster in end-to-end tests). Commands: PING, ECHO v, GET k, SET k v, ASKING,
SLEEP ms (reply after a delay, holding back later replies as a real server would),
GARBAGE (reply with invalid RESP). Replies can be cut into chunks of `chunk_size` bytes.
A handler that returns `DROP` closes the connection instead of replying (a connection
lost after the command was read), one that returns `(reply, DROP)` answers, then closes
(a server's protocol error), and one that returns b"" never answers. With `ssl` (a
server-side context) it speaks TLS only."""

from __future__ import annotations

import asyncio
import ssl as _ssl

from rediscluster_opt.core.resp import NEED_DATA, PythonReader, ReplyError
from tests.resp_values import encode_reply

DROP = b"<drop the connection>"


class FakeRedis:
    def __init__(self, chunk_size: int | None = None, ssl: _ssl.SSLContext | None = None) -> None:
        self.chunk_size = chunk_size
        self.ssl = ssl
        # command name -> function(args) -> reply bytes; checked before the built-ins, so a
        # test can script cluster replies (CLUSTER SHARDS, MOVED, ASK, TRYAGAIN ...).
        self.handlers: dict[bytes, object] = {}
        self.data: dict[bytes, bytes] = {}
        self.commands: list[list[bytes]] = []
        self.reads = 0
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> FakeRedis:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.drop_connections()
        self._server.close()
        await self._server.wait_closed()

    @property
    def address(self) -> str:
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    def drop_connections(self) -> None:
        for writer in self._writers:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        parser = PythonReader()
        try:
            while data := await reader.read(65536):
                self.reads += 1
                parser.feed(data)
                while (command := parser.gets()) is not NEED_DATA:
                    self.commands.append(command)
                    reply = await self._respond(command)
                    if reply is DROP:
                        return
                    if isinstance(reply, tuple):  # (reply, DROP): answer, then close
                        await self._send(writer, reply[0])
                        return
                    await self._send(writer, reply)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _respond(self, command: list[bytes]) -> bytes:
        name, args = command[0].upper(), command[1:]
        if name in self.handlers:
            return self.handlers[name](args)
        if name == b"PING":
            return b"+PONG\r\n"
        if name == b"ECHO":
            return encode_reply(args[0])
        if name == b"GET":
            return encode_reply(self.data.get(args[0]))
        if name == b"SET":
            self.data[args[0]] = args[1]
            return b"+OK\r\n"
        if name == b"ASKING":
            return b"+OK\r\n"
        if name == b"SLEEP":
            await asyncio.sleep(int(args[0]) / 1000)
            return b"+SLEPT\r\n"
        if name == b"GARBAGE":
            return b"?not resp\r\n"
        return encode_reply(ReplyError(f"ERR unknown command '{name.decode()}'"))

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        if not data:  # a handler that never answers
            return
        size = self.chunk_size or len(data)
        for start in range(0, len(data), size):
            writer.write(data[start : start + size])
            await writer.drain()
