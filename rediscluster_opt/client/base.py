"""What the cluster and standalone clients share: the connection pool built from the
chosen stages, lifecycle, error wrapping and I/O statistics."""

from __future__ import annotations

import asyncio
from typing import Any

from ..core.resp import ReplyError
from ..errors import (
    AUTH_CODES,
    AuthenticationError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
)
from ..mux.pool import MultiplexPool
from ..stages import Stages
from ..validate import check_number
from .commands import Commands

__all__ = ["BaseClient", "command_label", "wrap_failure"]


def command_label(args: tuple[Any, ...]) -> str:
    name = args[0] if args else b"?"
    return (name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)).upper()


def wrap_failure(
    exc: RedisConnectionError | TimeoutError, address: str | None, args: tuple[Any, ...]
) -> RedisError:
    """A mux-level failure (the only two kinds a multiplexer raises) as the typed error
    the caller sees, naming node and command. A timeout's own text is often empty."""
    label = command_label(args)
    if isinstance(exc, RedisConnectionError):
        return type(exc)(f"{label} on {address}: {exc}")
    return RedisTimeoutError(f"{label} on {address}: {str(exc) or 'no reply within the command timeout'}")


def reply_failure(reply: ReplyError, address: str, args: tuple[Any, ...]) -> ResponseError:
    text = reply.args[0]
    kind = AuthenticationError if text.split(" ", 1)[0] in AUTH_CODES else ResponseError
    return kind(text, node=address, command=command_label(args))


class BaseClient(Commands):
    def __init__(
        self,
        stages: Stages | None = None,
        *,
        connections_per_node: int = 1,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
    ) -> None:
        """`stages`: one implementation per hot-path stage (default `Stages.optimized()`);
        `connections_per_node`: multiplexed connections per node, picked round-robin;
        timeouts in seconds."""
        check_number("connect_timeout", connect_timeout, unit="seconds")
        check_number("command_timeout", command_timeout, unit="seconds")
        self.stages = stages if stages is not None else Stages.optimized()
        if not isinstance(self.stages, Stages):
            raise ValueError(f"stages must be a Stages value, got {type(self.stages).__name__}")
        self.connections_per_node = connections_per_node
        self._impl = self.stages.resolve()
        self._pool = MultiplexPool(
            self._impl,
            connections_per_node=connections_per_node,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
        )
        self._pick = self._pool.pick
        self._encode = self._impl.encoder

    async def _call_node(self, address: str, args: tuple[Any, ...]) -> Any:
        """Send one command to one node; error replies are raised (slow paths, keyless)."""
        mux = self._pick(address) or await self._pool.connect(address)
        try:
            reply = await mux.execute(self._encode(args))
        except (RedisConnectionError, TimeoutError) as exc:
            raise wrap_failure(exc, address, args) from exc
        if type(reply) is ReplyError:
            raise reply_failure(reply, address, args)
        return reply

    async def close(self) -> None:
        await self._pool.close()

    async def __aenter__(self) -> BaseClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def io_counters(self) -> dict[str, int]:
        """Socket writes, reads and replies so far, summed over every connection."""
        return self._pool.io_counters()

    def describe(self) -> dict[str, Any]:
        return {
            "client": type(self).__name__,
            "stages": self.stages.as_dict(),
            "label": self.stages.label(),
            "connections_per_node": self.connections_per_node,
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        }
