"""Command methods shared by the cluster and standalone clients.

Each method builds its argument tuple and hands it to one of the routing primitives of the
client assembly (client/client.py):

- ``_keyed(key, args)``: a command with one routing key;
- ``_per_slot(command, items)``: a multi-key command split per slot in cluster mode
  (``items`` holds each key with the arguments that travel with it); returns
  ``[(indexes, reply), ...]`` so replies can be put back in request order;
- ``_keyless(args, target)``: a command without a key, for one node or every master.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from ..core.commands import (
    blocking_seconds,
    command_keys,
    command_name,
    set_result,
    shared_connection_problem,
)
from ..errors import UnsafeCommandError

__all__ = ["Commands"]

Key = str | bytes
Value = str | bytes | int | float


def _pairs_to_dict(flat: list[Any]) -> dict[Any, Any]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class Commands:
    # Commands whose reply needs no shaping are plain functions returning the client's
    # routing coroutine, so `await client.get(k)` runs one coroutine, not two.

    # -- routing primitives: the client's own (client/client.py), declared here for the
    # command methods; no default, so a class missing one fails mypy, not a call.
    _keyed: Callable[[Key, tuple[Any, ...]], Awaitable[Any]]
    _per_slot: Callable[[bytes, list[tuple[Any, ...]]], Awaitable[list[tuple[list[int], Any]]]]
    _keyless: Callable[[tuple[Any, ...], str | None], Awaitable[Any]]
    # a blocking command (BLPOP...), on a dedicated connection of the key's node
    _blocking_keyed: Callable[[Key, tuple[Any, ...], float], Awaitable[Any]]
    # the one slot of several keys; CrossSlotError naming the command before anything is sent
    _one_slot: Callable[[list[Any], str], int | None]

    # -- generic ----------------------------------------------------------------------
    async def execute_command(self, *args: Value, key: Key | None = None, target: str | None = None) -> Any:
        """Send any command. Routing: `key` if given, else the key rule of
        `rediscluster_opt.core.commands`; a keyless command goes to `target` (an address,
        "all" for every master, or None for any one master)."""
        problem = shared_connection_problem(args)
        if problem is not None:
            raise UnsafeCommandError(f"{command_name(args).decode()} refused: it {problem}")
        keys = command_keys(args) if key is None else [key]
        if len(keys) > 1:  # the server would refuse it (CROSSSLOT): say so before sending
            self._one_slot(keys, command_name(args).decode("utf-8", "replace").upper())
        seconds = blocking_seconds(args)
        if seconds is not None:  # on a dedicated connection, never the shared one
            return await self._blocking_keyed(keys[0] if keys else b"", args, seconds)
        if key is not None:
            return await self._keyed(key, args)
        if not keys:
            command_name(args)  # rejects an empty command
            return await self._keyless(args, target)
        return await self._keyed(keys[0], args)

    def execute_keyed(self, key: Key, args: tuple[Value, ...]) -> Awaitable[Any]:
        """Send a command routed by its one `key`, without `execute_command`'s checks: for
        a caller that decided once per command name, by `core.commands.always_shared`,
        that the command may share a connection and never blocks (the redis-py drop-in)."""
        return self._keyed(key, args)

    # -- strings ----------------------------------------------------------------------
    def get(self, key: Key) -> Awaitable[bytes | None]:
        return self._keyed(key, (b"GET", key))

    async def set(
        self,
        key: Key,
        value: Value,
        *,
        ex: int | None = None,
        px: int | None = None,
        nx: bool = False,
        xx: bool = False,
        keepttl: bool = False,
    ) -> bool | None:
        """True when set; None when NX/XX prevented it."""
        args: list[Any] = [b"SET", key, value]
        if ex is not None:
            args += (b"EX", ex)
        if px is not None:
            args += (b"PX", px)
        if nx:
            args.append(b"NX")
        if xx:
            args.append(b"XX")
        if keepttl:
            args.append(b"KEEPTTL")
        return set_result(await self._keyed(key, tuple(args)))

    async def psetex(self, key: Key, milliseconds: int, value: Value) -> bool:
        return bool(await self._keyed(key, (b"PSETEX", key, milliseconds, value)) == b"OK")

    def incr(self, key: Key) -> Awaitable[int]:
        return self._keyed(key, (b"INCR", key))

    def incrby(self, key: Key, amount: int) -> Awaitable[int]:
        return self._keyed(key, (b"INCRBY", key, amount))

    def decr(self, key: Key) -> Awaitable[int]:
        return self._keyed(key, (b"DECR", key))

    def decrby(self, key: Key, amount: int) -> Awaitable[int]:
        return self._keyed(key, (b"DECRBY", key, amount))

    async def mget(self, *keys: Key) -> list[bytes | None]:
        """Values in request order; in cluster mode one MGET per slot, sent concurrently."""
        values: list[Any] = [None] * len(keys)
        for indexes, reply in await self._per_slot(b"MGET", [(k,) for k in keys]):
            for index, value in zip(indexes, reply, strict=True):
                values[index] = value
        return values

    async def mset(self, mapping: Mapping[Key, Value]) -> bool:
        replies = await self._per_slot(b"MSET", list(mapping.items()))
        return all(reply == b"OK" for _, reply in replies)

    # -- keys -------------------------------------------------------------------------
    async def _count_keys(self, command: bytes, keys: Iterable[Key]) -> int:
        return sum(reply for _, reply in await self._per_slot(command, [(k,) for k in keys]))

    async def delete(self, *keys: Key) -> int:
        return await self._count_keys(b"DEL", keys)

    async def unlink(self, *keys: Key) -> int:
        return await self._count_keys(b"UNLINK", keys)

    async def exists(self, *keys: Key) -> int:
        return await self._count_keys(b"EXISTS", keys)

    async def expire(self, key: Key, seconds: int) -> bool:
        return bool(await self._keyed(key, (b"EXPIRE", key, seconds)) == 1)

    async def pexpire(self, key: Key, milliseconds: int) -> bool:
        return bool(await self._keyed(key, (b"PEXPIRE", key, milliseconds)) == 1)

    def ttl(self, key: Key) -> Awaitable[int]:
        return self._keyed(key, (b"TTL", key))

    def pttl(self, key: Key) -> Awaitable[int]:
        return self._keyed(key, (b"PTTL", key))

    # -- hashes -----------------------------------------------------------------------
    async def hset(
        self,
        key: Key,
        field: Key | None = None,
        value: Value | None = None,
        *,
        mapping: Mapping[Key, Value] | None = None,
    ) -> int:
        """Set one field (`field`, `value`) and/or every item of `mapping`; returns the
        number of fields added."""
        args: list[Any] = [b"HSET", key]
        if field is not None:
            args += (field, value)
        for item in (mapping or {}).items():
            args += item
        if len(args) == 2:
            raise ValueError("hset needs a field and value, or a non-empty mapping")
        added: int = await self._keyed(key, tuple(args))
        return added

    def hget(self, key: Key, field: Key) -> Awaitable[bytes | None]:
        return self._keyed(key, (b"HGET", key, field))

    async def hgetall(self, key: Key) -> dict[bytes, bytes]:
        return _pairs_to_dict(await self._keyed(key, (b"HGETALL", key)))

    def hdel(self, key: Key, *fields: Key) -> Awaitable[int]:
        return self._keyed(key, (b"HDEL", key, *fields))

    # -- lists, sets, sorted sets -----------------------------------------------------
    async def blpop(self, *keys: Key, timeout: float = 0) -> tuple[bytes, bytes] | None:
        """Pop from the first non-empty list, waiting up to `timeout` seconds (0: for
        ever) on a dedicated connection; (key, value) or None on timeout."""
        reply = await self.execute_command(b"BLPOP", *keys, timeout)
        return None if reply is None else (reply[0], reply[1])

    def lpush(self, key: Key, *values: Value) -> Awaitable[int]:
        return self._keyed(key, (b"LPUSH", key, *values))

    def rpush(self, key: Key, *values: Value) -> Awaitable[int]:
        return self._keyed(key, (b"RPUSH", key, *values))

    def lrange(self, key: Key, start: int, stop: int) -> Awaitable[list[bytes]]:
        return self._keyed(key, (b"LRANGE", key, start, stop))

    def sadd(self, key: Key, *members: Value) -> Awaitable[int]:
        return self._keyed(key, (b"SADD", key, *members))

    async def smembers(self, key: Key) -> builtins.set[bytes]:  # `set` here is the method
        return set(await self._keyed(key, (b"SMEMBERS", key)))

    async def zadd(self, key: Key, mapping: Mapping[Key, float]) -> int:
        args: list[Any] = [b"ZADD", key]
        for member, score in mapping.items():
            args += (score, member)
        added: int = await self._keyed(key, tuple(args))
        return added

    async def zrange(
        self, key: Key, start: int, stop: int, *, withscores: bool = False
    ) -> list[bytes] | list[tuple[bytes, float]]:
        if not withscores:
            members: list[bytes] = await self._keyed(key, (b"ZRANGE", key, start, stop))
            return members
        flat = await self._keyed(key, (b"ZRANGE", key, start, stop, b"WITHSCORES"))
        return [(m, float(s)) for m, s in zip(flat[::2], flat[1::2], strict=True)]

    # -- keyless ----------------------------------------------------------------------
    # -- pub/sub (subscribing: client.pubsub()) ----------------------------------------
    def publish(self, channel: Key, message: Value) -> Awaitable[int]:
        """PUBLISH, to the owner of the channel's slot (the cluster bus brings it to every
        node): where this client's PubSub subscribes the channel, so the reply counts its
        subscribers there, and one channel's messages keep their order."""
        return self._keyed(channel, (b"PUBLISH", channel, message))

    def spublish(self, channel: Key, message: Value) -> Awaitable[int]:
        """SPUBLISH: to the owner of the channel's slot, heard in that shard only."""
        return self._keyed(channel, (b"SPUBLISH", channel, message))

    async def ping(self, target: str | None = None) -> bool:
        reply = await self._keyless((b"PING",), target)
        replies = reply.values() if isinstance(reply, dict) else [reply]
        return all(r == b"PONG" for r in replies)

    async def dbsize(self) -> int:
        """Keys in the database; in cluster mode the sum over every master."""
        return sum((await self._keyless((b"DBSIZE",), "all")).values())

    async def flushall(self) -> bool:
        """Delete every key; in cluster mode on every master."""
        replies = await self._keyless((b"FLUSHALL",), "all")
        return all(r == b"OK" for r in replies.values())
