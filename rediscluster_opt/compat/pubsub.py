"""redis-py's asyncio PubSub (and its cluster's ClusterPubSub) over the native one.

Names are encoded with the client's encoder and messages decoded as redis-py decodes
them (`decode_responses`); subscribing, re-subscribing after a move or a failover and the
reading itself are the native PubSub's (client/pubsub.py). The native PubSub is made at
the first subscription, since redis-py's `pubsub()` is not a coroutine and the client may
not have connected yet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from typing import TYPE_CHECKING, Any

from redis.typing import Subscription
from redis.utils import warn_deprecated

from ..client.pubsub import PubSub as NativePubSub
from ..client.pubsub import serve
from .nodes import node_at
from .replies import converted, redis_error

if TYPE_CHECKING:
    from .facade import _Facade

__all__ = ["PubSub", "PubSubConnection"]

Handler = Callable[[dict[str, Any]], object]
# redis-py's health check PING argument: the drop-in sends the same, so what watches the
# servers (MONITOR, a proxy's log) and `health_check_response` see redis-py's
HEALTH_CHECK = b"redis-py-health-check"


def _names(args: Iterable[Any]) -> list[Any]:
    """redis-py takes names one by one or as a list in the first argument."""
    out: list[Any] = []
    for arg in args:
        out.extend(arg if isinstance(arg, list | tuple | set) else [arg])
    return out


class PubSub:
    """`client.pubsub()`: redis-py's PubSub methods. In a cluster, channels and patterns
    share one connection and shard channels go to their slots' owners; `get_message` and
    `get_sharded_message` read the same stream (both kinds, in arrival order)."""

    def __init__(self, owner: _Facade, ignore_subscribe_messages: bool = False, node: Any = None) -> None:
        self._owner = owner
        self.ignore_subscribe_messages = ignore_subscribe_messages
        self.node = node  # redis-py's: the node chosen for channels and patterns, or None
        self._native: NativePubSub | None = None
        self._view: PubSubConnection | None = None

    async def _connected(self) -> NativePubSub:
        if self._native is None:
            client = await self._owner._connected()
            self._native = client.pubsub(
                ignore_subscribe_messages=self.ignore_subscribe_messages,
                node=None if self.node is None else self.node.name,
                health_check_message=HEALTH_CHECK,
                announce_restores=True,  # redis-py hands on its reconnect's confirmations
            )
        return self._native

    @property
    def connection(self) -> PubSubConnection | None:
        """The connection of channels and patterns, as redis-py's attribute of that name
        (None before the first subscription and after aclose())."""
        native = self._native
        if native is None:
            return None
        if self._view is None or self._view.native is not native:  # one object per connection's life
            self._view = PubSubConnection(native)
        return self._view

    @property
    def health_check_response(self) -> list[Any]:
        """The health check's PONG in each shape a reader may see it, as redis-py lists them."""
        if self._owner._decoding is None:
            return [[b"pong", HEALTH_CHECK], HEALTH_CHECK]
        text = HEALTH_CHECK.decode()
        return [["pong", text], text]

    def get_pubsub_node(self) -> Any:
        """The node of channels and patterns: the one chosen, else (once subscribed) the
        owner of the first channel's slot, as redis-py picks it."""
        home = self._native.home if self._native is not None else None
        return self.node if self.node is not None or home is None else node_at(home)

    # -- subscribing ---------------------------------------------------------------------
    async def subscribe(self, *args: Any, **handlers: Handler) -> None:
        await self._call("subscribe", args, handlers)

    async def psubscribe(self, *args: Any, **handlers: Handler) -> None:
        await self._call("psubscribe", args, handlers)

    async def ssubscribe(self, *args: Any, target_node: Any = None, **handlers: Handler) -> None:
        await self._call("ssubscribe", args, handlers)

    async def unsubscribe(self, *args: Any) -> None:
        await self._call("unsubscribe", args, {})

    async def punsubscribe(self, *args: Any) -> None:
        await self._call("punsubscribe", args, {})

    async def sunsubscribe(self, *args: Any, target_node: Any = None) -> None:
        await self._call("sunsubscribe", args, {})

    async def _call(self, method: str, args: tuple[Any, ...], handlers: dict[str, Handler]) -> None:
        native = await self._connected()
        encode = self._owner.get_encoder().encode
        names: list[Any] = []
        for name in _names(args):  # redis-py's Subscription(name, handler) too
            if isinstance(name, Subscription):
                handler = None if name.handler is None else self._decoding(name.handler)
                names.append({encode(name.name): handler})
            else:
                names.append(encode(name))
        wrapped = {name: self._decoding(handler) for name, handler in handlers.items()}
        try:
            await getattr(native, method)(*names, **wrapped)
        except Exception as exc:
            raise redis_error(exc) from exc

    def _decoding(self, handler: Handler) -> Handler:
        """A handler that gets the message as redis-py would hand it over."""

        def decoded(message: dict[str, Any]) -> object:
            return handler(self._message(message))

        decoded.__wrapped__ = handler  # type: ignore[attr-defined]  # what `channels` shows
        return decoded

    # -- reading -------------------------------------------------------------------------
    async def get_message(
        self, ignore_subscribe_messages: bool = False, timeout: float | None = 0.0
    ) -> dict[str, Any] | None:
        if self._native is None:  # redis-py's words, which callers match
            raise RuntimeError(
                "pubsub connection not set: did you forget to call subscribe() or psubscribe()?"
            )
        message = await self._native.get_message(ignore_subscribe_messages, timeout)
        return None if message is None else self._message(message)

    async def get_sharded_message(
        self, ignore_subscribe_messages: bool = False, timeout: float | None = 0.0, target_node: Any = None
    ) -> dict[str, Any] | None:
        return await self.get_message(ignore_subscribe_messages, timeout)

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        if self._native is None:
            return
        async for message in self._native.listen():
            yield self._message(message)

    async def run(
        self, *, exception_handler: Callable[..., object] | None = None, poll_timeout: float = 1.0
    ) -> None:
        """The native run's loop over this PubSub's `get_message` (as redis-py's run reads
        through its own, which callers patch)."""
        native = await self._connected()
        native.check_handlers()
        await serve(self, self.get_message, lambda: native.closed, exception_handler, poll_timeout)

    async def ping(self, message: Any = None) -> None:
        await (await self._connected()).ping(message)

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        decoding = self._owner._decoding
        if decoding is None:
            return message
        return {key: converted(value, decoding) for key, value in message.items()}

    # -- what is subscribed --------------------------------------------------------------
    def _keys(self, names: dict[bytes, Any]) -> dict[Any, Any]:
        decoding = self._owner._decoding
        return {converted(name, decoding): getattr(h, "__wrapped__", h) for name, h in names.items()}

    @property
    def channels(self) -> dict[Any, Any]:
        return self._keys(self._native.channels) if self._native else {}

    @property
    def patterns(self) -> dict[Any, Any]:
        return self._keys(self._native.patterns) if self._native else {}

    @property
    def shard_channels(self) -> dict[Any, Any]:
        return self._keys(self._native.shard_channels) if self._native else {}

    @property
    def subscribed(self) -> bool:
        return self._native is not None and self._native.subscribed

    # -- lifecycle -----------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the connections; the PubSub can subscribe again afterwards, as redis-py's."""
        if self._native is not None:
            await self._native.aclose()
            self._native = None

    async def close(self) -> None:
        """Deprecated in redis-py (5.0.1) for aclose(), with its warning."""
        warn_deprecated("close", "Use aclose() instead", "5.0.1", stacklevel=3)
        await self.aclose()

    async def reset(self) -> None:
        warn_deprecated("reset", "Use aclose() instead", "5.0.1", stacklevel=3)
        await self.aclose()

    def __getattr__(self, name: str) -> Any:
        # redis-py's PubSub internals (connection, parse_response...): named, as the client's
        if name.startswith("__"):
            raise AttributeError(name)
        from .facade import UnsupportedAttribute

        raise UnsupportedAttribute(f"PubSub.{name} is redis-py's own and is not supported here")

    async def __aenter__(self) -> PubSub:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class PubSubConnection:
    """What redis-py's `PubSub.connection` offers that means something on the native
    PubSub: whether the connection of channels and patterns is open, and `disconnect()`,
    which closes it as a lost one, so the subscriptions come back on a new connection and
    their confirmations arrive as messages (as after redis-py's reconnect)."""

    def __init__(self, native: NativePubSub) -> None:
        self.native = native

    @property
    def is_connected(self) -> bool:
        return self.native.home_connected

    async def disconnect(self) -> None:
        self.native.drop_home()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        from .facade import UnsupportedAttribute

        raise UnsupportedAttribute(f"PubSub.connection.{name} is redis-py's own and is not supported here")
