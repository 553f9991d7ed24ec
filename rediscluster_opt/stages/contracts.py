"""What a stage variant must be: one `typing.Protocol` per stage kind, and the constructor
shape every variant of that kind shares (`*Factory`).

`Impl` holds one resolved implementation per stage, typed by these contracts; the client
and the multiplexer build their hot path from it once. `tests/unit/test_contracts.py`
checks every `REGISTRY` entry against its contract (signature and behaviour), so a new
variant is verified the moment it is registered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from ..core.redirect import Redirect
from ..core.topology import Topology

__all__ = [
    "Connection",
    "Deliverer",
    "Dispatch",
    "DispatchFactory",
    "Delivery",
    "DeliveryFactory",
    "Encoder",
    "Impl",
    "NodeSelector",
    "NodeSelectorFactory",
    "Parser",
    "ParserFactory",
    "RedirectCheck",
    "Send",
    "SlotHash",
    "SlotMap",
    "SlotMapFactory",
    "Submit",
    "SubmitFactory",
    "Writer",
    "WriterFactory",
]

Send = Callable[[bytes], None]


class SlotHash(Protocol):
    """slot_hash: key bytes (hash tags already honoured by the variant) -> slot 0..16383."""

    def __call__(self, key: bytes, /) -> int: ...


@runtime_checkable
class SlotMap(Protocol):
    """slot_map: slot -> address of its master; replaced whole on refresh, patched on MOVED."""

    def lookup(self, slot: int) -> str | None: ...
    def patch(self, slot: int, address: str) -> None: ...
    def replace(self, topology: Topology) -> None: ...


SlotMapFactory = Callable[[Topology], SlotMap]


class Encoder(Protocol):
    """encoder: command arguments -> one RESP request."""

    def __call__(self, args: tuple[Any, ...], /) -> bytes: ...


@runtime_checkable
class Submit(Protocol):
    """submit: one connection's FIFO of pending commands. `call` sends and returns what
    the caller awaits; replies come back in order through `deliver_*`. One `send` per
    entry, so `fail_all` can tell the last `unsent` entries they were never written.
    `call_many` sends a pipeline's commands at once, a future each, with no deadline of
    their own (the pipeline waits by progress)."""

    @property
    def in_flight(self) -> int: ...
    def call(self, payload: bytes) -> Awaitable[object]: ...
    def call_pair(self, first: bytes, payload: bytes) -> Awaitable[object]: ...
    def call_many(self, payloads: Sequence[bytes], /) -> list[asyncio.Future[object]]: ...
    def deliver_one(self, reply: object) -> None: ...
    def deliver_many(self, replies: list[object]) -> None: ...
    def fail_all(
        self, error: BaseException, unsent: int = 0, unsent_error: BaseException | None = None
    ) -> None: ...


SubmitFactory = Callable[[asyncio.AbstractEventLoop, Send, float], Submit]


class Connection(Protocol):
    """What the hot path needs of a multiplexed connection (mux.Multiplexer): whether it
    has room, and its send-and-wait."""

    @property
    def congested(self) -> bool: ...
    def execute(self, payload: bytes, /) -> Awaitable[object]: ...


@runtime_checkable
class NodeSelector(Protocol):
    """node_select: address -> one of that node's connections (None if it has none)."""

    def pick(self, address: str | None) -> Connection | None: ...
    def install(self, address: str, muxes: Sequence[Any]) -> None: ...
    def remove(self, address: str, mux: Any) -> None: ...
    def all(self) -> list[Any]: ...


NodeSelectorFactory = Callable[[], NodeSelector]


@runtime_checkable
class Writer(Protocol):
    """writer: commands -> the transport; `writes` counts socket writes; `close` returns
    how many payloads it dropped unwritten."""

    writes: int

    def attach(self, transport: asyncio.WriteTransport) -> None: ...
    def close(self) -> int: ...
    def send(self, payload: bytes) -> None: ...


WriterFactory = Callable[[asyncio.AbstractEventLoop], Writer]


@runtime_checkable
class Parser(Protocol):
    """parser: the shape of `hiredis.Reader`."""

    def feed(self, data: bytes, /) -> None: ...
    def gets(self) -> object: ...


ParserFactory = Callable[[], Parser]


class Deliverer(Protocol):
    """What delivery hands replies to (the submit stage)."""

    def deliver_one(self, reply: object) -> None: ...
    def deliver_many(self, replies: list[object]) -> None: ...


@runtime_checkable
class Delivery(Protocol):
    """delivery: socket data -> parsed replies -> waiting callers."""

    reads: int
    replies: int

    def data_received(self, data: bytes) -> None: ...


DeliveryFactory = Callable[[Parser, Deliverer], Delivery]


class RedirectCheck(Protocol):
    """redirect: a reply -> the MOVED/ASK it carries, or None (the common case). Only an
    error reply can be a redirect: the fused dispatch checks the type before calling."""

    def __call__(self, reply: object, /) -> Redirect | None: ...


@runtime_checkable
class Dispatch(Protocol):
    """dispatch: whether keyed commands take a generated route (`fused`, built by
    client/fused.py once per stage choice) and which commands get a shaped method of
    their own (`shapes`: method name -> `stages.dispatch.Shape`), and whether those routes
    are native/hotpath.pyx's rather than generated (`native`); `execute` gives each
    connection its send-and-wait."""

    @property
    def fused(self) -> bool: ...
    @property
    def native(self) -> bool: ...
    @property
    def shapes(self) -> Mapping[str, Any]: ...
    def execute(self, submit: Submit, writer: Writer, /) -> Callable[[bytes], Awaitable[object]]: ...


DispatchFactory = Callable[[], Dispatch]


@dataclass(frozen=True)
class Impl:
    """One implementation per stage, looked up once from `Stages.resolve()`."""

    slot_hash: SlotHash
    slot_map: SlotMapFactory
    encoder: Encoder
    submit: SubmitFactory
    node_select: NodeSelectorFactory
    writer: WriterFactory
    parser: ParserFactory
    delivery: DeliveryFactory
    redirect: RedirectCheck
    dispatch: DispatchFactory
