"""Which arguments of a command are keys: the routing rule for `execute_command`.

Static tables, never a `COMMAND GETKEYS` round trip. The rule, in order:
1. a command in `KEYLESS` has no key (it goes to a chosen master or to all of them);
2. in `ALL_KEYS` every argument after the name is a key; in `KEY_VALUE_PAIRS` every other
   one (MSET k v k v); in `NUMKEYS` the third argument counts the keys that follow it
   (EVAL script numkeys k1 k2 ...); in `SUBCOMMAND_KEY` the key follows a subcommand
   (OBJECT ENCODING key);
3. otherwise the first argument after the name is the key.
A caller can always name the routing key explicitly (``execute_command(..., key=...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["command_keys", "command_name", "shared_connection_problem"]

KEYLESS = frozenset(
    b"""PING ECHO FLUSHALL FLUSHDB DBSIZE INFO TIME CLUSTER CONFIG COMMAND CLIENT SCRIPT
    FUNCTION KEYS SCAN RANDOMKEY LASTSAVE SAVE BGSAVE BGREWRITEAOF WAIT ROLE READONLY
    READWRITE ASKING DEBUG SLOWLOG LATENCY MONITOR SHUTDOWN HELLO AUTH SELECT QUIT RESET
    ACL MODULE SWAPDB LOLWUT PUBLISH PUBSUB MULTI EXEC DISCARD UNWATCH""".split()
)
ALL_KEYS = frozenset(b"DEL UNLINK EXISTS TOUCH MGET WATCH SINTER SUNION SDIFF PFCOUNT".split())
KEY_VALUE_PAIRS = frozenset(b"MSET MSETNX".split())
NUMKEYS = frozenset(b"EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO".split())
SUBCOMMAND_KEY = frozenset(b"OBJECT MEMORY XINFO".split())


# Commands that would break a multiplexed connection's rule of one reply per request, in
# order, for every caller sharing it: what goes wrong, and what to use instead.
_STATE = "changes the state of a connection every caller shares"
_RHYTHM = "breaks the one-reply-per-request rhythm of a connection every caller shares"
_BLOCKS = "blocks the connection every caller shares until it is answered"
_REFUSED: dict[bytes, str] = {
    **dict.fromkeys(
        b"MULTI EXEC DISCARD WATCH UNWATCH".split(),
        f"{_STATE}; transactions (MULTI...EXEC written as one unit on one slot) are not supported yet",
    ),
    **dict.fromkeys(
        b"SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE MONITOR".split(),
        f"{_RHYTHM}; pub/sub and MONITOR need a dedicated connection (not supported yet)",
    ),
    **dict.fromkeys(
        b"SELECT RESET HELLO AUTH".split(),
        f"{_STATE}; the client sets its connections up itself (AUTH and SELECT options: not supported yet)",
    ),
    b"QUIT": f"{_STATE}; use client.close()",
    **dict.fromkeys(
        b"BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP WAIT WAITAOF".split(),
        f"{_BLOCKS}; blocking commands need a dedicated connection (not supported yet)",
    ),
}


def shared_connection_problem(args: Sequence[Any]) -> str | None:
    """Why this command must not be sent on a shared (multiplexed) connection, naming the
    alternative; None for every command that is safe to multiplex."""
    name = command_name(args)
    problem = _REFUSED.get(name)
    if problem is not None:
        return problem
    if name == b"CLIENT" and len(args) > 1 and _as_bytes(args[1]).upper() == b"REPLY":
        return _RHYTHM + "; CLIENT REPLY is never needed: every reply is read and matched"
    if name in (b"XREAD", b"XREADGROUP") and any(_as_bytes(a).upper() == b"BLOCK" for a in args[1:-1]):
        return _BLOCKS + f"; call {name.decode()} without BLOCK and poll"
    return None


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


def command_name(args: Sequence[Any]) -> bytes:
    if not args:
        raise ValueError("empty command: give at least the command name")
    return _as_bytes(args[0]).upper()


def command_keys(args: Sequence[Any]) -> list[bytes]:
    """The keys of a command as bytes, in order; [] for a keyless command."""
    name = command_name(args)
    rest = args[1:]
    if name in KEYLESS or not rest:
        return []
    if name in ALL_KEYS:
        return [_as_bytes(k) for k in rest]
    if name in KEY_VALUE_PAIRS:
        return [_as_bytes(k) for k in rest[::2]]
    if name in NUMKEYS:
        if len(rest) < 2:
            return []
        try:
            count = int(_as_bytes(rest[1]))
        except ValueError:
            raise ValueError(f"{name.decode()}: numkeys must be an integer, got {rest[1]!r}") from None
        return [_as_bytes(k) for k in rest[2 : 2 + count]]
    if name in SUBCOMMAND_KEY:
        return [_as_bytes(rest[1])] if len(rest) > 1 else []
    return [_as_bytes(rest[0])]
