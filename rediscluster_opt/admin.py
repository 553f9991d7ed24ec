"""A blocking one-shot RESP client for control paths: waiting for nodes, inspecting and
flushing them, migrating slots in experiments. Never on the hot path. A leaf below the
launcher, the benchmarks and the lab, which all use it."""

from __future__ import annotations

import socket
import ssl

from .core.commands import auth_command
from .core.resp import NEED_DATA, PythonReader, ReplyError, encode_command
from .core.secrets import mask_secrets

__all__ = ["command"]


def command(
    host: str,
    port: int,
    *args: object,
    timeout: float = 2.0,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    username: str | None = None,
) -> object:
    """Send one command over a fresh blocking socket (TLS with `tls`) and return its
    reply (an error reply comes back as a value, a `ResponseError`). With `password`
    (and `username` for an ACL user), AUTH goes first; its refusal is returned instead
    of the command's reply, with the credentials masked (a server where AUTH is renamed
    away echoes its arguments)."""
    with socket.create_connection((host, port), timeout=timeout) as plain:
        sock = plain if tls is None else tls.wrap_socket(plain, server_hostname=host)
        reader = PythonReader()
        if password is not None:
            sock.sendall(encode_command(auth_command(password, username)))
            answer = _read(sock, reader, host, port)
            if isinstance(answer, ReplyError):
                return ReplyError(mask_secrets(answer.args[0], (password, username)))
            if answer != b"OK":
                return answer
        sock.sendall(encode_command(args))
        return _read(sock, reader, host, port)


def _read(sock: socket.socket, reader: PythonReader, host: str, port: int) -> object:
    while True:
        reply = reader.gets()
        if reply is not NEED_DATA:
            return reply
        data = sock.recv(65536)
        if not data:
            raise ConnectionError(f"{host}:{port} closed the connection")
        reader.feed(data)
