"""The exceptions callers see. Each message names the node and the command involved.

RedisError
├── ResponseError          the server answered with an error reply (WRONGTYPE, ERR, ...)
│   └── AuthenticationError  NOAUTH / WRONGPASS: the server wants credentials
├── RedisConnectionError   cannot connect, or the connection broke with commands in flight
│   ├── NotSentError       the connection broke before the command was written: safe to resend
│   ├── MaybeAppliedError  it broke after the command was written: it may have been applied
│   └── ProtocolError      the server's bytes are not valid RESP
├── ConfigurationError     an option the servers refuse (a connection setup command's error)
├── TLSError               the TLS handshake failed: untrusted certificate, wrong name, no TLS
├── WrongEventLoopError    the client was used from an event loop other than its own
├── RedisTimeoutError      no reply within the command timeout
├── UnsafeCommandError     refused before sending: it would corrupt a shared connection
└── ClusterError
    ├── ClusterDownError   CLUSTERDOWN / uncovered slots / no node reachable
    ├── CrossSlotError     a transaction's keys are in different slots (refused before sending)
    ├── TooManyRedirects   more MOVED/ASK redirects for one command than the client allows
    ├── RetriesExhausted   TRYAGAIN still answered after the bounded retries
    └── OutOfOrderError    a pipeline's command refused (TRYAGAIN, ASK...) after a later one
                           on its keys ran: not sent again, since it would run out of order

A leaf module: it imports nothing of the package, so every layer may raise these.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "ClusterDownError",
    "ClusterError",
    "ConfigurationError",
    "CrossSlotError",
    "MaybeAppliedError",
    "NotSentError",
    "OutOfOrderError",
    "ProtocolError",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "ResponseError",
    "RetriesExhausted",
    "TLSError",
    "TooManyRedirects",
    "UnsafeCommandError",
    "WrongEventLoopError",
    "response_error",
]


class RedisError(Exception):
    """Base of every error raised by rediscluster_opt."""


class ResponseError(RedisError):
    """An error reply from the server, e.g. WRONGTYPE.

    `code` is the reply's first word and `message` its full text."""

    def __init__(self, message: str, *, node: str = "", command: str = "") -> None:
        self.message = message
        self.code = message.split(" ", 1)[0]
        self.node = node
        self.command = command
        super().__init__(f"{message} (command {command} on {node})" if node else message)


class ReplyError(ResponseError):
    """A server error reply (``-ERR ...``) as the parsers deliver it: a value in the reply
    stream, not yet tied to a node or command. Internal: the client raises it as a
    `ResponseError` naming node and command, and one nested in an array (EXEC, MGET of a
    script) is still a `ResponseError`, so `except ResponseError` catches both.

    Defined here, not in `core.resp` (which exports it): a class the compiled build
    compiles must not subclass one it leaves pure, and compiled, its instances corrupted
    memory (found by the hypothesis tests of the parsers)."""

    def __init__(self, message: str = "") -> None:  # the parsers pass the text only
        super().__init__(message)


class AuthenticationError(ResponseError):
    """The server refused for lack of (or wrong) credentials: NOAUTH, WRONGPASS."""


AUTH_CODES = frozenset({"NOAUTH", "WRONGPASS"})


def response_error(message: str, *, node: str = "", command: str = "") -> ResponseError:
    """The typed error for an error reply: `AuthenticationError` for NOAUTH/WRONGPASS,
    `ResponseError` for the rest."""
    kind = AuthenticationError if message.split(" ", 1)[0] in AUTH_CODES else ResponseError
    return kind(message, node=node, command=command)


class RedisConnectionError(RedisError, ConnectionError):
    """The connection to a node could not be made, or broke with commands in flight."""


class NotSentError(RedisConnectionError):
    """The connection broke before this command was written: the server never saw it,
    so sending it again is safe (the client does so itself while the deadline allows)."""


class MaybeAppliedError(RedisConnectionError):
    """The connection broke after this command was written and before its reply came:
    the server may or may not have applied it. Raised for commands that are not safe to
    repeat (INCR, LPUSH, ...); repeatable ones are retried instead."""


class WrongEventLoopError(RedisError, RuntimeError):
    """The client belongs to another event loop (asyncio objects cannot cross loops).
    Nothing was sent; create one client per loop (or per thread)."""


class ProtocolError(RedisConnectionError):
    """The node sent bytes that are not valid RESP; its connection was closed."""


class ConfigurationError(RedisError, ValueError):
    """A client option the servers refuse: a connection setup command (CLIENT SETNAME for
    `client_name`, READONLY for `read_from`, one of `setup_commands`...) answered with an
    error. The message names the option. Not retried: every node answers the same."""


class TLSError(RedisError, ConnectionError):
    """The TLS handshake with a node failed: its certificate is not trusted or does not
    name the address dialled, or the node does not speak TLS. Not retried (another try
    meets the same certificate), and not a `RedisConnectionError`, so no retry path
    mistakes it for a transient loss."""


class RedisTimeoutError(RedisError, TimeoutError):
    """No reply arrived within the command timeout. The connection stays in sync: the
    late reply is read and dropped."""


class UnsafeCommandError(RedisError, ValueError):
    """Refused before anything was sent: the command (MULTI, SUBSCRIBE, BLPOP, SELECT...)
    would change the state or the reply rhythm of a connection every caller shares. The
    message names the alternative."""


class ClusterError(RedisError):
    """A cluster-level failure."""


class ClusterDownError(ClusterError):
    """The cluster cannot serve the command: CLUSTERDOWN, an uncovered slot, or no node
    reachable for a topology refresh."""


class CrossSlotError(ClusterError, ValueError):
    """Refused before sending: the keys of one transaction (or multi-key command that
    must stay whole) hash to different slots, which no single node can serve."""


class TooManyRedirects(ClusterError):
    """MOVED/ASK redirects for one command exceeded the client's limit (`max_redirects`)."""


class RetriesExhausted(ClusterError):
    """The node kept answering TRYAGAIN through every bounded retry (a CLUSTERDOWN that
    outlasts them is a `ClusterDownError`). `code` names the last answer."""

    def __init__(self, message: str, *, code: str = "") -> None:
        self.code = code
        super().__init__(message)


class OutOfOrderError(ClusterError):
    """A pipeline's command was refused without being run (TRYAGAIN mid-migration, an
    ASK or MOVED redirect) after a later command of the same pipeline on its keys had
    run. Sent again, it would run after that command, out of the order queued, so it is
    not: it did not run, and the caller decides."""
