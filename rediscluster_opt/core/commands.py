"""Which arguments of a command are keys: the routing rule for `execute_command`.

Static tables, never a `COMMAND GETKEYS` round trip. The rule, in order:
1. a command in `KEYLESS` has no key (it goes to a chosen master or to all of them);
2. in `ALL_KEYS` every argument after the name is a key; in `KEY_VALUE_PAIRS` every other
   one (MSET k v k v); in `NUMKEYS` the third argument counts the keys that follow it
   (EVAL script numkeys k1 k2 ...); in `SUBCOMMAND_KEY` the key follows a subcommand
   (OBJECT ENCODING key); in `NUMKEYS_FIRST` a count comes first (LMPOP numkeys k1 ...);
   XREAD/XREADGROUP name their keys after STREAMS;
3. otherwise the first argument after the name is the key.
A caller can always name the routing key explicitly (``execute_command(..., key=...)``).

The module also classifies commands for the client's policies: which ones must never
share a connection, which block (and run on a dedicated one), which are reads (may go
to a replica) and which may be sent again after a connection loss (`RESEND_RULES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import UnsafeCommandError

__all__ = [
    "RESEND_RULES",
    "ResendRule",
    "always_shared",
    "auth_command",
    "blocking_seconds",
    "command_keys",
    "command_name",
    "is_read_only",
    "is_repeatable",
    "oversized",
    "refuse_oversized",
    "set_result",
    "shared_connection_problem",
]

# PUBLISH is not among them: it is routed by its channel, as redis-py does, to the node
# where a PubSub of this client subscribes that channel (client/pubsub.py), so its reply
# counts those subscribers and messages of one channel keep their order.
KEYLESS = frozenset(
    b"""PING ECHO FLUSHALL FLUSHDB DBSIZE INFO TIME CLUSTER CONFIG COMMAND CLIENT SCRIPT
    FUNCTION KEYS SCAN RANDOMKEY LASTSAVE SAVE BGSAVE BGREWRITEAOF WAIT ROLE READONLY
    READWRITE ASKING DEBUG SLOWLOG LATENCY MONITOR SHUTDOWN HELLO AUTH SELECT QUIT RESET
    ACL MODULE SWAPDB LOLWUT PUBSUB MULTI EXEC DISCARD UNWATCH""".split()
)
ALL_KEYS = frozenset(b"DEL UNLINK EXISTS TOUCH MGET WATCH SINTER SUNION SDIFF PFCOUNT".split())
KEY_VALUE_PAIRS = frozenset(b"MSET MSETNX".split())
NUMKEYS = frozenset(b"EVAL EVALSHA EVAL_RO EVALSHA_RO FCALL FCALL_RO".split())
SUBCOMMAND_KEY = frozenset(b"OBJECT MEMORY XINFO".split())
NUMKEYS_FIRST = {b"LMPOP": 0, b"ZMPOP": 0, b"SINTERCARD": 0, b"BLMPOP": 1, b"BZMPOP": 1}


# Commands that would break a multiplexed connection's rule of one reply per request, in
# order, for every caller sharing it: what goes wrong, and what to use instead.
_STATE = "changes the state of a connection every caller shares"
_RHYTHM = "breaks the one-reply-per-request rhythm of a connection every caller shares"
_BLOCKS = "blocks the connection every caller shares until it is answered"
_REFUSED: dict[bytes, str] = {
    **dict.fromkeys(
        b"MULTI EXEC DISCARD WATCH UNWATCH".split(),
        f"{_STATE}; use client.transaction((cmd, ...), ...), which writes MULTI...EXEC as one unit",
    ),
    **dict.fromkeys(
        b"SUBSCRIBE PSUBSCRIBE SSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SUNSUBSCRIBE MONITOR".split(),
        f"{_RHYTHM}; use client.pubsub(), which has connections of its own (MONITOR: not supported)",
    ),
    **dict.fromkeys(
        b"SELECT RESET HELLO AUTH".split(),
        f"{_STATE}; the client sets its connections up itself (AUTH and SELECT options: not supported yet)",
    ),
    **dict.fromkeys(
        b"READONLY READWRITE".split(),
        f"{_STATE}; the client sends READONLY itself to replicas it reads from (read_from=...)",
    ),
    **dict.fromkeys(
        b"SYNC PSYNC REPLCONF".split(),
        f"{_RHYTHM}: it turns the connection into a replication stream; use a replica, not a client",
    ),
    b"QUIT": f"{_STATE}; use client.close()",
    **dict.fromkeys(
        b"WAIT WAITAOF".split(),
        f"{_BLOCKS}; it also counts only that connection's writes, which are every caller's: "
        "use the replicas' INFO replication offsets instead",
    ),
}

_CLIENT_REFUSED = {
    b"REPLY": _RHYTHM + "; CLIENT REPLY is never needed: every reply is read and matched",
    **dict.fromkeys(
        b"TRACKING CACHING NO-EVICT NO-TOUCH".split(),
        f"{_STATE}; it would track, cache or exempt every caller's commands (client-side "
        "caching needs a connection of its own: not supported yet)",
    ),
}

# Commands that block only with an option (BLOCK <milliseconds>)
_BLOCKING_WITH_OPTION = frozenset((b"XREAD", b"XREADGROUP"))
# Blocking commands run on a dedicated connection (never the shared one); the position of
# the server-side timeout, in seconds, counted from the command name.
_BLOCKING_TIMEOUT_AT: dict[bytes, int] = {
    **dict.fromkeys(b"BLPOP BRPOP BZPOPMIN BZPOPMAX BLMOVE BRPOPLPUSH".split(), -1),
    **dict.fromkeys(b"BLMPOP BZMPOP".split(), 1),
}

# Reads: the routing key of one may go to a replica, and one is safe to send again.
_READS = frozenset(
    b"""GET MGET EXISTS TTL PTTL EXPIRETIME PEXPIRETIME TYPE STRLEN GETRANGE SUBSTR HGET
    HMGET HGETALL HKEYS HVALS HLEN HEXISTS HSTRLEN HRANDFIELD LRANGE LLEN LINDEX LPOS
    SMEMBERS SISMEMBER SMISMEMBER SCARD SRANDMEMBER SINTER SUNION SDIFF SINTERCARD ZRANGE
    ZRANGEBYSCORE ZREVRANGE ZREVRANGEBYSCORE ZRANGEBYLEX ZSCORE ZMSCORE ZCARD ZCOUNT ZRANK
    ZREVRANK ZLEXCOUNT XRANGE XREVRANGE XLEN GETBIT BITCOUNT BITPOS PFCOUNT DUMP OBJECT
    GEOPOS GEODIST GEOHASH GEOSEARCH SORT_RO EVAL_RO EVALSHA_RO FCALL_RO MEMORY""".split()
)


@dataclass(frozen=True)
class ResendRule:
    """Whether a command family may be sent again after a connection loss left unknown
    whether the server ran it, and why (docs/client.md prints this table)."""

    family: str
    commands: frozenset[bytes]
    resend: bool
    reason: str


def _names(text: str) -> frozenset[bytes]:
    return frozenset(text.encode().split())


# The rule: a command that may have run is sent again only when a second execution is
# indistinguishable from one, to the caller and to the data: it changes nothing, or both
# its effect and its reply are fixed by its arguments, whatever the state it runs on.
# Everything not listed as resent here gets MaybeAppliedError instead.
RESEND_RULES: tuple[ResendRule, ...] = (
    ResendRule("reads", _READS, True, "no effect: the reply is the one execution's that answered"),
    ResendRule(
        "SET without NX, XX or GET; SETEX, PSETEX, MSET, HMSET",
        _names("SET SETEX PSETEX MSET HMSET"),
        True,
        "the value written is fixed by the arguments and the reply is always OK",
    ),
    ResendRule(
        "SET with NX, XX or GET; GETSET, GETDEL, GETEX, MSETNX, SETNX, HSETNX",
        _names("GETSET GETDEL GETEX MSETNX SETNX HSETNX"),
        False,
        "the reply says what was there before, which the first execution changed",
    ),
    ResendRule("DEL, UNLINK", _names("DEL UNLINK"), False, "the reply counts the keys that existed"),
    ResendRule(
        "SADD, SREM, HSET, HDEL, ZADD, ZREM, PFADD",
        _names("SADD SREM HSET HDEL ZADD ZREM PFADD"),
        False,
        "the reply counts the members added or removed, which a second run finds done",
    ),
    ResendRule("SETBIT", _names("SETBIT"), False, "the reply is the bit before, which the first run set"),
    ResendRule(
        "EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT, PERSIST",
        _names("EXPIRE PEXPIRE EXPIREAT PEXPIREAT PERSIST"),
        False,
        "the reply says whether a TTL was set or removed; NX/GT/LT also depend on the TTL before",
    ),
    ResendRule(
        "SETRANGE, APPEND, INCR and the other counters, list pushes and pops",
        _names(
            "SETRANGE APPEND INCR INCRBY INCRBYFLOAT DECR DECRBY HINCRBY HINCRBYFLOAT ZINCRBY "
            "LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LMOVE RPOPLPUSH SPOP ZPOPMIN ZPOPMAX XADD"
        ),
        False,
        "a second run changes the data again (APPEND, INCR, pushes, pops) or answers from "
        "the state the first left (SETRANGE's length)",
    ),
)
_RESENT = frozenset().union(*(rule.commands for rule in RESEND_RULES if rule.resend))
_SET_NOT_REPEATABLE = frozenset((b"NX", b"XX", b"GET"))


def shared_connection_problem(args: Sequence[Any]) -> str | None:
    """Why this command must not be sent on a shared (multiplexed) connection, naming the
    alternative; None for every command that is safe to multiplex."""
    name = command_name(args)
    problem = _REFUSED.get(name)
    if problem is not None:
        return problem
    if name == b"CLIENT" and len(args) > 1:
        return _CLIENT_REFUSED.get(_as_bytes(args[1]).upper())
    return None


def always_shared(name: bytes) -> bool:
    """Whether every use of command `name` (upper case) goes on a shared connection as it
    is: no rule refuses it and it blocks in no form, whatever its arguments, so a caller
    may decide once per name what `shared_connection_problem` and `blocking_seconds`
    decide per command."""
    return (
        name not in _REFUSED
        and name != b"CLIENT"  # some of its subcommands are refused
        and name not in _BLOCKING_TIMEOUT_AT
        and name not in _BLOCKING_WITH_OPTION
    )


def blocking_seconds(args: Sequence[Any]) -> float | None:
    """How long the server may hold this blocking command, in seconds (`inf` for "until
    data comes"); None for a command that does not block."""
    name = command_name(args)
    at = _BLOCKING_TIMEOUT_AT.get(name)
    if at is not None:
        if len(args) <= max(at, 1):
            return None  # too short to block; let the server report the arity error
        value = _timeout(name, args[at], "seconds")
        return float("inf") if value == 0 else value
    if name in _BLOCKING_WITH_OPTION:
        words = [_as_bytes(a).upper() for a in args]
        if b"BLOCK" in words[:-1]:
            milliseconds = _timeout(name, args[words.index(b"BLOCK") + 1], "milliseconds")
            return float("inf") if milliseconds == 0 else milliseconds / 1000
    return None


def _timeout(name: bytes, value: object, unit: str) -> float:
    """A blocking command's timeout as a number; ValueError names the command otherwise."""
    try:
        number = float(_as_bytes(value))  # None and True become b"None", b"True": refused
    except ValueError:
        number = float("nan")
    if not 0 <= number < float("inf"):  # also false for NaN
        raise ValueError(
            f"{name.decode()}: the timeout must be a number of {unit} >= 0 (0 blocks until data comes), "
            f"got {value!r}"
        )
    return number


def is_read_only(args: Sequence[Any]) -> bool:
    return command_name(args) in _READS


def is_repeatable(args: Sequence[Any]) -> bool:
    """True when the command may be sent again after a connection loss left unknown
    whether it ran: a second execution gives the caller the reply and the data one would
    (`RESEND_RULES`). Commands the table does not list as resent are not."""
    name = command_name(args)
    if name == b"SET":  # SET k v [EX s]: yes; with NX/XX/GET the second run answers differently
        return not any(_as_bytes(a).upper() in _SET_NOT_REPEATABLE for a in args[3:])
    return name in _RESENT


# What a server takes in one request by default: each bulk up to proto-max-bulk-len, the
# whole request up to client-query-buffer-limit. Past either it answers a protocol error
# and closes the connection, failing every other caller's command in flight on it.
MAX_BULK_BYTES = 512 * 1024 * 1024
MAX_REQUEST_BYTES = 1024 * 1024 * 1024


def oversized(payload: bytes, args: Sequence[Any], max_bulk: int) -> str | None:
    """Why the server would refuse this request and close its connection, or None. The
    hop calls it only for a payload longer than `max_bulk` (one comparison per command),
    so the arguments are measured only then."""
    if len(payload) > MAX_REQUEST_BYTES:
        return (
            f"the request is {len(payload):,} bytes, over the server's "
            f"client-query-buffer-limit ({MAX_REQUEST_BYTES:,})"
        )
    for position, arg in enumerate(args):
        size = len(arg) if isinstance(arg, (bytes, bytearray, memoryview)) else len(_as_bytes(arg))
        if size > max_bulk:
            return (
                f"argument {position} is {size:,} bytes, over the server's proto-max-bulk-len "
                f"({max_bulk:,}; the client's max_bulk_bytes option)"
            )
    return None


def refuse_oversized(payload: bytes, args: Sequence[Any], max_bulk: int) -> None:
    """Raise UnsafeCommandError for a request the server would answer by closing the
    connection every caller shares; called only for a payload over `max_bulk` bytes."""
    problem = oversized(payload, args, max_bulk)
    if problem is not None:
        name = command_name(args).decode("utf-8", "replace")
        raise UnsafeCommandError(
            f"{name} refused before sending: {problem}; the server would close the connection "
            "every caller shares"
        )


def set_result(reply: object) -> bool | None:
    """What `set` returns for SET's reply: True when set, None when NX/XX (or a GET
    option's nil) kept it from being set. The shaped SET route returns the same."""
    return True if reply == b"OK" else None


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return str(value).encode()


def _count(name: bytes, value: object) -> int:
    try:
        return int(_as_bytes(value))
    except ValueError:
        raise ValueError(f"{name.decode()}: numkeys must be an integer, got {value!r}") from None


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
        return [_as_bytes(k) for k in rest[2 : 2 + _count(name, rest[1])]]
    if name in SUBCOMMAND_KEY:
        return [_as_bytes(rest[1])] if len(rest) > 1 else []
    if name in NUMKEYS_FIRST:  # LMPOP numkeys key ...; BLMPOP timeout numkeys key ...
        at = NUMKEYS_FIRST[name]
        if len(rest) <= at:
            return []
        return [_as_bytes(k) for k in rest[at + 1 : at + 1 + _count(name, rest[at])]]
    if name in (b"XREAD", b"XREADGROUP"):  # ... STREAMS key1 key2 id1 id2
        words = [_as_bytes(a) for a in rest]
        upper = [w.upper() for w in words]
        if b"STREAMS" not in upper:
            return []
        streams = words[upper.index(b"STREAMS") + 1 :]
        return streams[: len(streams) // 2]
    return [_as_bytes(rest[0])]


def auth_command(password: str, username: str | None = None) -> tuple[bytes | str, ...]:
    """AUTH as a connection sends it first: the password alone for `requirepass`, user and
    password for an ACL user."""
    return (b"AUTH", username, password) if username else (b"AUTH", password)
