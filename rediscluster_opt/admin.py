"""A blocking one-shot RESP client for control paths: waiting for nodes, inspecting and
flushing them, migrating slots in experiments. Never on the hot path. A leaf below the
launcher, the benchmarks and the lab, which all use it."""

from __future__ import annotations

import socket

from .core.resp import NEED_DATA, PythonReader, encode_command

__all__ = ["command"]


def command(host: str, port: int, *args: object, timeout: float = 2.0) -> object:
    """Send one command over a fresh blocking socket and return its reply (an error reply
    comes back as a value, a `ResponseError`)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(encode_command(args))
        reader = PythonReader()
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError(f"{host}:{port} closed the connection")
            reader.feed(data)
            reply = reader.gets()
            if reply is not NEED_DATA:
                return reply
