"""One TCP connection shared by every caller: the only code that touches the event loop's
transport. Stages do the work; this class wires them together once, at construction.

    callers --execute(payload)--> submit stage --send--> writer stage --> transport
    transport --data_received--> delivery stage (parser) --deliver--> submit stage --> callers

Backpressure: the transport's buffer is capped at `max_queued_bytes` (its high-water
mark). Past it the transport calls `pause_writing`, `congested` turns True, and callers
wait in `wait_capacity` *before* encoding or submitting anything, so a flood holds no
payloads and a caller that gives up while waiting has sent nothing. A connection is also
`congested` while `hold` keeps new commands off it (a node that stopped answering: what
waits in its socket would run, unseen, if it woke as a master the cluster replaced).
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from ..core.address import split_address
from ..core.resp import ReplyError
from ..core.secrets import mask_secrets
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    NotSentError,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    TLSError,
    response_error,
)
from ..stages.contracts import Impl
from ..stages.parser import PARSE_ERRORS

__all__ = ["NO_HANDSHAKE", "Handshake", "Multiplexer", "SetupCommand", "open_transport", "run_handshake"]


@dataclass(frozen=True)
class SetupCommand:
    """A command every new connection sends before any caller's, and the client option
    it comes from, so a refusal names what to change."""

    option: str  # "password", "client_name", "read_from", "setup_commands[2]", ...
    payload: bytes = field(repr=False)  # AUTH's holds the password


@dataclass(frozen=True)
class Handshake:
    """What a new connection sends first, and the credentials to mask in any answer."""

    commands: tuple[SetupCommand, ...] = ()
    secrets: tuple[str, ...] = field(default=(), repr=False)


NO_HANDSHAKE = Handshake()


class Multiplexer(asyncio.Protocol):
    def __init__(
        self,
        address: str,
        impl: Impl,
        loop: asyncio.AbstractEventLoop,
        command_timeout: float,
        on_close: Callable[[Multiplexer], None] | None = None,
        max_queued_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.address = address
        self.closed = False
        self.congested = False  # the transport's buffer is past max_queued_bytes, or held
        self._paused = False  # the transport's buffer is past max_queued_bytes
        self.held = False  # `hold`: no new command until `release`
        self._max_queued = max_queued_bytes
        self._capacity_waiters: deque[asyncio.Future[None]] = deque()
        self._transport: asyncio.Transport | None = None
        self._on_close = on_close
        self._writer = impl.writer(loop)
        self._submit = impl.submit(loop, self._writer.send, command_timeout)
        self._delivery = impl.delivery(impl.parser(), self._submit)
        self._on_data = self._delivery.data_received
        # The hot path: callers use these attributes directly. On close they are swapped
        # for functions that fail at once, so no per-command "is it open?" check is needed.
        self.execute = impl.dispatch().execute(self._submit, self._writer)
        self.execute_pair = self._submit.call_pair
        self.execute_many = self._submit.call_many

    @classmethod
    async def open(
        cls,
        address: str,
        impl: Impl,
        *,
        connect_timeout: float,
        command_timeout: float,
        on_close: Callable[[Multiplexer], None] | None = None,
        max_queued_bytes: int = 8 * 1024 * 1024,
        handshake: Handshake = NO_HANDSHAKE,
        tls: ssl.SSLContext | None = None,
    ) -> Multiplexer:
        """Connect (over TLS with `tls`, checking the certificate names `address`'s
        host), then send the handshake's commands (AUTH, READONLY...) and check each
        answer before any caller's command can use the connection. A refusal is an
        AuthenticationError (NOAUTH, WRONGPASS) or a ConfigurationError naming the option,
        with the credentials masked in the server's text, which may echo them."""
        mux = cls(address, impl, asyncio.get_running_loop(), command_timeout, on_close, max_queued_bytes)
        await open_transport(address, mux, tls, connect_timeout)
        await run_handshake(mux, handshake, connect_timeout)
        return mux

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # create_connection always hands a stream protocol a read-write transport
        self._transport = cast(asyncio.Transport, transport)
        self._transport.set_write_buffer_limits(high=self._max_queued)
        self._writer.attach(self._transport)

    def pause_writing(self) -> None:
        self._paused = self.congested = True

    def resume_writing(self) -> None:
        self._paused = False
        self.congested = self.held
        self._admit()

    # -- holding a node that stopped answering -----------------------------------------
    def hold(self) -> None:
        """Send nothing more until `release`: callers wait as for room (and the slow path
        sends elsewhere if the node's slots move); what is in flight stays in flight."""
        if not self.closed:
            self.held = self.congested = True

    def release(self) -> None:
        self.held = False
        self.congested = self._paused
        self._admit()

    # -- backpressure ----------------------------------------------------------------
    async def wait_capacity(self, timeout: float) -> None:
        """Wait, in arrival order, until the connection accepts commands again; raises
        RedisTimeoutError (nothing was sent) after `timeout` seconds."""
        waiter = asyncio.get_running_loop().create_future()
        self._capacity_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            why = (
                "it stopped answering, so nothing more is sent to it for now"
                if self.held
                else f"over {self._max_queued} bytes were waiting to be written"
            )
            raise RedisTimeoutError(
                f"{self.address} did not accept more commands within {timeout:g} s: {why}; nothing was sent"
            ) from None
        finally:
            # A waiter that timed out or was cancelled is done: `_admit` skips it, so it
            # need not be searched for and removed here (O(n) each, in a flood).
            self._admit()  # pass the turn on, whatever happened to this caller

    ADMIT_BATCH = 16

    def _admit(self) -> None:
        """Wake the next few waiters while there is room. A few at a time: each admitted
        caller re-checks for room, writes, and (from wait_capacity's finally) admits the
        next few, so a resume does not wake thousands to find the buffer full again."""
        waiters = self._capacity_waiters
        woken = 0
        while waiters and not self.congested and woken < self.ADMIT_BATCH:
            waiter = waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                woken += 1

    def data_received(self, data: bytes) -> None:
        try:
            self._on_data(data)
        except PARSE_ERRORS as exc:
            self._shutdown(ProtocolError(f"invalid RESP from {self.address}: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else " (closed by the server)"
        self._shutdown(RedisConnectionError(f"connection to {self.address} lost{reason}"))

    # -- lifecycle -------------------------------------------------------------------
    def close(self, reason: str = "closed by the client") -> None:
        self._shutdown(RedisConnectionError(f"connection to {self.address} {reason}"))

    def _shutdown(self, error: RedisConnectionError) -> None:
        if self.closed:
            return
        self.closed = True
        self.held = False
        self.execute = self.execute_pair = _refuser(error)
        self.execute_many = _many_refuser(error)
        unsent = self._writer.close()
        if self._transport is not None:
            self._transport.close()
        self._submit.fail_all(error, unsent, NotSentError(f"{error}; the command was not sent"))
        self.congested = False
        while self._capacity_waiters:  # they will find the connection closed and retry
            waiter = self._capacity_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
        if self._on_close is not None:
            self._on_close(self)

    @property
    def in_flight(self) -> int:
        return self._submit.in_flight

    @property
    def replies(self) -> int:
        """Replies read so far: a watchdog that sees it stand still with commands in
        flight knows the node stopped answering before any command times out."""
        return self._delivery.replies

    def io_counters(self) -> dict[str, int]:
        return {
            "writes": self._writer.writes,
            "reads": self._delivery.reads,
            "replies": self._delivery.replies,
        }


class _Connecting(Protocol):
    """What a handshake needs of a new connection."""

    address: str

    def execute(self, payload: bytes, /) -> Awaitable[object]: ...
    def close(self) -> None: ...  # (a reason may follow; mypyc compiles no `...` default)


async def open_transport(
    address: str, protocol: asyncio.Protocol, tls: ssl.SSLContext | None, connect_timeout: float
) -> None:
    """Connect `protocol` to `address` (over TLS with `tls`, checking that the
    certificate names the host); every failure as a typed error naming the address."""
    host, port = split_address(address)
    connecting = asyncio.get_running_loop().create_connection(
        lambda: protocol, host, port, ssl=tls, server_hostname=host if tls is not None else None
    )
    try:
        await asyncio.wait_for(connecting, connect_timeout)
    except TimeoutError:
        # A plain server never answers a TLS hello: it waits for the rest of a command.
        hint = " (no TLS handshake: does it speak TLS?)" if tls is not None else ""
        raise RedisConnectionError(
            f"cannot connect to {address}: no answer within {connect_timeout:g} s{hint}"
        ) from None
    except ssl.SSLError as exc:
        raise tls_failure(address, exc) from None
    except OSError as exc:
        raise RedisConnectionError(f"cannot connect to {address}: {exc.strerror or exc}") from exc


async def run_handshake(
    connection: _Connecting,
    handshake: Handshake,
    connect_timeout: float,
) -> None:
    """Send the handshake's commands on a new connection and check each answer; the
    connection is closed when one is refused or late."""
    address = connection.address
    try:
        for command in handshake.commands:
            reply = await asyncio.wait_for(connection.execute(command.payload), connect_timeout)
            if isinstance(reply, ReplyError):
                raise setup_failure(address, command, reply, handshake.secrets)
    except TimeoutError:
        connection.close()
        raise RedisConnectionError(
            f"{address} did not answer the connection setup within {connect_timeout:g} s"
        ) from None
    except BaseException:
        connection.close()
        raise


TLS_REFUSALS = {  # OpenSSL reasons that another try would meet again
    "WRONG_VERSION_NUMBER": "it does not speak TLS",
    "RECORD_LAYER_FAILURE": "it does not speak TLS",
    "TLSV1_ALERT_UNKNOWN_CA": "it does not trust our client certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it refused our client certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it wants a client certificate",
}


def tls_failure(address: str, exc: ssl.SSLError) -> Exception:
    """A failed handshake: TLSError when retrying cannot help (the certificate, its
    name, a peer that does not speak TLS), a connection error otherwise."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason
        return TLSError(f"cannot connect to {address} over TLS: certificate verify failed: {reason}")
    problem = TLS_REFUSALS.get(exc.reason or "")
    if problem is not None:
        return TLSError(f"cannot connect to {address} over TLS: {problem} ({exc.reason})")
    return RedisConnectionError(f"cannot connect to {address} over TLS: {exc.reason or exc}")


def setup_failure(
    address: str, command: SetupCommand, reply: ReplyError, secrets: tuple[str, ...] = ()
) -> RedisError:
    """A connection-setup command refused: AuthenticationError for NOAUTH/WRONGPASS, else
    a ConfigurationError naming the option it came from. Never the command's arguments,
    which may hold a password; a server that echoes them (`unknown command 'AUTH', with
    args beginning with: ...`) has each secret masked."""
    name = command.payload.split(b"\r\n")[2].decode("ascii", "replace").upper()
    text = mask_secrets(reply.args[0], secrets)
    error = response_error(text, node=address, command=f"{name} (connection setup)")
    if isinstance(error, AuthenticationError):
        return error
    return ConfigurationError(
        f"{command.option}: {address} refused {name} when setting up a connection: {text}"
    )


def _many_refuser(error: RedisConnectionError) -> Callable[[Sequence[bytes]], list[asyncio.Future[Any]]]:
    """`execute_many` of a closed connection: every command fails as not sent."""
    refuse = _refuser(error)

    def refuse_many(payloads: Sequence[bytes]) -> list[asyncio.Future[Any]]:
        return [refuse() for _ in payloads]

    return refuse_many


def _refuser(error: RedisConnectionError) -> Callable[..., asyncio.Future[Any]]:
    """What a closed connection's execute becomes: a command given to it now is never
    written, so it fails as not sent (the retry policy may send it elsewhere)."""

    def refuse(*payloads: object) -> asyncio.Future[Any]:
        future = asyncio.get_running_loop().create_future()
        future.set_exception(NotSentError(f"{error}; the command was not sent"))
        return future

    return refuse
