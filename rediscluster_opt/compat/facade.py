"""redis-py's asyncio clients over our multiplexed one: RedisCluster and Redis.

redis-py writes its command surface as mixins whose methods build a command's arguments
and call `self.execute_command(*args, **options)`, and its reply shapes as response
callbacks keyed by command name. Both are kept as they are; `execute_command` here is the
one seam: it encodes the arguments with redis-py's encoder, sends them through the native
client (`client.ClusterClient` / `client.StandaloneClient`: the multiplexer, the routing,
the retry rules), then decodes and shapes the reply as redis-py would. A keyless command
goes where redis-py's cluster client sends it (the server's command tips, then redis-py's
node flags: `compat.policies`), and a reply from several masters is merged as redis-py
merges it (its result callbacks, then the tips' response policy).

Options redis-py has and this client has no meaning for are refused by name, never
silently ignored (`UnsupportedOption`).
"""

from __future__ import annotations

import random
import ssl
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Any, Self, cast

from redis import exceptions as redis_errors
from redis._parsers.encoders import Encoder
from redis._parsers.helpers import decode_info
from redis._parsers.response_callbacks import get_response_callbacks
from redis.client import EMPTY_RESPONSE, NEVER_DECODE
from redis.cluster import (
    _RESPONSE_POLICY_CALLBACKS,
    _SPECIAL_RESPONSE_CALLBACKS,
    PRIMARY,
    REPLICA,
    AbstractRedisCluster,
    LoadBalancingStrategy,
)
from redis.commands import AsyncCoreCommands, AsyncRedisClusterCommands
from redis.commands.metadata import ResponsePolicy

from ..client import ClusterClient, StandaloneClient
from ..client.client import Client
from ..client.scan import scan_key
from ..core.commands import always_shared
from ..core.url import TLSSettings, parse_url
from ..stages.slot_hash import slot_crc_hqx
from .nodes import Node, node_at
from .pipeline import ClusterPipeline, Pipeline
from .policies import ALL_MASTERS, ANY_MASTER, BY_KEYS, CONTAINERS, DEFAULT_NODE, NODE_FLAGS, Route, route_of
from .pubsub import PubSub
from .replies import converted, redis_error

__all__ = ["Redis", "RedisCluster", "UnsupportedOption"]

_NAMES_KEPT = 1024  # command names parsed once each; a caller inventing names gets no cache
# Constructor options of redis-py's clients that mean the same here, by our name.
_SAME = {"username": "username", "password": "password", "client_name": "client_name"}
# ... and those that redis-py takes which change nothing here (its own pool and parser).
_HARMLESS = frozenset({"max_connections", "health_check_interval", "single_connection_client", "lib_name",
                       "lib_version", "socket_keepalive", "socket_keepalive_options",
                       "retry_on_timeout", "auto_close_connection_pool"})  # fmt: skip


class UnsupportedOption(redis_errors.RedisError, TypeError):
    """A redis-py option or method this client does not support: the message names it."""


class UnsupportedAttribute(UnsupportedOption, AttributeError):
    """One of redis-py's internals: an AttributeError too, so `hasattr` and `getattr` with a
    default answer as they would for any missing attribute."""


def ssl_options(tls: TLSSettings) -> dict[str, Any]:
    """redis-py's ssl constructor options for our TLS settings (a URL's, a bench target's)."""
    return {
        "ssl": True,
        "ssl_ca_certs": tls.ca_certs,
        "ssl_certfile": tls.certfile,
        "ssl_keyfile": tls.keyfile,
        "ssl_cert_reqs": "required" if tls.verify else "none",
        "ssl_check_hostname": tls.check_hostname,
    }


def _verifies(cert_reqs: Any) -> bool:
    """redis-py's ssl_cert_reqs ("required", "optional", "none", or ssl.CERT_*) as ours:
    the server's certificate is checked, or not at all ("optional" checks one if sent,
    which an ssl client context cannot tell from "required")."""
    names = {"required": ssl.CERT_REQUIRED, "optional": ssl.CERT_OPTIONAL, "none": ssl.CERT_NONE}
    value = names.get(cert_reqs.lower(), None) if isinstance(cert_reqs, str) else cert_reqs
    if value not in (ssl.CERT_REQUIRED, ssl.CERT_OPTIONAL, ssl.CERT_NONE):
        raise UnsupportedOption(f"ssl_cert_reqs={cert_reqs!r}: 'required', 'optional' or 'none'")
    return bool(value != ssl.CERT_NONE)


class _Facade(ABC):
    """What RedisCluster and Redis share: options, encoding, reply shaping, the seam."""

    _pipeline: type[Pipeline] | type[ClusterPipeline]

    def __init__(
        self,
        *,
        decode_responses: bool = False,
        encoding: str = "utf-8",
        encoding_errors: str = "strict",
        protocol: int | str | None = 2,
        legacy_responses: bool = True,
        socket_timeout: float | None = None,
        socket_connect_timeout: float | None = None,
        ssl: bool = False,
        ssl_ca_certs: str | None = None,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_cert_reqs: Any = "required",
        ssl_check_hostname: bool = True,
        **options: Any,
    ) -> None:
        if protocol not in (2, "2", 3, "3", None):
            raise UnsupportedOption(f"protocol={protocol!r}: RESP2 (protocol=2) or RESP3 (protocol=3)")
        self.protocol = 3 if protocol in (3, "3") else 2
        unknown = sorted(set(options) - set(_SAME) - _HARMLESS)
        if unknown:
            raise UnsupportedOption(
                f"{self.__class__.__name__} does not support the option(s) {', '.join(unknown)}"
            )
        self._encoder = Encoder(encoding, encoding_errors, decode_responses)
        self._decoding = (encoding, encoding_errors) if decode_responses else None
        self.response_callbacks: dict[str, Callable[..., Any]] = {
            name.upper(): callback
            for name, callback in get_response_callbacks(self.protocol, legacy_responses).items()
        }
        native: dict[str, Any] = {
            ours: options.pop(theirs) for theirs, ours in _SAME.items() if theirs in options
        }
        if self.protocol == 3:  # every connection (shared, blocking, pub/sub) says HELLO 3 first
            native["setup_commands"] = [(b"HELLO", b"3")]
        if socket_timeout is not None:
            native["command_timeout"] = socket_timeout
        if socket_connect_timeout is not None:
            native["connect_timeout"] = socket_connect_timeout
        if ssl:
            verify = _verifies(ssl_cert_reqs)
            native["tls"] = TLSSettings(
                ca_certs=ssl_ca_certs,
                certfile=ssl_certfile,
                keyfile=ssl_keyfile,
                check_hostname=ssl_check_hostname and verify,  # no name to check without a certificate
                verify=verify,
            )
        self._native_options = native
        self._native: Client | None = None
        self._names: dict[Any, tuple[str, tuple[bytes, ...]]] = {}
        self._directs: dict[str, bool] = {}  # command name -> sent by execute_keyed (_direct)

    @classmethod
    def from_url(cls, url: str, **options: Any) -> Self:
        """redis://[[user]:password@]host:port (rediss:// for TLS), as redis-py reads it;
        `options` as the constructor's, over the URL's."""
        spec = parse_url(url)
        host, _, port = spec.addresses[0].rpartition(":")
        given: dict[str, Any] = {"username": spec.username, "password": spec.password}
        if spec.tls is not None:
            given |= ssl_options(spec.tls)
        given = {k: v for k, v in given.items() if v is not None}
        return cls(host=host, port=int(port), **{**given, **options})

    # -- lifecycle --------------------------------------------------------------------
    async def initialize(self) -> Self:
        """Connect (the first command does it too, as redis-py's clients do)."""
        await self._connected()
        return self

    @abstractmethod
    async def _connect(self) -> Client:
        """The native client, connected (cluster or standalone)."""

    async def _connected(self) -> Client:
        """The native client, connecting it first when no command has yet."""
        if self._native is None:
            try:
                self._native = await self._connect()
            except redis_errors.RedisError:
                raise
            except Exception as exc:  # a refused connection, TLS, AUTH: as redis-py's errors
                raise redis_error(exc) from exc
        return self._native

    async def aclose(self) -> None:
        if self._native is not None:
            await self._native.close()
            self._native = None

    close = aclose

    async def __aenter__(self) -> Self:
        return await self.initialize()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def get_encoder(self) -> Encoder:
        return self._encoder

    def set_response_callback(self, command: str, callback: Callable[..., Any]) -> None:
        self.response_callbacks[command.upper()] = callback

    # -- the seam ---------------------------------------------------------------------
    async def execute_command(self, *args: Any, **options: Any) -> Any:
        """redis-py's contract: the command's arguments (the first may hold two words,
        "CONFIG GET"), and options for its reply callback; the reply as redis-py shapes it."""
        native = self._native if self._native is not None else await self._connected()
        name, encoded = self._encoded(args)
        target = options.pop("target_nodes", None)
        keys = options.pop("keys", None)  # redis-py names a read's keys (for its cache)
        key = self._encoder.encode(keys[0]) if keys and len(keys) == 1 else None
        try:
            if key is not None and target is None and self._direct(name):
                reply = await native.execute_keyed(key, encoded)  # GET and the like: one step less
            else:
                reply = await self._send(native, name, encoded, target, key)
        except redis_errors.RedisError:
            raise
        except Exception as exc:
            theirs = redis_error(exc)
            if EMPTY_RESPONSE in options and isinstance(theirs, redis_errors.ResponseError):
                return options[EMPTY_RESPONSE]
            raise theirs from exc
        return self._shaped(name, reply, options)

    def _encoded(self, args: tuple[Any, ...]) -> tuple[str, tuple[bytes, ...]]:
        """(the command's name as redis-py keys its callbacks, the arguments as bytes)."""
        known = self._names.get(args[0])
        if known is None:  # a command name is parsed once ("CONFIG GET": two arguments)
            text = args[0].decode() if isinstance(args[0], bytes) else str(args[0])
            known = (text.upper(), tuple(self._encoder.encode(w) for w in text.split()))
            if len(self._names) < _NAMES_KEPT:
                self._names[args[0]] = known
        encode = self._encoder.encode
        return known[0], (*known[1], *[encode(a) for a in args[1:]])

    def pipeline(self, transaction: bool | None = None, shard_hint: Any = None) -> Pipeline | ClusterPipeline:
        """redis-py's pipeline (compat/pipeline.py): queue commands, then `await
        pipe.execute()`; with `transaction=True`, as one MULTI/EXEC (its keys in one slot,
        in a cluster)."""
        return self._pipeline(self, bool(transaction), shard_hint)

    def pubsub(self, ignore_subscribe_messages: bool = False, **options: Any) -> PubSub:
        """redis-py's PubSub on connections of its own (compat/pubsub.py); in a cluster,
        shard channels are subscribed on their slots' owners and follow them."""
        return PubSub(self, ignore_subscribe_messages, self._pubsub_node(**options))

    def _pubsub_node(self, **options: Any) -> Any:
        """The node a cluster's pubsub(node=, host=, port=) names (none here)."""
        given = sorted(name for name, value in options.items() if value is not None)
        if given:
            raise UnsupportedOption(f"pubsub({', '.join(given)}=...): not an option of {type(self).__name__}")
        return None

    def _shaped(self, name: str, reply: Any, options: dict[str, Any]) -> Any:
        """A reply (or the replies of several nodes) as redis-py gives it: decoded unless
        the command asked for bytes (NEVER_DECODE), through its response callback, and
        several nodes' merged as redis-py merges them (`_merged`)."""
        callback, decoding = self.response_callbacks.get(name), self._decoding
        if options:  # a plain GET has none: nothing to strip
            if NEVER_DECODE in options:
                decoding = None
                if name == "INFO":  # asks for bytes to decode them redis-py's way: so do we
                    callback = _info_decoded(self._encoder, callback)
            options = {k: v for k, v in options.items() if k not in ("keys", EMPTY_RESPONSE, NEVER_DECODE)}
        if type(reply) is not _PerNode:
            return _reply(reply, callback, decoding, options)
        shaped = {node: _reply(value, callback, decoding, options) for node, value in reply.items()}
        return _merged(name, shaped, reply.response)

    def _direct(self, name: str) -> bool:
        """Whether a command with its one key named goes straight to the native client's
        keyed route, decided once per name: routed by its key, and always on a shared
        connection (core.commands.always_shared), so execute_command's checks are moot."""
        known = self._directs.get(name)
        if known is None:
            known = self._by_key(name) and " " not in name and always_shared(name.encode())
            if len(self._directs) < _NAMES_KEPT:
                self._directs[name] = known
        return known

    def _by_key(self, name: str) -> bool:
        """Whether command `name` goes where its keys are (a server of its own: always)."""
        return True

    async def _send(
        self, native: Client, name: str, args: tuple[bytes, ...], target: Any, key: bytes | None
    ) -> Any:
        """The command through the native client: `key`, when redis-py named the one key,
        spares the native client finding it."""
        return await native.execute_command(*args, key=key)

    # -- scans: the native client's, correct while slots move (client/scan.py) ---------
    async def scan_iter(
        self, match: Any = None, count: int | None = None, _type: Any = None, **options: Any
    ) -> AsyncIterator[Any]:
        """Every key of every master (of the server, standalone)."""
        if options:
            raise UnsupportedOption(f"scan_iter({', '.join(options)}=...): it scans every master")
        native = await self._connected()
        async for key in native.scan_iter(self._arg(match), count, self._arg(_type)):
            yield converted(key, self._decoding)

    async def hscan_iter(
        self, name: Any, match: Any = None, count: int | None = None, no_values: bool | None = None
    ) -> AsyncIterator[Any]:
        async for items in self._members(b"HSCAN", name, match, count, (b"NOVALUES",) if no_values else ()):
            if no_values:
                for field in items:
                    yield field
            else:
                for index in range(0, len(items), 2):
                    yield items[index], items[index + 1]

    async def sscan_iter(self, name: Any, match: Any = None, count: int | None = None) -> AsyncIterator[Any]:
        async for items in self._members(b"SSCAN", name, match, count):
            for member in items:
                yield member

    async def zscan_iter(
        self,
        name: Any,
        match: Any = None,
        count: int | None = None,
        score_cast_func: Callable[[Any], Any] = float,
    ) -> AsyncIterator[Any]:
        async for items in self._members(b"ZSCAN", name, match, count):
            for index in range(0, len(items), 2):
                yield items[index], score_cast_func(items[index + 1])

    async def _members(
        self, command: bytes, name: Any, match: Any, count: int | None, extra: tuple[bytes, ...] = ()
    ) -> AsyncIterator[list[Any]]:
        native = await self._connected()
        async for items in scan_key(native, command, self._arg(name), self._arg(match), count, extra):
            yield converted(items, self._decoding)

    def _arg(self, value: Any) -> bytes | None:
        return None if value is None else self._encoder.encode(value)

    def __getattr__(self, name: str) -> Any:
        # redis-py's internals (nodes_manager, connection_pool...) that some of its
        # command methods reach for: named, not an AttributeError deep in a mixin
        if name.startswith("__"):
            raise AttributeError(name)
        raise UnsupportedAttribute(
            f"{self.__class__.__name__}.{name} is redis-py's own and is not supported here"
        )


class _PerNode(dict[str, Any]):
    """Replies of a command sent to several nodes, by node address, and how the server's
    tips say to merge them."""

    def __init__(self, replies: Mapping[str, Any], response: ResponsePolicy | None) -> None:
        super().__init__(replies)
        self.response = response


def _info_decoded(encoder: Encoder, callback: Callable[..., Any] | None) -> Callable[..., Any]:
    """INFO's callback after redis-py's own decoding of its bytes (decode_info: a byte the
    encoding cannot read replaced, as in an error name of INFO ERRORSTATS)."""

    def shaped(value: Any, **options: Any) -> Any:
        value = decode_info(value, encoder)
        return callback(value, **options) if callback is not None else value

    return shaped


def _reply(value: Any, callback: Callable[..., Any] | None, decoding: Any, options: dict[str, Any]) -> Any:
    """One node's reply as redis-py's parser and response callback give it."""
    value = converted(value, decoding)
    return callback(value, **options) if callback is not None else value


def _merged(name: str, replies: dict[str, Any], response: ResponsePolicy | None) -> Any:
    """redis-py's order: the command's own result callback, one reply as it is, the
    response policy's merge (RANDOMKEY's special one), else the replies by node."""
    merge = AbstractRedisCluster.RESULT_CALLBACKS.get(name)
    if merge is not None:
        return merge(name, replies)
    if len(replies) == 1:
        return next(iter(replies.values()))
    if response is ResponsePolicy.SPECIAL and name in _SPECIAL_RESPONSE_CALLBACKS:
        return _SPECIAL_RESPONSE_CALLBACKS[name](replies)
    return _RESPONSE_POLICY_CALLBACKS[response](replies) if response is not None else replies


def _addresses(target: Any) -> str | list[str]:
    """`target_nodes` as redis-py takes it: a node flag (ALL_MASTERS, ANY_MASTER or DEFAULT_NODE here),
    or node objects with a host and a port."""
    if isinstance(target, str):
        if target not in NODE_FLAGS:
            raise redis_errors.RedisClusterException(f"target_nodes={target!r} is not a node flag")
        return NODE_FLAGS[target]
    nodes = target if isinstance(target, list | tuple) else [target]
    return [f"{n.host}:{n.port}" for n in nodes]


# redis-py's read strategies as the native client's read_from and replica_choice: the
# primary among the shard's nodes or not, in turn or at random; the *_REPLICA(S) ones fall
# back to the primary while its shard has no replica that answers, as redis-py's do.
_READS: dict[LoadBalancingStrategy | None, tuple[str, str]] = {
    None: ("primary", "random"),
    LoadBalancingStrategy.ROUND_ROBIN: ("any", "round_robin"),
    LoadBalancingStrategy.ROUND_ROBIN_REPLICAS: ("prefer_replica", "round_robin"),
    LoadBalancingStrategy.RANDOM: ("any", "random"),
    LoadBalancingStrategy.RANDOM_REPLICA: ("prefer_replica", "random"),
}


class RedisCluster(_Facade, AsyncRedisClusterCommands):  # type: ignore[misc]  # redis-py's mixins are untyped
    """redis-py's `redis.asyncio.cluster.RedisCluster` over the multiplexed cluster client.

    `RedisCluster(host="127.0.0.1", port=7000)`, `RedisCluster(startup_nodes=[...])` or
    `RedisCluster.from_url("redis://127.0.0.1:7000")`; every command method of redis-py's
    cluster client, routed by our client. Reads go to replicas as redis-py's
    `load_balancing_strategy` says (`read_from_replicas=True`: ROUND_ROBIN), see `_READS`."""

    # redis-py's node flags, for target_nodes=
    PRIMARIES, REPLICAS = AbstractRedisCluster.PRIMARIES, AbstractRedisCluster.REPLICAS
    ALL_NODES, RANDOM = AbstractRedisCluster.ALL_NODES, AbstractRedisCluster.RANDOM
    DEFAULT_NODE = AbstractRedisCluster.DEFAULT_NODE
    _pipeline = ClusterPipeline

    def __init__(
        self,
        host: str | None = None,
        port: int = 6379,
        startup_nodes: Iterable[Any] | None = None,
        require_full_coverage: bool = True,
        read_from_replicas: bool = False,
        load_balancing_strategy: LoadBalancingStrategy | None = None,
        **options: Any,
    ) -> None:
        seeds = [f"{n.host}:{n.port}" for n in startup_nodes or ()]
        if host is not None:
            seeds.insert(0, f"{host}:{port}")
        if not seeds:
            raise redis_errors.RedisClusterException("RedisCluster needs host and port, or startup_nodes")
        super().__init__(**options)
        self._seeds = seeds
        self._routes: dict[str, Route] = {}
        self._default: str | None = None
        if read_from_replicas and load_balancing_strategy is None:  # redis-py's default then
            load_balancing_strategy = LoadBalancingStrategy.ROUND_ROBIN
        read_from, choice = _READS.get(load_balancing_strategy, ("primary", "random"))
        self._native_options.update(require_full_coverage=require_full_coverage, read_from=read_from,
                                    replica_choice=choice)  # fmt: skip

    async def _connect(self) -> Client:
        return await ClusterClient.connect(self._seeds, **self._native_options)

    def _masters(self) -> tuple[str, ...]:
        native = self._native
        return cast(ClusterClient, native).topology.masters if native is not None else ()

    def _default_node(self) -> str:
        """redis-py's default node, where a keyless command without a flag of its own goes
        (INFO, CLIENT SETNAME, ACL SETUSER...): one master, the first seed when it is one,
        kept until it is no longer a master (a failover), so such commands meet each other."""
        masters = self._masters()
        if self._default not in masters:
            self._default = self._seeds[0] if self._seeds[0] in masters else masters[0]
        assert self._default is not None
        return self._default

    def _pubsub_node(
        self, node: Any = None, host: str | None = None, port: int | None = None, **options: Any
    ) -> Any:
        """redis-py's rules for pubsub(node=, host=, port=): both host and port, or a node of
        this cluster; channels and patterns are then subscribed on it."""
        super()._pubsub_node(**options)
        if node is None and host is None and port is None:
            return None
        if node is None and (host is None or port is None):
            raise redis_errors.DataError("Specify both host and port")
        chosen = node if node is not None else Node(str(host), int(port or 0))
        # checked against the layout once connected (before, a wrong node fails at subscribe)
        if self._native is not None and self.get_node(node_name=chosen.name) is None:
            raise redis_errors.RedisClusterException(
                f"Node {chosen.host}:{chosen.port} doesn't exist in the cluster"
            )
        return chosen

    # -- redis-py's node objects, for target_nodes= ------------------------------------
    def get_default_node(self) -> Node | None:
        return node_at(self._default_node()) if self._masters() else None

    def get_primaries(self) -> list[Node]:
        return [node_at(address) for address in self._masters()]

    def get_replicas(self) -> list[Node]:
        native = self._native
        if native is None:
            return []
        replicas = cast(ClusterClient, native).topology.replicas
        return [node_at(r, REPLICA) for rs in replicas.values() for r in rs]

    def get_nodes(self) -> list[Node]:
        return [*self.get_primaries(), *self.get_replicas()]

    def get_random_node(self) -> Node:
        return random.choice(self.get_nodes())

    def get_node(
        self, host: str | None = None, port: int | None = None, node_name: str | None = None
    ) -> Node | None:
        name = node_name or f"{host}:{port}"
        return next((node for node in self.get_nodes() if node.name == name), None)

    def get_node_from_key(self, key: Any, replica: bool = False) -> Node | None:
        native = self._native
        if native is None:
            return None
        owner = native.router.target(self.keyslot(key), replica)
        return node_at(owner, REPLICA if replica else PRIMARY) if owner else None

    def _route(self, name: str) -> Route:
        """Where command `name` goes, decided once per name (redis-py's tables do not change)."""
        route = self._routes.get(name)
        if route is None:
            route = route_of(name)
            if len(self._routes) < _NAMES_KEPT:
                self._routes[name] = route
        return route

    def _by_key(self, name: str) -> bool:
        return name not in CONTAINERS and self._route(name).to == BY_KEYS

    def keyslot(self, key: Any) -> int:
        """The slot of `key` (encoded as a command argument would be)."""
        return slot_crc_hqx(self._encoder.encode(key))

    async def _send(
        self, native: Client, name: str, args: tuple[bytes, ...], target: Any, key: bytes | None
    ) -> Any:
        if target is not None:  # the caller's nodes: the command's own merge is not applied
            addresses = _addresses(target)
            if addresses == ALL_MASTERS:
                return _PerNode(await native.execute_command(*args, target="all"), None)
            if addresses == ANY_MASTER:
                return await native.execute_command(*args)
            if addresses == DEFAULT_NODE:
                return await native.execute_command(*args, target=self._default_node())
            return _PerNode({a: await native.execute_command(*args, target=a) for a in addresses}, None)
        if name in CONTAINERS and len(args) > 1:  # CLIENT SETNAME given as two arguments
            name = f"{name} {args[1].decode('utf-8', 'replace').upper()}"
        route = self._route(name)
        if route.to == ALL_MASTERS:
            return _PerNode(await native.execute_command(*args, target="all"), route.response)
        if route.to == DEFAULT_NODE:
            return await native.execute_command(*args, target=self._default_node())
        return await native.execute_command(*args, key=key)

    # -- redis-py's multi-key helpers, on the native client's per-slot split ----------
    # redis-py's async mixin overrides these coroutines over a sync base mypy reads first
    async def _split_command_across_slots(self, command: str, *keys: Any) -> int:  # type: ignore[override]
        """DEL, UNLINK, EXISTS, TOUCH of keys in several slots: one command per slot."""
        total = 0
        for keys_in_slot in self._by_slot(keys).values():
            total += await self.execute_command(command, *keys_in_slot)
        return total

    async def mget_nonatomic(self, keys: Any, *args: Any) -> list[Any]:  # type: ignore[override]
        flat = [*(keys if isinstance(keys, list | tuple) else [keys]), *args]
        groups = self._by_slot(flat)
        found: dict[bytes, Any] = {}
        for keys_in_slot in groups.values():
            values = await self.execute_command("MGET", *keys_in_slot)
            found.update(zip((self._encoder.encode(k) for k in keys_in_slot), values, strict=True))
        return [found[self._encoder.encode(k)] for k in flat]

    async def mset_nonatomic(self, mapping: Mapping[Any, Any]) -> list[bool]:  # type: ignore[override]
        groups = self._by_slot(list(mapping))
        return [
            await self.execute_command("MSET", *(part for k in keys_in_slot for part in (k, mapping[k])))
            for keys_in_slot in groups.values()
        ]

    def _by_slot(self, keys: Iterable[Any]) -> dict[int, list[Any]]:
        groups: dict[int, list[Any]] = {}
        for key in keys:
            groups.setdefault(self.keyslot(key), []).append(key)
        return groups


class Redis(_Facade, AsyncCoreCommands):  # type: ignore[misc]  # redis-py's mixins are untyped
    """redis-py's `redis.asyncio.Redis` over the multiplexed standalone client."""

    _pipeline = Pipeline

    def __init__(self, host: str = "localhost", port: int = 6379, db: int = 0, **options: Any) -> None:
        if db != 0:
            raise UnsupportedOption("db: the multiplexed client serves database 0 (clusters have no other)")
        super().__init__(**options)
        self._address = f"{host}:{port}"

    async def _connect(self) -> Client:
        return await StandaloneClient.connect(self._address, **self._native_options)
