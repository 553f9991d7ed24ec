"""Pub/sub on connections of their own, kept through moves, failovers and lost connections.

Channels (SUBSCRIBE) and patterns (PSUBSCRIBE) hear every PUBLISH in the cluster (the
cluster bus forwards it to every node), so they all share one connection, to the owner of
the first channel's slot: subscribers spread over the nodes. Shard channels (SSUBSCRIBE,
Redis 7) are published in their slot's shard only, so each is subscribed on its slot's
owner, one SSUBSCRIBE per slot (the server refuses one that spans slots).

The subscription set is what the caller asked for, never what a connection happens to
hold. When a connection is lost, a node does not answer the health check (a PING every
`health_check_interval`), or a shard channel's slot changes owner (the server's own
SUNSUBSCRIBE after a migration or failover, a MOVED reply, or the layout the client
learns), a task of this PubSub re-reads the layout and subscribes again wherever each
subscription belongs, until it succeeds or the PubSub is closed. Pub/sub delivers at most
once: what is published while a subscription moves is not heard; `counters` says how
often that happened. Messages wait in arrival order for `get_message`; past
`max_buffered` of them the connections stop reading, so a slow reader leaves the rest in
the servers' output buffers, not in this process.
"""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.redirect import parse_redirect
from ..core.resp import ReplyError, encode_command, to_bytes
from ..errors import ClusterDownError, RedisConnectionError, RedisError, RedisTimeoutError, response_error
from ..mux.multiplexer import Handshake
from ..mux.subscriber import Subscriber
from ..stages.contracts import ParserFactory
from ..validate import check_number

__all__ = ["Dial", "PubSub", "serve"]

Handler = Callable[[dict[str, Any]], object]  # may return an awaitable
HEALTH_CHECK = b"rediscluster-opt-health"  # the health check's PING argument: its PONG is ours


@dataclass(frozen=True)
class _Kind:
    subscribe: bytes  # the command
    unsubscribe: bytes
    confirm: str  # the server's confirmation of each name
    unconfirm: str
    sharded: bool


CHANNELS = _Kind(b"SUBSCRIBE", b"UNSUBSCRIBE", "subscribe", "unsubscribe", sharded=False)
PATTERNS = _Kind(b"PSUBSCRIBE", b"PUNSUBSCRIBE", "psubscribe", "punsubscribe", sharded=False)
SHARDS = _Kind(b"SSUBSCRIBE", b"SUNSUBSCRIBE", "ssubscribe", "sunsubscribe", sharded=True)
_KINDS = (CHANNELS, PATTERNS, SHARDS)
_CONFIRMATIONS = {kind.confirm: kind for kind in _KINDS} | {kind.unconfirm: kind for kind in _KINDS}
_MESSAGES = {"message": CHANNELS, "pmessage": PATTERNS, "smessage": SHARDS}
_UNSUBSCRIBES = frozenset(kind.unconfirm for kind in _KINDS)


@dataclass(frozen=True)
class Dial:
    """How the client opens a connection: its parser, handshake, TLS and connect timeout."""

    parser: ParserFactory
    connect_timeout: float
    handshake: Handshake
    tls: Any  # ssl.SSLContext | None


class Where(Protocol):
    """What pub/sub needs of the client's router (client/router.py)."""

    def target(self, slot: int, replica: bool) -> str | None: ...
    def slot_for(self, key: Any) -> int: ...
    def moved(self, slot: int, address: str) -> None: ...
    async def relearn(self) -> None: ...


@dataclass
class _Request:
    """A command sent on a subscriber connection: the confirmations still to come."""

    expected: set[tuple[str, bytes]]
    done: asyncio.Future[None]
    quiet: bool  # a re-subscription: its confirmations are not the caller's messages


@dataclass
class _Link:
    connection: Subscriber
    requests: deque[_Request] = field(default_factory=deque)
    pings: deque[bytes | None] = field(default_factory=deque)  # callers' PINGs not yet answered


class _Redirected(Exception):
    def __init__(self, slot: int, address: str) -> None:
        super().__init__(f"MOVED {slot} {address}")
        self.slot, self.address = slot, address


class PubSub:
    """`client.pubsub()`: subscribe, then read with `get_message`, `listen` or `run`.

    Messages are dicts as redis-py gives them: {"type": "message" | "pmessage" |
    "smessage" | "subscribe" | ..., "pattern": ..., "channel": ..., "data": ...}. A name
    subscribed with a handler (`subscribe(news=handler)`) has its messages passed to the
    handler (a function or a coroutine function) instead of returned."""

    def __init__(
        self,
        where: Where,
        dial: Dial,
        *,
        command_timeout: float,
        max_redirects: int,
        ignore_subscribe_messages: bool = False,
        health_check_interval: float | None = 1.0,
        max_buffered: int = 10_000,
        node: str | None = None,
        health_check_message: bytes = HEALTH_CHECK,
        announce_restores: bool = False,
    ) -> None:
        check_number("max_buffered", max_buffered, integer=True)
        if health_check_interval is not None:
            check_number("health_check_interval", health_check_interval, unit="seconds")
        self._where, self._dial = where, dial
        self._timeout, self._max_redirects = command_timeout, max_redirects
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.health_check_interval = health_check_interval
        self.max_buffered = max_buffered
        self.health_check_message = health_check_message
        # whether a re-subscription after a lost connection, a move or a failover hands
        # the server's confirmations on as messages (redis-py does, after its reconnect)
        self.announce_restores = announce_restores
        self._wanted: dict[_Kind, dict[bytes, Handler | None]] = {kind: {} for kind in _KINDS}
        self._placed: dict[tuple[_Kind, bytes], _Link] = {}
        self._links: dict[str, _Link] = {}
        self._home: str | None = node  # the node of channels and patterns
        self._pinned = node is not None  # the caller chose it: kept, whatever fails
        self._messages: deque[dict[str, Any]] = deque()
        self._unread_unsubscribes = 0  # unsubscribe confirmations waiting in _messages
        self._arrived = asyncio.Event()
        self._trouble = asyncio.Event()  # something wanted is not where it belongs
        self._placing = asyncio.Lock()
        self._keeper: asyncio.Task[None] | None = None
        self._layout_known = False  # the next restore may skip re-reading the layout
        self._reading = True
        self.closed = False
        self.last_error: BaseException | None = None  # of the last failed re-subscription
        self.counters = {"resubscribes": 0, "lost_connections": 0, "moved": 0, "restore_failures": 0}

    # -- what is subscribed ----------------------------------------------------------
    @property
    def channels(self) -> dict[bytes, Handler | None]:
        return dict(self._wanted[CHANNELS])

    @property
    def patterns(self) -> dict[bytes, Handler | None]:
        return dict(self._wanted[PATTERNS])

    @property
    def shard_channels(self) -> dict[bytes, Handler | None]:
        return dict(self._wanted[SHARDS])

    @property
    def home(self) -> str | None:
        """The node of channels and patterns (None before the first is subscribed)."""
        return self._home

    def _home_link(self) -> _Link | None:
        return self._links.get(self._home) if self._home is not None else None

    @property
    def home_connected(self) -> bool:
        """Whether the connection of channels and patterns is open."""
        link = self._home_link()
        return link is not None and not link.connection.closed

    def drop_home(self) -> None:
        """Close the connection of channels and patterns as a lost one: its subscriptions
        come back on a new connection, as after a failure (reconnection, tried on purpose)."""
        link = self._home_link()
        if link is not None:
            self._layout_known = True  # nothing moved: the restore needs no new layout
            link.connection.close("closed by drop_home()")

    @property
    def subscribed(self) -> bool:
        """Anything subscribed, or an unsubscribe's confirmation not yet read (as in
        redis-py: until then, messages published before it may still be waiting)."""
        return self._unread_unsubscribes > 0 or any(self._wanted.values())

    # -- subscribing -------------------------------------------------------------------
    async def subscribe(self, *channels: Any, **handlers: Handler) -> None:
        """Subscribe `channels` (names, or mappings of names to handlers for names that
        are not identifiers: `{b"\\xff": handler}`) and `handlers` (`news=handler`); returns
        once every server involved confirmed (a PUBLISH sent after this returns is heard).
        On a failure the new names are dropped again and the error raised."""
        await self._subscribe(CHANNELS, channels, handlers)

    async def psubscribe(self, *patterns: Any, **handlers: Handler) -> None:
        await self._subscribe(PATTERNS, patterns, handlers)

    async def ssubscribe(self, *channels: Any, **handlers: Handler) -> None:
        await self._subscribe(SHARDS, channels, handlers)

    async def unsubscribe(self, *channels: Any) -> None:
        """Unsubscribe the channels named (every channel when none is)."""
        await self._unsubscribe(CHANNELS, channels)

    async def punsubscribe(self, *patterns: Any) -> None:
        await self._unsubscribe(PATTERNS, patterns)

    async def sunsubscribe(self, *channels: Any) -> None:
        await self._unsubscribe(SHARDS, channels)

    async def _subscribe(self, kind: _Kind, names: Iterable[Any], handlers: Mapping[str, Handler]) -> None:
        self._check_open()
        wanted: dict[bytes, Handler | None] = {}
        for name in names:  # a name, or a mapping of names (any bytes) to their handlers
            pairs = name.items() if isinstance(name, Mapping) else ((name, None),)
            wanted.update((to_bytes(each), handler) for each, handler in pairs)
        wanted.update((to_bytes(name), handler) for name, handler in handlers.items())
        if not wanted:
            raise ValueError(f"{kind.subscribe.decode()}: name at least one channel or pattern")
        new = [name for name in wanted if name not in self._wanted[kind]]
        self._wanted[kind].update(wanted)
        self._keep()
        try:
            async with self._placing:
                await self._place(kind, list(wanted), quiet=False)
        except BaseException:
            for name in new:
                self._wanted[kind].pop(name, None)
            async with self._placing:
                await self._unplace(kind, new, quiet=True, lenient=True)
            raise

    async def _unsubscribe(self, kind: _Kind, names: Iterable[Any]) -> None:
        self._check_open()
        chosen = [to_bytes(name) for name in names] or list(self._wanted[kind])
        for name in chosen:
            self._wanted[kind].pop(name, None)
        async with self._placing:
            await self._unplace(kind, chosen, quiet=False, lenient=False)

    # -- reading -----------------------------------------------------------------------
    async def get_message(
        self, ignore_subscribe_messages: bool = False, timeout: float | None = 0.0
    ) -> dict[str, Any] | None:
        """The next message, waiting at most `timeout` seconds (None: until one comes);
        None when none came, and, as in redis-py, when the next one went to its handler or
        was a confirmation skipped (`ignore_subscribe_messages`): one message per call, so
        a handler that subscribes sees its own confirmation come in a later call."""
        if not self._messages and not self.closed and timeout != 0:
            self._arrived.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._arrived.wait()
            except TimeoutError:
                return None
        if not self._messages:
            return None
        message = self._messages.popleft()
        self._flow()
        if message["type"] in _UNSUBSCRIBES:
            self._unread_unsubscribes -= 1
        skip = ignore_subscribe_messages or self.ignore_subscribe_messages
        if message["type"] in _CONFIRMATIONS and skip:
            return None
        handler = self._handler_of(message)
        if handler is None:
            return message
        outcome = handler(message)
        if inspect.isawaitable(outcome):
            await outcome
        return None

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        """Every message while anything is subscribed (then those still waiting)."""
        while self.subscribed or self._messages:
            message = await self.get_message(timeout=None if self.subscribed else 0.0)
            if message is not None:
                yield message

    async def run(
        self,
        *,
        exception_handler: Callable[[BaseException, PubSub], object] | None = None,
        poll_timeout: float = 1.0,
    ) -> None:
        """Pass every message to its handler until the PubSub is closed (every
        subscription needs one). A handler's exception goes to `exception_handler`, or
        ends the run when there is none."""
        self.check_handlers()
        await serve(self, self.get_message, lambda: self.closed, exception_handler, poll_timeout)

    def check_handlers(self) -> None:
        """ValueError naming each subscription without a handler (`run` needs them all)."""
        for kind, names in self._wanted.items():
            missing = [name.decode("utf-8", "replace") for name, handler in names.items() if handler is None]
            if missing:
                raise ValueError(f"run(): {kind.subscribe.decode()} {', '.join(missing)} has no handler")

    async def ping(self, message: Any = None) -> None:
        """PING on every connection; each PONG arrives as a message of type "pong"."""
        self._check_open()
        for link in list(self._links.values()):
            link.connection.send(encode_command((b"PING",) if message is None else (b"PING", message)))
            link.pings.append(None if message is None else to_bytes(message))

    def _handler_of(self, message: dict[str, Any]) -> Handler | None:
        kind = _MESSAGES.get(message["type"])
        if kind is None:
            return None
        return self._wanted[kind].get(message["pattern"] if kind is PATTERNS else message["channel"])

    def _flow(self) -> None:
        """Stop reading past max_buffered messages, start again below half of it."""
        waiting = len(self._messages)
        if self._reading and waiting >= self.max_buffered:
            self._reading = False
            for link in self._links.values():
                link.connection.pause_reading()
        elif not self._reading and waiting < self.max_buffered // 2:
            self._reading = True
            for link in self._links.values():
                link.connection.resume_reading()

    # -- placing subscriptions ---------------------------------------------------------
    async def _place(self, kind: _Kind, names: list[bytes], quiet: bool) -> None:
        """Subscribe `names` where each belongs, following MOVED replies."""
        for _ in range(self._max_redirects + 1):
            groups = await self._groups(kind, names)
            try:
                for address, group in groups:
                    link = await self._link(address)
                    await self._ask(link, (kind.subscribe, *group), [(kind.confirm, n) for n in group], quiet)
                    self._placed.update(((kind, name), link) for name in group)
                return
            except _Redirected as moved:
                self.counters["moved"] += 1
                self._where.moved(moved.slot, moved.address)
        raise RedisError(f"{kind.subscribe.decode()}: more than {self._max_redirects} redirects")

    async def _unplace(self, kind: _Kind, names: list[bytes], quiet: bool, lenient: bool) -> None:
        """Unsubscribe `names` on the connections that hold them; `lenient`: a connection
        that fails meanwhile is left to close (its subscriptions go with it)."""
        by_link: dict[tuple[int, int], tuple[_Link, list[bytes]]] = {}
        for name in names:
            link = self._placed.pop((kind, name), None)
            if link is not None and not link.connection.closed:
                slot = self._where.slot_for(name) if kind.sharded else 0  # one slot per SUNSUBSCRIBE
                by_link.setdefault((id(link), slot), (link, []))[1].append(name)
        for link, group in by_link.values():
            try:
                await self._ask(link, (kind.unsubscribe, *group), [(kind.unconfirm, n) for n in group], quiet)
            except (RedisError, _Redirected):
                if not lenient:
                    raise
        self._close_idle()

    async def _groups(self, kind: _Kind, names: list[bytes]) -> list[tuple[str, list[bytes]]]:
        """(address, names) per command: every name on the home node, or for shard
        channels one group per slot on its owner."""
        if not kind.sharded:
            return [(await self._home_node(names[0]), names)]
        by_slot: dict[int, list[bytes]] = {}
        for name in names:
            by_slot.setdefault(self._where.slot_for(name), []).append(name)
        return [(await self._owner(slot), group) for slot, group in by_slot.items()]

    async def _owner(self, slot: int) -> str:
        address = self._where.target(slot, False)
        if address is None:
            await self._where.relearn()
            address = self._where.target(slot, False)
        if address is None:
            raise ClusterDownError(f"pub/sub: slot {slot} is not served by any node")
        return address

    async def _home_node(self, first: bytes) -> str:
        home = self._home
        if self._pinned and home is not None:
            return home
        if home is None or home not in self._links:  # none yet, or its connection was lost
            home = self._home = await self._owner(self._where.slot_for(first))
        return home

    async def _link(self, address: str) -> _Link:
        link = self._links.get(address)
        if link is not None and not link.connection.closed:
            return link
        dial = self._dial
        connection = await Subscriber.open(
            address,
            dial.parser(),
            self._on_reply,
            self._on_lost,
            connect_timeout=dial.connect_timeout,
            handshake=dial.handshake,
            tls=dial.tls,
        )
        if self.closed:
            connection.close()
            self._check_open()
        if not self._reading:
            connection.pause_reading()
        link = self._links[address] = _Link(connection)
        return link

    async def _ask(
        self, link: _Link, command: tuple[bytes, ...], expected: list[tuple[str, bytes]], quiet: bool
    ) -> None:
        """Send a (un)subscribe and wait for each name's confirmation; a connection that
        does not confirm within the command timeout is closed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)
        link.connection.send(encode_command(command))  # raises when closed: nothing is awaited then
        link.requests.append(_Request(set(expected), done, quiet))
        try:
            await asyncio.wait_for(asyncio.shield(done), self._timeout)
        except TimeoutError:
            what = f"{command[0].decode()} on {link.connection.address}"
            link.connection.close(f"did not confirm {what} within {self._timeout:g} s")
            raise RedisTimeoutError(f"{what}: no confirmation within {self._timeout:g} s") from None

    def _close_idle(self) -> None:
        """Close connections that hold no subscription any more."""
        held = {id(link) for link in self._placed.values()}
        for address, link in list(self._links.items()):
            if id(link) not in held and not link.requests:
                del self._links[address]  # first: its close is not a loss
                link.connection.close()

    # -- what the connections read -----------------------------------------------------
    def _on_reply(self, connection: Subscriber, reply: object) -> None:
        link = self._links.get(connection.address)
        if link is None or link.connection is not connection:
            return  # a connection being replaced
        if isinstance(reply, ReplyError):
            self._refused(link, reply)
            return
        if not isinstance(reply, list):  # RESP3: a PING's reply is a plain one, not a message
            self._pong(link, reply, plain=True)
            return
        if not reply:
            return
        word = reply[0].decode("ascii", "replace").lower() if isinstance(reply[0], bytes) else str(reply[0])
        if word == "pmessage":
            self._queue({"type": word, "pattern": reply[1], "channel": reply[2], "data": reply[3]})
        elif word in _MESSAGES:
            self._queue({"type": word, "pattern": None, "channel": reply[1], "data": reply[2]})
        elif word == "pong":
            self._pong(link, reply[1], plain=False)
        elif word in _CONFIRMATIONS:
            self._confirmation(link, word, reply[1], reply[2])

    def _pong(self, link: _Link, data: object, plain: bool) -> None:
        """A PING answered: the health check's is confirmed, a caller's handed on as a
        message. RESP3 answers a PING without argument with a bare PONG and one with an
        argument with the argument, so `plain` replies take their data from the PING sent."""
        health = ("pong", self.health_check_message)
        if data == health[1] and link.requests and health in link.requests[0].expected:
            self._confirmed(link, health)
            return
        sent = link.pings.popleft() if link.pings else data
        if plain:
            data = b"" if sent is None else data
        self._queue({"type": "pong", "pattern": None, "channel": None, "data": data})

    def _confirmation(self, link: _Link, word: str, name: bytes, count: object) -> None:
        head = link.requests[0] if link.requests else None
        if head is not None and (word, name) in head.expected:
            if not head.quiet:
                self._queue({"type": word, "pattern": None, "channel": name, "data": count})
            self._confirmed(link, (word, name))
        elif word == SHARDS.unconfirm and name in self._wanted[SHARDS]:
            # unasked: the slot moved away from this node (migration, failover)
            self.counters["moved"] += 1
            self._placed.pop((SHARDS, name), None)
            self._trouble.set()

    def _confirmed(self, link: _Link, confirmation: tuple[str, bytes]) -> None:
        head = link.requests[0]
        head.expected.discard(confirmation)
        if not head.expected:
            link.requests.popleft()
            if not head.done.done():
                head.done.set_result(None)

    def _refused(self, link: _Link, reply: ReplyError) -> None:
        if not link.requests:
            return
        request = link.requests.popleft()
        text = str(reply.args[0]) if reply.args else str(reply)
        redirect = parse_redirect(text)
        error: BaseException = (
            _Redirected(redirect.slot, redirect.address(link.connection.address.rpartition(":")[0]))
            if redirect is not None
            else response_error(text, node=link.connection.address, command="pub/sub")
        )
        if not request.done.done():
            request.done.set_exception(error)

    def _on_lost(self, connection: Subscriber, error: RedisConnectionError) -> None:
        """A connection closed: by the server, a failure, or the health check (those
        count and wake the keeper), or by this PubSub once it held nothing (those not)."""
        link = self._links.get(connection.address)
        if link is None or link.connection is not connection:
            return
        del self._links[connection.address]
        for key, holder in list(self._placed.items()):
            if holder is link:
                del self._placed[key]
        for request in link.requests:
            if not request.done.done():
                request.done.set_exception(error)
        link.requests.clear()
        if not self.closed and self.subscribed:
            self.counters["lost_connections"] += 1
            self._trouble.set()

    def _queue(self, message: dict[str, Any]) -> None:
        if message["type"] in _UNSUBSCRIBES:
            self._unread_unsubscribes += 1
        self._messages.append(message)
        self._arrived.set()
        self._flow()

    # -- keeping the subscriptions where they belong -------------------------------------
    def _keep(self) -> None:
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keeping())

    async def _keeping(self) -> None:
        pause = 0.05
        while not self.closed:
            try:
                async with asyncio.timeout(self.health_check_interval):
                    await self._trouble.wait()
            except TimeoutError:
                await self._check_health()
            self._trouble.clear()
            if not self._misplaced():
                pause = 0.05
                continue
            try:
                async with self._placing:
                    await self._restore()
                pause = 0.05
            except (RedisError, OSError, _Redirected) as exc:
                self.counters["restore_failures"] += 1
                self.last_error = exc
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
                self._trouble.set()

    def _misplaced(self) -> dict[_Kind, list[bytes]]:
        """Wanted names not subscribed where they belong now."""
        out: dict[_Kind, list[bytes]] = {}
        for kind, names in self._wanted.items():
            for name in names:
                link = self._placed.get((kind, name))
                belongs = link is not None and not link.connection.closed
                if belongs and link is not None and kind.sharded:
                    belongs = self._where.target(self._where.slot_for(name), False) == link.connection.address
                if not belongs:
                    out.setdefault(kind, []).append(name)
        return out

    async def _restore(self) -> None:
        if not self._misplaced():  # a subscribe placed them meanwhile
            return
        if not self._layout_known:  # a lost connection may mean a failover: look first
            await self._where.relearn()
        self._layout_known = False
        for kind, names in self._misplaced().items():
            await self._unplace(kind, names, quiet=True, lenient=True)
            await self._place(kind, names, quiet=not self.announce_restores)
            self.counters["resubscribes"] += len(names)

    async def _check_health(self) -> None:
        """A PING on every connection: one that does not answer is closed (and its
        subscriptions restored elsewhere); a shard channel whose slot moved is flagged."""
        for link in list(self._links.values()):
            try:
                ping = self.health_check_message
                await self._ask(link, (b"PING", ping), [("pong", ping)], quiet=True)
            except (RedisError, _Redirected):
                link.connection.close("did not answer the health check")
        if self._misplaced():
            self._trouble.set()

    # -- lifecycle ----------------------------------------------------------------------
    def _check_open(self) -> None:
        if self.closed:
            raise RedisConnectionError("this PubSub is closed")

    async def aclose(self) -> None:
        """Close every connection; the subscriptions end with them."""
        self.closed = True
        self._arrived.set()
        if self._keeper is not None:
            self._keeper.cancel()
            await asyncio.gather(self._keeper, return_exceptions=True)
        links, self._links = list(self._links.values()), {}
        for link in links:
            link.connection.close()
        self._placed.clear()
        self._messages.clear()
        self._unread_unsubscribes = 0
        for names in self._wanted.values():
            names.clear()

    close = aclose

    async def __aenter__(self) -> PubSub:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


async def serve(
    owner: Any,
    read: Callable[..., Awaitable[object]],
    closed: Callable[[], bool],
    exception_handler: Callable[[BaseException, Any], object] | None,
    poll_timeout: float,
) -> None:
    """`run`'s loop, for this PubSub and the drop-in's: read (handlers take the messages)
    until closed; an exception goes to `exception_handler(exc, owner)`, or ends the loop."""
    while not closed():
        try:
            await read(ignore_subscribe_messages=True, timeout=poll_timeout)
        except Exception as exc:
            if exception_handler is None:
                raise
            outcome = exception_handler(exc, owner)
            if inspect.isawaitable(outcome):
                await outcome
            await asyncio.sleep(0)  # a read that fails at once must not starve the loop


def _retrieved(done: asyncio.Future[None]) -> None:
    """A confirmation nobody awaits any more (its caller timed out or was cancelled):
    its failure is not an unhandled-exception warning."""
    if not done.cancelled():
        done.exception()
