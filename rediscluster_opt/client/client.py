"""The client as an assembly of parts, the same for a cluster and a standalone server:

    Commands     the command methods (client/commands.py), over four routing primitives
    the hop      one command to one node and back, stage by stage (`_route`), or the
                 route the dispatch stage generates from the same steps
    SlowPath     everything but a one-hop success (client/slowpath.py)
    router       where a command goes (client/router.py): the cluster's topology, or
                 one server's address; the two clients differ by the router they hold
    pool         the multiplexed connections (mux/), and dedicated ones for blocking
                 commands

A pipeline runs as conversations per node (client/conversation.py) and a transaction as
one request of the slow path; both use the slow path's decisions and the router's
placement, so a retry or redirect rule changes in one place.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Sequence
from dataclasses import fields
from typing import Any, ClassVar

from ..compiled import loaded as loaded_build
from ..core.address import parse_address
from ..core.commands import (
    MAX_BULK_BYTES,
    auth_command,
    command_keys,
    refuse_oversized,
    shared_connection_problem,
)
from ..core.resp import ReplyError, encode_command
from ..core.url import ConnectionSpec, TLSSettings
from ..errors import (
    ConfigurationError,
    NotSentError,
    RedisConnectionError,
    RedisTimeoutError,
    ResponseError,
    UnsafeCommandError,
    WrongEventLoopError,
)
from ..mux.dedicated import DedicatedConnections
from ..mux.multiplexer import Handshake, SetupCommand
from ..mux.pool import MultiplexPool
from ..stages import Impl, Stages
from ..stages.contracts import NodeSelector, SlotMap
from ..stages.traits import runs
from ..tls import as_tls_context
from ..validate import check_number
from . import fused, scan
from .commands import Commands
from .conversation import run_pipeline
from .keyspace import KeyspaceEvents
from .outcome import NOT_SENT, Lost, Replied, Single, Transaction
from .pipeline import Pipeline
from .pubsub import HEALTH_CHECK, Dial, PubSub
from .router import ClusterRouter, StandaloneRouter
from .scripts import Script
from .slowpath import (
    Attempt,
    RetryPolicy,
    SlowPath,
    command_label,
    reply_failure,
    wrap_failure,
)

__all__ = ["Client", "client_name_problem", "url_options"]


def url_options(spec: ConnectionSpec) -> dict[str, Any]:
    """Client options from a parsed URL: credentials, name, and a TLS context for rediss://."""
    options: dict[str, Any] = {"username": spec.username, "password": spec.password}
    if spec.tls is not None:
        options["tls"] = as_tls_context(spec.tls)
    if spec.client_name:
        options["client_name"] = spec.client_name
    return options


def client_name_problem(name: object) -> str | None:
    """Why CLIENT SETNAME would refuse `name`, or None: Redis takes printable ASCII
    without spaces (33..126), and the refusal would otherwise come from every node."""
    if not isinstance(name, (str, bytes)):
        return f"must be a str, got {type(name).__name__}"
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    bad = [c for c in text if not 33 <= ord(c) <= 126]
    if bad:
        return f"{text!r} has {bad[0]!r}: Redis takes printable ASCII without spaces"
    return None


def _handshake(
    password: str | None,
    username: str | None,
    client_name: str | None,
    setup_commands: Sequence[tuple[Any, ...]],
    extra: Sequence[SetupCommand],
) -> Handshake:
    commands: list[SetupCommand] = []
    if password is not None:
        commands.append(SetupCommand("password", encode_command(auth_command(password, username))))
    if client_name is not None:
        problem = client_name_problem(client_name)
        if problem is not None:
            raise ConfigurationError(f"client_name {problem}")
        commands.append(SetupCommand("client_name", encode_command((b"CLIENT", b"SETNAME", client_name))))
    for index, command in enumerate(setup_commands):
        commands.append(SetupCommand(f"setup_commands[{index}]", encode_command(tuple(command))))
    commands.extend(extra)
    secrets = tuple(s for s in (password, username) if s)
    return Handshake(tuple(commands), secrets)


class Client(Commands):
    router: ClusterRouter | StandaloneRouter

    def __init__(
        self,
        build_router: Callable[
            [MultiplexPool, DedicatedConnections, Impl, dict[str, int], RetryPolicy],
            ClusterRouter | StandaloneRouter,
        ],
        stages: Stages | None = None,
        *,
        connections_per_node: int = 1,
        connect_timeout: float = 5.0,
        command_timeout: float = 5.0,
        retry: bool = True,
        resend_writes: bool = True,
        max_queued_bytes: int = 8 * 1024 * 1024,
        max_bulk_bytes: int = MAX_BULK_BYTES,
        blocking_connections_per_node: int = 4,
        username: str | None = None,
        password: str | None = None,
        client_name: str | None = None,
        setup_commands: Sequence[tuple[Any, ...]] = (),
        tls: ssl.SSLContext | TLSSettings | bool | None = None,
        max_redirects: int = 16,
        retry_attempts: int = 3,
        retry_backoff: float = 0.05,
        extra_setup: Sequence[SetupCommand] = (),
    ) -> None:
        """`build_router`: the client's router from its parts (ClusterClient and
        StandaloneClient pass theirs). `stages`: one implementation per hot-path stage
        (default `Stages.optimized()`); `connections_per_node`: multiplexed connections
        per node, picked round-robin; timeouts in seconds. `retry`: after a connection
        loss, send again what was never written, and what was written when a second
        execution is indistinguishable from one (reads; SET, MSET: see docs/client.md),
        within `command_timeout`; `resend_writes=False` resends only the reads among
        written commands. `max_queued_bytes`: per connection, how much may wait to be
        written before callers wait for room. `max_bulk_bytes`: the servers'
        proto-max-bulk-len; a longer argument is refused before sending, since the server
        would close the connection every caller shares. `blocking_connections_per_node`:
        dedicated connections for BLPOP and the like. `username`/`password`: sent as AUTH
        on every connection before anything else (a password alone for `requirepass`,
        both for an ACL user); `client_name` as CLIENT SETNAME. `tls`: an
        `ssl.SSLContext`, `TLSSettings` (CA / certificate / key paths), or True for the
        system's CAs; server names are checked unless the context says otherwise.
        `max_redirects`, `retry_attempts`, `retry_backoff`: see `RetryPolicy`."""
        check_number("connect_timeout", connect_timeout, unit="seconds")
        check_number("command_timeout", command_timeout, unit="seconds")
        check_number("max_queued_bytes", max_queued_bytes, integer=True)
        check_number("max_bulk_bytes", max_bulk_bytes, integer=True)
        check_number("connections_per_node", connections_per_node, integer=True)
        check_number("blocking_connections_per_node", blocking_connections_per_node, integer=True)
        check_number("max_redirects", max_redirects, integer=True, allow_zero=True)
        check_number("retry_attempts", retry_attempts, integer=True, allow_zero=True)
        check_number("retry_backoff", retry_backoff, allow_zero=True, unit="seconds")
        for name, flag in (("retry", retry), ("resend_writes", resend_writes)):
            if not isinstance(flag, bool):
                raise ValueError(f"{name} must be True or False, got {flag!r}")
        self.stages = stages if stages is not None else Stages.optimized()
        if not isinstance(self.stages, Stages):
            raise ValueError(f"stages must be a Stages value, got {type(self.stages).__name__}")
        if username is not None and password is None:
            raise ValueError("an ACL username needs its password (password=...)")
        self.connections_per_node = connections_per_node
        self.command_timeout = command_timeout
        self._impl = self.stages.resolve()
        handshake = _handshake(password, username, client_name, setup_commands, extra_setup)
        context = as_tls_context(tls)
        self.tls = context is not None
        self._pool = MultiplexPool(
            self._impl,
            connections_per_node=connections_per_node,
            connect_timeout=connect_timeout,
            command_timeout=command_timeout,
            max_queued_bytes=max_queued_bytes,
            handshake=handshake,
            tls=context,
        )
        self._dial = Dial(self._impl.parser, connect_timeout, handshake, context)
        self._dedicated = DedicatedConnections(
            self._impl,
            blocking_connections_per_node,
            connect_timeout=connect_timeout,
            handshake=handshake,
            tls=context,
        )
        self.counters: dict[str, int] = dict.fromkeys(
            ("retries", "maybe_applied", "capacity_waits", "moved", "ask", "tryagain", "clusterdown",
             "reconnects", "refreshes", "refresh_failures", "suspected", "replica_reads"),
            0,
        )  # fmt: skip
        self.policy = RetryPolicy(
            command_timeout=command_timeout,
            retry=retry,
            resend_writes=resend_writes,
            max_redirects=max_redirects,
            retry_attempts=retry_attempts,
            retry_backoff=retry_backoff,
            max_bulk_bytes=max_bulk_bytes,
        )
        self.router = build_router(self._pool, self._dedicated, self._impl, self.counters, self.policy)
        self._one_slot = self.router.shared_slot
        self.slow = SlowPath(
            self._pool, self.router, self.policy, self._impl.redirect, self.counters, self._check_loop
        )
        self._pick = self._pool.pick
        self._encode = self._impl.encoder
        self._check_redirect = self._impl.redirect
        # what a generated route reads of its client (fused.RouteHost); the cluster
        # client sets the slot map, the standalone client its address
        self._selector: NodeSelector = self._pool.selector
        self._slot_map: SlotMap | None = None
        self._address: str | None = None
        self._max_bulk = max_bulk_bytes
        self._retry: fused.RetryRoute = self.slow.retry
        self._dispatch: dict[str, Any] = {"dispatch": "composed"}

    # -- the bounds the slow path uses, readable as before -------------------------------
    @property
    def retry(self) -> bool:
        return self.policy.retry

    @property
    def resend_writes(self) -> bool:
        return self.policy.resend_writes

    @property
    def max_redirects(self) -> int:
        return self.policy.max_redirects

    @property
    def retry_attempts(self) -> int:
        return self.policy.retry_attempts

    @property
    def retry_backoff(self) -> float:
        return self.policy.retry_backoff

    # -- building the hot path -------------------------------------------------------------
    def _install_routes(self) -> None:
        """When the dispatch stage generates the route, become the class of this stage
        choice (client/fused.py): its `_keyed` and shaped command methods are that
        class's, generated once. The composed route is this class's own already."""
        if not self._impl.dispatch().fused:
            return
        routed = fused.routed_class(self, self._impl, cluster=self._slot_map is not None)
        self.__class__ = routed  # a subclass of this one, only with the generated methods
        self._dispatch = dict(routed._routing.description)

    # the stages a keyed command crosses with this kind of client (for `hot_functions`)
    _route_stages: ClassVar[frozenset[str]] = frozenset(f.name for f in fields(Impl))

    def _composed_route(self) -> tuple[Callable[..., Any], ...]:
        """The functions of this client's readable keyed route (for `hot_functions`)."""
        return (type(self)._keyed, Client._route)

    def hot_functions(self) -> list[Callable[..., Any]]:
        """What a keyed command runs through with this client's stages, for a line
        profiler: its route (generated or composed), each chosen variant's per-command
        functions (as `stages.traits` name them) and each connection's `execute`."""
        routing: fused.Routing | None = getattr(type(self), "_routing", None)
        found = list(routing.functions.values()) if routing is not None else list(self._composed_route())
        for stage in fields(self._impl):
            if stage.name in self._route_stages:
                found += runs(getattr(self._impl, stage.name))
        for mux in self._pool.connections():
            found.append(getattr(mux.execute, "__func__", mux.execute))
        # each connection's closure counts on its own: line_profiler counts the calls of
        # the function objects it is given, even where they share one code object
        return list({id(function): function for function in found}.values())

    # -- one hop: the readable route ------------------------------------------------------
    async def _route(self, slot: int | None, address: str | None, args: tuple[Any, ...]) -> Any:
        """One command to one node and back, stage by stage: the composed route of keyed
        commands (`slot` set, `address` its owner or None when unknown) and the route of
        commands pinned to one node (`slot` None: keyless commands, topology reads, the
        standalone client). A keyed command's reply crosses the redirect stage (its
        per-reply cost is what US-007 measures); anything but a plain reply, an error
        reply among them, takes the one slow path. The fused routes (client/fused.py)
        are generated from these same steps."""
        mux = self._pick(address)
        if mux is None or mux.congested:
            return await self._retry(slot, Single(self._encode, args), address, NOT_SENT)
        payload = self._encode(args)
        if len(payload) > self._max_bulk:
            refuse_oversized(payload, args, self._max_bulk)
        try:
            reply = await mux.execute(payload)
        except (RedisConnectionError, TimeoutError) as exc:
            return await self._retry(slot, Single(self._encode, args), address, Lost(exc))
        except RuntimeError as exc:
            raise self._foreign_loop(exc) from exc
        redirect = None if slot is None else self._check_redirect(reply)
        if redirect is None and type(reply) is not ReplyError:
            return reply
        return await self.slow.retry(slot, Single(self._encode, args), address, Replied(reply), redirect)

    # -- the routing primitives of the command methods -------------------------------------
    async def _per_slot(self, command: bytes, items: list[tuple[Any, ...]]) -> list[tuple[list[int], Any]]:
        """A multi-key command split per slot (one group for a standalone server), the
        groups sent concurrently; each group's item indexes with its reply."""
        groups = self.router.per_slot([item[0] for item in items])

        async def send(slot: int | None, indexes: list[int]) -> tuple[list[int], Any]:
            args = (command, *(part for i in indexes for part in items[i]))
            address = self.router.target(slot, False) if slot is not None else self.router.place(args)[1]
            return indexes, await self._route(slot, address, args)

        if len(groups) <= 1:
            return [await send(slot, indexes) for slot, indexes in groups.items()]
        return await _gather_or_raise(send(slot, indexes) for slot, indexes in groups.items())

    async def _keyless(self, args: tuple[Any, ...], target: str | None) -> Any:
        """A keyless command on one node, or on every master (`target="all"`: a dict of
        address -> reply)."""
        nodes = await self.router.nodes(args, target)
        if target == "all":
            replies = await _gather_or_raise(self._route(None, address, args) for address in nodes)
            return dict(zip(nodes, replies, strict=True))
        return await self._route(None, nodes[0], args)

    async def _blocking_keyed(self, key: Any, args: tuple[Any, ...], seconds: float) -> Any:
        """A blocking command on a dedicated connection of the key's node. Its replies
        take the slow path's steps (MOVED, TRYAGAIN and CLUSTERDOWN, the redirect bound),
        except ASK: mid-migration it waits for the slot to settle rather than block on the
        importing node. The whole call ends within `seconds` plus command_timeout; a
        connection the client closes because the node lost the slot (a failover of a
        hung master) ends it with MaybeAppliedError (a pop may have happened)."""
        self._check_loop()
        slot, address = self.router.place(args, key)
        attempt = Attempt(address, self.slow.now() + seconds + self.command_timeout, pinned=slot is None)
        while True:
            if attempt.retarget and slot is not None:
                attempt.retarget, attempt.address = False, self.router.target(slot, False)
            if attempt.address is None:  # refresh and look again, or ClusterDownError
                assert slot is not None
                await self.router.locate(slot, command_label(args), attempt)
            assert attempt.address is not None
            remaining = attempt.deadline - self.slow.now()
            if remaining <= 0:
                raise RedisTimeoutError(
                    f"{command_label(args)}: no reply within its timeout plus command_timeout"
                )
            reply = await self._blocking(attempt.address, args, remaining, slot)
            pause = self.slow.decide(reply, slot, args, attempt)
            if pause is None:
                return reply
            if attempt.asking:
                attempt.asking, attempt.retarget = False, True
                pause = self.policy.retry_backoff
            if pause:
                await asyncio.sleep(pause)

    async def _blocking(self, address: str, args: tuple[Any, ...], limit: float, slot: int | None) -> Any:
        """One blocking command on a dedicated connection of `address`, so it delays no
        other caller; waiting for a free one, connecting and the command itself end
        within `limit` seconds. A connection lost after the command was written may have
        popped an element."""
        try:
            return await self._dedicated.call(address, self._encode(args), limit, slot)
        except NotSentError as exc:
            raise wrap_failure(exc, address, args) from exc
        except RedisConnectionError as exc:
            raise self.slow.maybe_applied(exc, address, args) from exc
        except TimeoutError as exc:
            raise wrap_failure(exc, address, args) from exc

    # -- pub/sub -------------------------------------------------------------------------
    def pubsub(
        self,
        *,
        ignore_subscribe_messages: bool = False,
        health_check_interval: float | None = 1.0,
        max_buffered: int = 10_000,
        node: str | None = None,
        health_check_message: bytes = HEALTH_CHECK,
        announce_restores: bool = False,
    ) -> PubSub:
        """A PubSub on connections of its own (client/pubsub.py): channels and patterns
        on one node, shard channels on their slots' owners, re-subscribed after a move,
        a failover or a lost connection. `health_check_interval`: seconds between the
        PINGs that find a node that stopped answering (None: only a closed connection
        is noticed); `max_buffered`: unread messages held before reading pauses; `node`
        ("host:port"): where channels and patterns are subscribed, instead of the owner of
        the first channel's slot. `health_check_message`: the health check PING's argument
        (its PONG is swallowed); `announce_restores`: a re-subscription after a lost
        connection, a move or a failover hands the server's confirmations on as messages
        (redis-py's reconnect does; by default they stay inside)."""
        return PubSub(
            self.router,
            self._dial,
            command_timeout=self.command_timeout,
            max_redirects=self.policy.max_redirects,
            ignore_subscribe_messages=ignore_subscribe_messages,
            health_check_interval=health_check_interval,
            max_buffered=max_buffered,
            node=None if node is None else parse_address(node),
            health_check_message=health_check_message,
            announce_restores=announce_restores,
        )

    def keyspace_events(self, *patterns: Any, follow_interval: float = 1.0) -> KeyspaceEvents:
        """Keyspace notifications matching `patterns` (default: every one) from every
        master, merged, following the layout (client/keyspace.py): `async with
        client.keyspace_events("__keyspace@0__:user:*") as events`. The servers must
        have `notify-keyspace-events` set."""
        router = self.router
        if isinstance(router, ClusterRouter):
            masters: Callable[[], Sequence[str]] = lambda: router.topology.masters  # noqa: E731
        else:
            masters = lambda: (router.address,)  # noqa: E731
        return KeyspaceEvents(self, masters, patterns, follow_interval=follow_interval)

    # -- scripts (client/scripts.py) -----------------------------------------------------
    def register_script(self, source: str | bytes) -> Script:
        """A Lua script run by its SHA1 (EVALSHA), sent with EVAL where a node lacks it."""
        return Script(self, source)

    # -- scans (client/scan.py) -----------------------------------------------------------
    def scan_iter(
        self, match: Any = None, count: int | None = None, type: Any = None
    ) -> AsyncIterator[bytes]:
        """Every key (of every master, in a cluster), SCAN's MATCH/COUNT/TYPE applied;
        keys of slots that moved during the scan are read again at its end."""
        if isinstance(self.router, ClusterRouter):
            return scan.scan_cluster(self, self.router, match, count, type)
        return scan.scan_node(self, None, match, count, type)

    async def hscan_iter(
        self, key: Any, match: Any = None, count: int | None = None
    ) -> AsyncIterator[tuple[bytes, bytes]]:
        """(field, value) of a hash; from the start again if the key's slot moves meanwhile."""
        async for items in scan.scan_key(self, b"HSCAN", key, match, count):
            for index in range(0, len(items), 2):
                yield items[index], items[index + 1]

    async def sscan_iter(self, key: Any, match: Any = None, count: int | None = None) -> AsyncIterator[bytes]:
        async for items in scan.scan_key(self, b"SSCAN", key, match, count):
            for member in items:
                yield member

    async def zscan_iter(
        self, key: Any, match: Any = None, count: int | None = None
    ) -> AsyncIterator[tuple[bytes, float]]:
        async for items in scan.scan_key(self, b"ZSCAN", key, match, count):
            for index in range(0, len(items), 2):
                yield items[index], float(items[index + 1])

    # -- pipelines and transactions ------------------------------------------------------
    def pipeline(self) -> Pipeline:
        """Commands queued here and sent together on `await pipe.execute()`, one
        conversation per node in the order queued, replies in the caller's order
        (client/pipeline.py, client/conversation.py)."""
        return Pipeline(self)

    async def _run_pipeline(self, batch: list[tuple[Any, ...]], keys: Sequence[Any]) -> list[object]:
        """Each command's reply, or the error it ended in, in the caller's order. Every
        command is placed and encoded before anything is sent, so a cross-slot command,
        a bad argument or an oversized value sends nothing of the pipeline."""
        self._check_loop()
        placed = [self.router.place(args, key) for args, key in zip(batch, keys, strict=True)]
        requests = []
        for args in batch:
            payload = self._encode(args)
            if len(payload) > self._max_bulk:
                refuse_oversized(payload, args, self._max_bulk)
            requests.append(Single(self._encode, args, payload))
        return await run_pipeline(self.slow, requests, placed)

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
        self._check_loop()
        slot = self.router.shared_slot(keys, "transaction")
        request = Transaction(self._encode, batch)
        for payload, args in zip(request.payloads[1:-1], batch, strict=True):
            if len(payload) > self._max_bulk:
                refuse_oversized(payload, args, self._max_bulk)
        # a keyless transaction is pinned to any one master (the standalone server)
        address = self.router.target(slot, False) if slot is not None else self.router.place((b"MULTI",))[1]
        replies = await self.slow.retry(slot, request, address, NOT_SENT)
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

    # -- event loop ownership -------------------------------------------------------------
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

    # -- lifecycle ------------------------------------------------------------------------
    async def close(self) -> None:
        self.router.close()
        await self._dedicated.close()
        await self._pool.close()

    async def __aenter__(self) -> Client:
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


async def _gather_or_raise(coroutines: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """gather() that waits for every coroutine, then raises the first failure, so no
    exception is left unretrieved in a sibling task."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
