"""What the cluster and standalone clients share: the connection pool built from the
chosen stages, lifecycle, the retry policy after a connection loss, backpressure waits,
transactions, blocking commands, error wrapping and I/O statistics."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import Any, ClassVar

from ..compiled import loaded as loaded_build
from ..core.address import split_address
from ..core.commands import (
    auth_command,
    command_keys,
    is_read_only,
    is_repeatable,
    shared_connection_problem,
)
from ..core.redirect import Redirect, error_code
from ..core.resp import ReplyError, encode_command
from ..core.url import ConnectionSpec, TLSSettings
from ..errors import (
    ClusterDownError,
    MaybeAppliedError,
    NotSentError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    RetriesExhausted,
    TooManyRedirects,
    UnsafeCommandError,
    WrongEventLoopError,
    response_error,
)
from ..mux.dedicated import DedicatedConnections
from ..mux.multiplexer import Multiplexer
from ..mux.pool import MultiplexPool
from ..stages import Impl, Stages
from ..stages.dispatch import HotPath
from ..stages.traits import runs
from ..tls import as_tls_context
from ..validate import check_number
from .commands import Commands
from .pipeline import Pipeline

__all__ = ["BaseClient", "command_label", "url_options", "wrap_failure"]

NOT_SENT = object()  # a slow path has no outcome yet: the command still has to be sent
RETRY_BACKOFF_MAX = 0.5  # seconds: the longest pause between two tries of one command
_ASKING = encode_command((b"ASKING",))
MULTI = encode_command((b"MULTI",))
EXEC = encode_command((b"EXEC",))


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
    return response_error(reply.args[0], node=address, command=command_label(args))


def url_options(spec: ConnectionSpec) -> dict[str, Any]:
    """Client options from a parsed URL: credentials, name, and a TLS context for rediss://."""
    options: dict[str, Any] = {"username": spec.username, "password": spec.password}
    if spec.tls is not None:
        options["tls"] = as_tls_context(spec.tls)
    if spec.client_name:
        options["client_name"] = spec.client_name
    return options


class BaseClient(Commands):
    # bounds of the slow path; the cluster client takes them as options
    max_redirects = 16
    retry_attempts = 3
    retry_backoff = 0.05

    def __init__(
        self,
        stages: Stages | None = None,
        *,
        connections_per_node: int = 1,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
        retry: bool = True,
        resend_writes: bool = True,
        max_queued_bytes: int = 8 * 1024 * 1024,
        blocking_connections_per_node: int = 4,
        username: str | None = None,
        password: str | None = None,
        client_name: str | None = None,
        setup_commands: Sequence[tuple[Any, ...]] = (),
        tls: ssl.SSLContext | TLSSettings | bool | None = None,
    ) -> None:
        """`stages`: one implementation per hot-path stage (default `Stages.optimized()`);
        `connections_per_node`: multiplexed connections per node, picked round-robin;
        timeouts in seconds. `retry`: after a connection loss, send again what was never
        written, and what was written when a second execution is indistinguishable from
        one (reads; SET, MSET: see docs/client.md), within `command_timeout`;
        `resend_writes=False` resends only the reads among written commands. `max_queued_bytes`:
        per connection, how much may wait to be written before callers wait for room.
        `blocking_connections_per_node`: dedicated connections for BLPOP and the like.
        `username`/`password`: sent as AUTH on every connection before anything else
        (a password alone for `requirepass`, both for an ACL user); `client_name` as
        CLIENT SETNAME. `tls`: an `ssl.SSLContext`, `TLSSettings` (CA / certificate /
        key paths), or True for the system's CAs; server names are checked unless the
        context says otherwise."""
        check_number("connect_timeout", connect_timeout, unit="seconds")
        check_number("command_timeout", command_timeout, unit="seconds")
        check_number("max_queued_bytes", max_queued_bytes, integer=True)
        check_number("connections_per_node", connections_per_node, integer=True)
        check_number("blocking_connections_per_node", blocking_connections_per_node, integer=True)
        for name, flag in (("retry", retry), ("resend_writes", resend_writes)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        self.stages = stages if stages is not None else Stages.optimized()
        if not isinstance(self.stages, Stages):
            raise ValueError(f"stages must be a Stages value, got {type(self.stages).__name__}")
        self.connections_per_node = connections_per_node
        self.command_timeout = command_timeout
        self.retry = retry
        self.resend_writes = resend_writes
        self._impl = self.stages.resolve()
        if username is not None and password is None:
            raise ValueError("an ACL username needs its password (password=...)")
        handshake: list[tuple[Any, ...]] = []
        if password is not None:
            handshake.append(auth_command(password, username))
        if client_name is not None:
            handshake.append((b"CLIENT", b"SETNAME", client_name))
        setup = tuple(encode_command(tuple(c)) for c in (*handshake, *setup_commands))
        context = as_tls_context(tls)
        self.tls = context is not None
        self._pool = MultiplexPool(
            self._impl,
            connections_per_node=connections_per_node,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            max_queued_bytes=max_queued_bytes,
            setup=setup,
            tls=context,
        )
        self._dedicated = DedicatedConnections(
            self._impl,
            blocking_connections_per_node,
            connect_timeout=connect_timeout,
            setup=setup,
            tls=context,
        )
        self._pick = self._pool.pick
        self._encode = self._impl.encoder
        self._check_redirect = self._impl.redirect
        self._dispatch: dict[str, Any] = {"dispatch": "composed"}
        self._route_functions: list[Callable[..., Any]] = []  # generated ones, once fused
        self.counters: dict[str, int] = dict.fromkeys(("retries", "maybe_applied", "capacity_waits"), 0)

    def _install_routes(self, slot_map: Any, address: str | None, retry: Any) -> None:
        """Let the dispatch stage build the hot path from the chosen stages, once: the
        keyed route and any shaped command methods become attributes of this client."""
        path = HotPath(
            impl=self._impl,
            selector=self._pool.selector,
            slot_map=slot_map,
            address=address,
            composed=self._keyed,
            retry=retry,
            single=Single,
            not_sent=NOT_SENT,
            foreign_loop=self._foreign_loop,
            commands=self,
        )
        routes = self._impl.dispatch().routes(path)
        self._keyed = routes.keyed  # type: ignore[method-assign]
        for name, method in routes.commands.items():
            setattr(self, name, method)
        self._dispatch = routes.description
        if routes.keyed is not path.composed:
            self._route_functions = [routes.keyed, *routes.commands.values()]

    # the stages a keyed command crosses with this kind of client (for `hot_functions`)
    _route_stages: ClassVar[frozenset[str]] = frozenset(f.name for f in fields(Impl))

    def _composed_route(self) -> tuple[Callable[..., Any], ...]:
        """The functions of this client's readable keyed route (for `hot_functions`)."""
        return ()

    def hot_functions(self) -> list[Callable[..., Any]]:
        """What a keyed command runs through with this client's stages, for a line
        profiler: its route (generated or composed), each chosen variant's per-command
        functions (as `stages.traits` name them) and each connection's `execute`."""
        found: list[Callable[..., Any]] = self._route_functions or list(self._composed_route())
        for stage in fields(self._impl):
            if stage.name in self._route_stages:
                found += runs(getattr(self._impl, stage.name))
        for mux in self._pool.connections():
            found.append(getattr(mux.execute, "__func__", mux.execute))
        # each connection's closure counts on its own: line_profiler counts the calls of
        # the function objects it is given, even where they share one code object
        return list({id(function): function for function in found}.values())

    # -- one hop: the readable route ------------------------------------------------
    async def _route(self, slot: int | None, address: str | None, args: tuple[Any, ...]) -> Any:
        """One command to one node and back, stage by stage: the composed route of keyed
        commands (`slot` set, `address` its owner or None when unknown) and the route of
        commands pinned to one node (`slot` None: keyless commands, topology reads, the
        standalone client). A keyed command's reply crosses the redirect stage (its
        per-reply cost is what US-007 measures); anything but a plain reply, an error
        reply among them, takes the one slow path, `_retry`. The fused routes
        (`stages.dispatch`) are generated from these same steps."""
        mux = self._pick(address)
        if mux is None or mux.congested:
            return await self._retry(slot, Single(self._encode, args), address, NOT_SENT)
        try:
            reply = await mux.execute(self._encode(args))
        except (RedisConnectionError, TimeoutError) as exc:
            return await self._retry(slot, Single(self._encode, args), address, exc)
        except RuntimeError as exc:
            raise self._foreign_loop(exc) from exc
        redirect = None if slot is None else self._check_redirect(reply)
        if redirect is None and type(reply) is not ReplyError:
            return reply
        return await self._retry(slot, Single(self._encode, args), address, reply, redirect)

    # -- the slow path: one for every command that did not make the one-hop route ---
    async def _retry(
        self,
        slot: int | None,
        request: Request,
        address: str | None,
        outcome: object,
        redirect: Redirect | None = None,
        replica: bool = False,
    ) -> Any:
        """Everything but the one-hop success, for every client and kind of command:
        follow redirects, retry TRYAGAIN/CLUSTERDOWN and what is safe to resend (within
        the command's deadline), connect where needed, wait for room. `slot` None: the
        command is pinned to `address` (a standalone server, a keyless command, a
        topology read), so nothing moves it elsewhere and a redirect is an error.
        `redirect`: the MOVED/ASK already parsed from `outcome`, so it is not parsed
        twice. `replica`: a read for a replica of the slot's shard (see `_target`).
        `outcome` is how the last try ended: a reply (an error reply among them), the
        connection error or timeout that ended it, or NOT_SENT when nothing was sent."""
        attempt = _Attempt(address, self._deadline(), replica, pinned=slot is None)
        while True:
            if isinstance(outcome, (RedisConnectionError, TimeoutError)):  # not a ReplyError
                self._after_loss(outcome, attempt.address, request, attempt.deadline)
                if not attempt.asking and not attempt.pinned:
                    attempt.address = self._target(slot, attempt.replica)
            elif outcome is not NOT_SENT:
                reply = request.reply(outcome)
                if await self._absorb(reply, slot, request.args, attempt, redirect):
                    return reply
                redirect = None
            mux = await self._connection_for(slot, request.args, attempt)
            if mux is None:
                outcome = NOT_SENT
                continue
            try:
                asking = _ASKING if attempt.asking else None
                outcome = await self._send(request, mux, asking, attempt.deadline)
            except (RedisConnectionError, TimeoutError) as exc:
                outcome = exc

    async def _absorb(
        self,
        reply: Any,
        slot: int | None,
        args: tuple[Any, ...],
        attempt: _Attempt,
        redirect: Redirect | None,
    ) -> bool:
        """True when `reply` is the answer; otherwise update `attempt` for the next try
        (after MOVED/ASK, or a backoff on TRYAGAIN/CLUSTERDOWN), or raise."""
        if type(reply) is not ReplyError:
            return True
        if redirect is None:
            redirect = self._check_redirect(reply)
        if redirect is not None and not attempt.pinned:
            attempt.redirects += 1
            if attempt.redirects > self.max_redirects:
                raise TooManyRedirects(
                    f"{command_label(args)} for slot {slot}: more than "
                    f"{self.max_redirects} redirects, last {redirect.kind} to {attempt.address}"
                )
            # the redirect answered a command sent to attempt.address, so it is set
            attempt.address = redirect.address(split_address(attempt.address or "")[0])
            attempt.asking = redirect.kind == "ASK"
            if attempt.asking:
                self._count("ask")
            else:
                self._count("moved")
                self._move_slot(redirect.slot, attempt.address)
                if attempt.replica and slot is not None:  # a replica of the new owner, if known
                    attempt.address = self._target(slot, attempt.replica)
            return False
        code = error_code(reply.args[0])
        if redirect is not None or code not in ("TRYAGAIN", "CLUSTERDOWN"):
            raise reply_failure(reply, attempt.address or "?", args)
        # A slot mid-migration, or a cluster waiting for a promotion: both pass, so try
        # again until the command's deadline rather than for a fixed count.
        self._count(code.lower())
        attempt.transient += 1
        pause = self._backoff(attempt.transient)
        if self._now() + pause >= attempt.deadline:
            text = (
                f"{command_label(args)} on {attempt.address}: still {reply.args[0]!r} after "
                f"{attempt.transient} tries within the command timeout ({self.command_timeout:g} s)"
            )
            if code == "CLUSTERDOWN":
                raise ClusterDownError(text)
            raise RetriesExhausted(text, code=code)
        if code == "CLUSTERDOWN":
            self._layout_changed()
        await asyncio.sleep(pause)
        if not attempt.pinned:
            attempt.address, attempt.asking = self._target(slot, attempt.replica), False
        return False

    async def _connection_for(
        self, slot: int | None, args: tuple[Any, ...], attempt: _Attempt
    ) -> Multiplexer | None:
        """The connection to send to, connecting if needed and waiting while it is
        congested; None means "try again" (after a failed connect, which sent nothing
        and so is safe to retry, or while waiting for a node to send to)."""
        if self._pool.closed:  # not a transient failure: no retry, no refresh
            raise RedisConnectionError(f"{command_label(args)}: the client is closed")
        if attempt.address is None and not await self._find_target(slot, args, attempt):
            return None
        assert attempt.address is not None
        try:
            return await self._ready(attempt.address, args, attempt.deadline)
        except RedisConnectionError as exc:
            if self._pool.closed or attempt.pinned:  # nowhere else to go: say so at once
                raise
            self._count("reconnects")
            attempt.connect_failures += 1
            if attempt.connect_failures > self.retry_attempts:
                raise wrap_failure(exc, attempt.address, args) from exc
            await asyncio.sleep(self._backoff(attempt.connect_failures))
            if not attempt.asking:
                attempt.address = self._target(slot, attempt.replica)
            return None

    def _backoff(self, attempt: int) -> float:
        return min(self.retry_backoff * 2.0 ** (attempt - 1), RETRY_BACKOFF_MAX)

    def _count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1

    # the cluster client's routing, for a command that is not pinned to one node
    def _target(self, slot: int | None, replica: bool) -> str | None:
        """Where an unpinned command's next try goes (the cluster client: the slot's owner)."""
        raise NotImplementedError

    async def _find_target(self, slot: int | None, args: tuple[Any, ...], attempt: _Attempt) -> bool:
        """A command with no node to go to: find one (True), wait (False: try again), or raise."""
        raise RedisConnectionError(f"{command_label(args)}: no node to send it to")

    def _move_slot(self, slot: int, address: str) -> None:
        """A MOVED reply (the cluster client patches its routing)."""

    def _layout_changed(self) -> None:
        """A CLUSTERDOWN reply (the cluster client asks for a topology refresh)."""

    async def _ready(self, address: str, args: tuple[Any, ...], deadline: float) -> Multiplexer:
        """An open connection to `address` with room for one more command: connecting
        if needed, waiting for the transport to drain if it is congested."""
        while True:
            mux: Multiplexer | None = self._pick(address)
            if mux is None:
                self._check_loop()
                try:  # the pool shields the connect: giving up here aborts it for no one else
                    mux = await asyncio.wait_for(self._pool.connect(address), max(deadline - self._now(), 0))
                except RedisConnectionError as exc:
                    self._connect_failed(address)
                    raise wrap_failure(exc, address, args) from exc
                except TimeoutError:
                    raise RedisTimeoutError(
                        f"{command_label(args)} on {address}: no connection within the command "
                        "timeout; the command was not sent"
                    ) from None
            if not mux.congested:
                return mux
            self.counters["capacity_waits"] += 1
            try:
                await mux.wait_capacity(max(deadline - self._now(), 0.0))
            except RedisTimeoutError as exc:
                raise wrap_failure(exc, address, args) from None
            if not mux.closed and not mux.congested:
                return mux

    def _after_loss(self, exc: BaseException, address: str | None, request: Request, deadline: float) -> None:
        """The retry policy, after a send failed: return to send again, or raise the
        error the caller sees. A timeout is final (the caller's deadline passed); a
        connection loss is retried when nothing was written, or when a second execution
        of the written command is indistinguishable from one, while the deadline allows."""
        if not isinstance(exc, (RedisConnectionError, TimeoutError)):
            raise exc
        args = request.args
        self._connection_lost(address)
        if isinstance(exc, TimeoutError) or self._pool.closed or not self.retry:
            raise wrap_failure(exc, address, args) from exc
        if not isinstance(exc, NotSentError) and not (
            request.repeatable and (self.resend_writes or request.read_only)
        ):
            raise self._maybe_applied(exc, address, args) from exc
        if self._now() >= deadline:
            raise wrap_failure(exc, address, args) from exc
        self.counters["retries"] += 1

    def _maybe_applied(
        self, exc: BaseException, address: str | None, args: tuple[Any, ...]
    ) -> MaybeAppliedError:
        self.counters["maybe_applied"] += 1
        return MaybeAppliedError(
            f"{command_label(args)} on {address}: {exc}; it had been sent, so it may have been applied"
        )

    async def _send(self, request: Request, mux: Multiplexer, asking: bytes | None, deadline: float) -> Any:
        """A slow path's send, ending by the command's deadline: the connection's own
        timeout counts from this send, and a redirect or a retry may come late in it."""
        remaining = deadline - self._now()
        if remaining >= self.command_timeout:
            return await request.send(mux, asking)
        if remaining <= 0:
            raise RedisTimeoutError("the command timeout passed before it could be sent again")
        async with asyncio.timeout(remaining):  # not wait_for: the send must run in this task, now
            return await request.send(mux, asking)

    def _connection_lost(self, address: str | None) -> None:
        """A timeout or lost connection on `address` (the cluster client marks it suspect)."""

    def _connect_failed(self, address: str) -> None:
        """A connect to `address` failed (the cluster client marks it suspect)."""

    def _deadline(self) -> float:
        return self._now() + self.command_timeout

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- event loop ownership -----------------------------------------------------------
    def _check_loop(self) -> None:
        owner = self._pool.loop
        if owner is not None and owner is not asyncio.get_running_loop():
            raise WrongEventLoopError(
                "this client belongs to another event loop; create one client per event loop "
                "(its connections were left alone)"
            )

    def _foreign_loop(self, exc: RuntimeError) -> BaseException:
        """A RuntimeError from the hot path: asyncio's "attached to a different loop" or
        "Event loop is closed" when a client is used from a loop not its own."""
        try:
            self._check_loop()
        except WrongEventLoopError as typed:
            return typed
        return exc

    # -- pipelines ------------------------------------------------------------------------
    def pipeline(self) -> Pipeline:
        """Commands queued here and sent together on `await pipe.execute()`, split per
        node in cluster mode, replies in the caller's order (client/pipeline.py)."""
        return Pipeline(self)

    def _placement(self, args: tuple[Any, ...], key: Any = None) -> tuple[int | None, str | None]:
        """Where a pipelined command goes: its slot and the slot's owner, or (None, the
        node it is pinned to); `key`, when the caller knows the command's one key, spares
        finding it. The standalone client pins everything to its server."""
        raise NotImplementedError

    async def _run_pipeline(self, batch: list[tuple[Any, ...]], keys: Sequence[Any]) -> list[object]:
        """Each command's reply, or the error it ended in, in the caller's order. First
        every command is handed to its node's connection, in order and without waiting,
        so the writer sends each node's share in one write; a command with no open
        connection, or one without room, takes the slow path at once. Then every reply
        that is not plain, and every lost send, gets the slow path a single command gets.
        `keys`: each command's one key where the pipeline knows it, else None."""
        self._check_loop()
        placed = [self._placement(args, key) for args, key in zip(batch, keys, strict=True)]
        first: list[Any] = []
        settled: list[bool] = []  # True: the slow path's own outcome, nothing more to do
        for (slot, address), args in zip(placed, batch, strict=True):
            mux = self._pick(address)
            if mux is None or mux.congested:  # started now, as a task: it waits for room on its own
                first.append(
                    asyncio.ensure_future(self._retry(slot, Single(self._encode, args), address, NOT_SENT))
                )
                settled.append(True)
            else:  # a future as it is; a submit stage's coroutine started now, so it sends now
                first.append(asyncio.ensure_future(mux.execute(self._encode(args))))
                settled.append(False)
        outcomes = await _settled(first)
        again = {}  # index -> the slow path for a first try that did not end in a plain reply
        for index, outcome in enumerate(outcomes):
            kind = type(outcome)
            if settled[index] or (kind is not ReplyError and not isinstance(outcome, BaseException)):
                continue  # a plain reply (every redirect is an error reply: the contract)
            (slot, address), args = placed[index], batch[index]
            if kind is ReplyError:
                redirect = None if slot is None else self._check_redirect(outcome)
                again[index] = self._retry(slot, Single(self._encode, args), address, outcome, redirect)
            elif isinstance(outcome, (RedisConnectionError, TimeoutError)):
                again[index] = self._retry(slot, Single(self._encode, args), address, outcome)
            elif isinstance(outcome, RuntimeError) and not isinstance(outcome, RedisError):
                outcomes[index] = self._foreign_loop(outcome)
        finished = await _settled([asyncio.ensure_future(retry) for retry in again.values()])
        for index, outcome in zip(again, finished, strict=True):
            outcomes[index] = outcome
        return list(outcomes)

    # -- transactions and blocking commands ----------------------------------------------
    async def transaction(self, *commands: Sequence[Any], raise_on_error: bool = True) -> list[Any]:
        """Run the commands atomically: MULTI, the commands and EXEC, written back to
        back on one connection. In cluster mode every key must hash to one slot
        (`CrossSlotError` before anything is sent). Returns EXEC's replies; an error
        reply among them is raised (or, with `raise_on_error=False`, returned as a
        `ResponseError` in its place)."""
        if not commands:
            raise ValueError("transaction() needs at least one command, e.g. ('SET', 'k', 'v')")
        for command in commands:
            if isinstance(command, (str, bytes)):
                raise ValueError(
                    f"transaction() takes each command as a tuple of its arguments, e.g. "
                    f"('GET', 'k'), not the string {command!r:.60}"
                )
        batch = [tuple(c) for c in commands]
        keys: list[bytes] = []
        for args in batch:
            problem = shared_connection_problem(args)  # (BLPOP inside MULTI does not block)
            if problem is not None:
                raise UnsafeCommandError(f"{command_label(args)} refused inside transaction(): it {problem}")
            keys.extend(command_keys(args))
        replies = await self._run_transaction(keys, Transaction(self._encode, batch))
        if not isinstance(replies, list):
            raise ResponseError(f"EXEC answered {replies!r:.100} instead of the commands' replies")
        results = []
        for reply in replies:
            if type(reply) is ReplyError:
                error = reply_failure(reply, "transaction", (b"EXEC",))
                if raise_on_error:
                    raise error
                reply = error
            results.append(reply)
        return results

    async def _run_transaction(self, keys: list[bytes], request: Transaction) -> Any:
        """EXEC's reply (an error reply from MULTI or a queued command is raised)."""
        raise NotImplementedError

    async def _blocking(self, address: str, args: tuple[Any, ...], limit: float) -> Any:
        """A blocking command on a dedicated connection of `address`, so it delays no
        other caller; waiting for a free one, connecting and the command itself end
        within `limit` seconds (the server-side timeout plus command_timeout). A
        connection lost after the command was written may have popped an element."""
        self._check_loop()
        try:
            reply = await self._dedicated.call(address, self._encode(args), limit)
        except NotSentError as exc:
            raise wrap_failure(exc, address, args) from exc
        except RedisConnectionError as exc:
            raise self._maybe_applied(exc, address, args) from exc
        except TimeoutError as exc:
            raise wrap_failure(exc, address, args) from exc
        return reply

    async def close(self) -> None:
        await self._dedicated.close()
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
            "build": loaded_build(),
            "stages": self.stages.as_dict(),
            "label": self.stages.label(),
            "dispatch": self._dispatch,
            "connections_per_node": self.connections_per_node,
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
        }


class Transaction:
    """MULTI, the commands, EXEC as one group of payloads (after ASKING during a slot
    migration: a MULTI keeps the ASKING flag until EXEC). `reply` finds what the retry
    loop must look at: the first error among MULTI's and the queued commands' replies
    (a MOVED/ASK there means the transaction was discarded), else EXEC's reply."""

    args = (b"EXEC",)

    def __init__(self, encode: Any, batch: list[tuple[Any, ...]]) -> None:
        self.payloads = [MULTI, *(encode(args) for args in batch), EXEC]
        self.repeatable = all(is_repeatable(args) for args in batch)
        self.read_only = all(is_read_only(args) for args in batch)

    def send(self, mux: Multiplexer, asking: bytes | None) -> Any:
        return mux.execute_group([asking, *self.payloads] if asking else self.payloads)

    @staticmethod
    def reply(replies: object) -> object:
        assert isinstance(replies, list)  # what `send` (execute_group) answers
        for reply in replies[:-1]:
            if type(reply) is ReplyError:
                return reply
        return replies[-1]


class Single:
    """One command on the slow path. Encoded at each send rather than kept: thousands
    of callers waiting for room on a congested connection must not hold their payloads."""

    __slots__ = ("args", "_encode")

    def __init__(self, encode: Any, args: tuple[Any, ...]) -> None:
        self.args = args
        self._encode = encode

    @property
    def repeatable(self) -> bool:
        return is_repeatable(self.args)

    @property
    def read_only(self) -> bool:
        return is_read_only(self.args)

    def send(self, mux: Multiplexer, asking: bytes | None) -> Any:
        payload = self._encode(self.args)
        return mux.execute_pair(asking, payload) if asking else mux.execute(payload)

    @staticmethod
    def reply(reply: object) -> object:
        return reply


Request = Single | Transaction  # what a slow path sends: one command, or MULTI...EXEC


class _Attempt:
    """One command's progress through the slow path."""

    __slots__ = (
        "address", "asking", "connect_failures", "deadline", "pinned", "redirects", "replica", "transient",
    )  # fmt: skip

    def __init__(
        self, address: str | None, deadline: float, replica: bool = False, pinned: bool = False
    ) -> None:
        self.address = address
        self.deadline = deadline  # every wait and retry of the command ends here
        self.replica = replica  # a read for a replica of the slot's shard
        self.pinned = pinned  # to `address`: nothing moves it to another node
        self.asking = False  # the next send goes to an ASK target, preceded by ASKING
        self.redirects = 0  # MOVED/ASK hops so far
        self.transient = 0  # TRYAGAIN/CLUSTERDOWN answers so far
        self.connect_failures = 0


async def _settled(waits: list[Any]) -> list[object]:
    """What each future ended in, in order: its result, or the exception it raised; as
    `gather(return_exceptions=True)` does, but awaited in turn with no callback per item.
    A node's share of a pipeline is answered in one read, so by a command's turn its
    reply is mostly there already and awaiting it costs next to nothing. The caller's own
    cancellation is raised, not recorded."""
    outcomes: list[object] = []
    for waiting in waits:
        try:
            outcomes.append(await waiting)
        except asyncio.CancelledError as exc:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
            outcomes.append(exc)
        except Exception as exc:  # the command's own error, in its place
            outcomes.append(exc)
    return outcomes
