"""One small adapter per client library, so a trial drives them all the same way.

Peers are the real PyPI libraries. A peer that is not installed raises `PeerUnavailable`
(the runner skips it with a note); nothing here imports a peer at module level.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import ssl
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property, partial
from typing import Any

from .. import compiled
from ..core.address import split_address
from ..core.commands import auth_command
from ..core.url import ConnectionSpec, TLSSettings
from ..defaults import SEEDS, STANDALONE
from ..stages import Stages
from ..tls import as_tls_context
from ..validate import check_number
from .workload import Workload

__all__ = ["CLIENTS", "PEERS", "ClientConfig", "PeerUnavailable", "Target", "open_adapter"]

# client name -> the module that must be importable for it
CLIENTS = {"ours": "rediscluster_opt", "redis-py": "redis", "coredis": "coredis", "valkey-glide": "glide",
           "compat": "redis"}  # fmt: skip  # compat: our redis-py drop-in, over the optimized preset
PEERS = tuple(c for c in CLIENTS if c not in ("ours", "compat"))  # the PyPI libraries we compare with
# Arms that calibrate, never offered as clients, with what each needs installed: the bare
# multiplexer's Python module (bench/bare.py), the event loop alone (bench/loopfloor.py),
# the C client's program (bench/cclient.py).
C_CLIENT = "calibration:redis-benchmark"
LOOP_FLOOR = "calibration:loop"
CALIBRATIONS = {"calibration:bare": "hiredis", LOOP_FLOOR: "asyncio", C_CLIENT: "redis-benchmark"}
LOOPS = ("uvloop", "asyncio")
PRESETS = ("baseline", "optimized", "native")  # our client's stage presets, by name
# The garbage collector during a trial's measured window (bench/trial.py): as Python leaves
# it, everything alive after the warm-up frozen out of its reach (gc.freeze), or off.
GC_MODES = ("default", "freeze", "off")
# The allocator of a trial's process, chosen before it starts (PYTHONMALLOC): CPython's
# small-object allocator, or the C library's malloc for every object.
ALLOCATORS = ("pymalloc", "malloc")
# Our cluster client's constructor options a configuration may set (seconds; None for
# refresh_interval: no periodic refresh). They apply to cluster trials only.
CLUSTER_OPTIONS = ("refresh_interval", "min_refresh_interval")
# The clients a configuration may batch explicitly (ClientConfig.batch): each through its
# own pipeline or batch API (Adapter.get_many).
BATCHING = ("ours", "redis-py", "valkey-glide", "compat")


def process_env(allocator: str, build: str = "pure") -> dict[str, str]:
    """The environment of a trial process with `allocator` (ALLOCATORS) and our client's
    `build` (pure or compiled): ours, with both set explicitly, so an inherited
    PYTHONMALLOC or RCOPT_BUILD does not pick them."""
    return {**compiled.environ(build), "PYTHONMALLOC": allocator}


class PeerUnavailable(RuntimeError):
    """The peer library is not installed here."""


@dataclass(frozen=True)
class Target:
    """Where to run: a cluster given by seed addresses, and/or a standalone server, with
    the credentials and TLS settings both take. It is recorded and handed to trial
    processes as JSON, so it holds no secret: the password stays in the environment
    variable `password_env` names (child processes inherit it). `lab.target` builds one
    from URLs."""

    seeds: tuple[str, ...] = SEEDS
    standalone: str | None = STANDALONE
    username: str | None = None
    password_env: str | None = None
    tls: TLSSettings | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "seeds", tuple(self.seeds))
        if isinstance(self.tls, dict):  # back from JSON
            object.__setattr__(self, "tls", TLSSettings(**self.tls))

    def address_for(self, mode: str) -> list[str]:
        if mode == "cluster":
            return list(self.seeds)
        if self.standalone is None:
            raise ValueError("standalone mode needs a standalone address (target.standalone)")
        return [self.standalone]

    @property
    def password(self) -> str | None:
        if self.password_env is None:
            return None
        if self.password_env not in os.environ:
            raise ValueError(f"the target's password variable {self.password_env} is not set")
        return os.environ[self.password_env]

    def tls_context(self) -> ssl.SSLContext | None:
        return self._context

    @cached_property
    def _context(self) -> ssl.SSLContext | None:
        # Built once (it reads the CA file): a migration sends an admin command per batch.
        return as_tls_context(self.tls)

    def client_options(self) -> dict[str, Any]:
        """Credentials and TLS as our clients take them."""
        return {"username": self.username, "password": self.password, "tls": self.tls_context()}

    def command(self, address: str, *args: object, timeout: float = 3.0) -> object:
        """One admin command to a node of this target (AUTH and TLS as configured)."""
        from ..admin import command

        return command(
            *split_address(address),
            *args,
            timeout=timeout,
            username=self.username,
            password=self.password,
            tls=self.tls_context(),
        )

    def url(self, addresses: Sequence[str]) -> str:
        """A URL for `addresses` with this target's settings and no secret: the password
        is named by its variable, so the URL works where that variable is set."""
        env = self.password_env
        return ConnectionSpec(tuple(addresses), self.username, None, self.tls, password_env=env).redacted()

    def describe(self) -> str:
        """The target as it may be printed or recorded."""
        parts = [f"cluster {self.url(self.seeds)}"] if self.seeds else []
        if self.standalone:
            parts.append(f"standalone {self.url([self.standalone])}")
        return "; ".join(parts)


@dataclass(frozen=True)
class ClientConfig:
    client: str = "ours"
    stages: dict[str, str] | None = field(default=None)  # ours only; None means optimized
    connections_per_node: int = 1
    loop: str = "uvloop"
    name: str | None = None  # label override
    pipeline: int = 1  # the C client's pipeline depth (requests in flight per connection)
    gc: str = "default"  # GC_MODES: the collector during the measured window
    allocator: str = "pymalloc"  # ALLOCATORS: the trial process's object allocator
    free_cap: int | None = None  # the pooled submit's FREE_CAP in the trial process; None keeps it
    cluster_options: dict[str, float | None] | None = None  # CLUSTER_OPTIONS for ClusterClient
    # Commands per request through the client's explicit pipeline (None: single commands,
    # batched implicitly); a trial then runs concurrency / batch tasks, as many in flight.
    batch: int | None = None
    build: str = "pure"  # our client's build in the trial process: "pure" or "compiled"

    def __post_init__(self) -> None:
        if self.client not in CLIENTS and self.client not in CALIBRATIONS:
            choices = ", ".join([*CLIENTS, *CALIBRATIONS])
            raise ValueError(f"unknown client {self.client!r}; choose one of: {choices}")
        if self.loop not in LOOPS:
            raise ValueError(f"unknown event loop {self.loop!r}; choose one of: {', '.join(LOOPS)}")
        if self.gc not in GC_MODES:
            raise ValueError(f"unknown gc mode {self.gc!r}; choose one of: {', '.join(GC_MODES)}")
        if self.gc != "default" and self.client != "ours":
            raise ValueError(f"a gc mode applies to our client's trials only, not to {self.client}")
        if self.allocator not in ALLOCATORS:
            choices = ", ".join(ALLOCATORS)
            raise ValueError(f"unknown allocator {self.allocator!r}; choose one of: {choices}")
        if self.allocator != "pymalloc" and self.client == C_CLIENT:
            raise ValueError(f"an allocator applies to Python clients only, not to {self.client}")
        if self.build not in ("pure", "compiled"):
            raise ValueError(f"unknown build {self.build!r}; choose pure or compiled")
        if self.build != "pure" and self.client != "ours":
            raise ValueError(f"a build applies to our client only, not to {self.client}")
        if self.client == "ours":
            # Validates every stage name now, before any trial starts.
            object.__setattr__(self, "stages", self.stage_set().as_dict())
        elif self.stages:
            raise ValueError(f"stages apply to our client only, not to {self.client}")
        check_number("connections_per_node", self.connections_per_node, integer=True)
        if self.cluster_options:
            unknown = sorted(set(self.cluster_options) - set(CLUSTER_OPTIONS))
            if unknown or self.client != "ours":
                raise ValueError(
                    f"cluster options {unknown or sorted(self.cluster_options)} do not apply here: "
                    f"our client takes {', '.join(CLUSTER_OPTIONS)}"
                )
            for name, value in self.cluster_options.items():
                if value is not None or name != "refresh_interval":  # None: no periodic refresh
                    check_number(name, value, allow_zero=name == "min_refresh_interval", unit="seconds")
        if self.batch is not None:
            check_number("batch", self.batch, integer=True)
        if self.batch is not None and self.client not in BATCHING:
            raise ValueError(f"explicit batches apply to {', '.join(BATCHING)} only, not to {self.client}")
        if self.free_cap is not None:
            check_number("free_cap", self.free_cap, integer=True, allow_zero=True)
            if self.client != "ours" or (self.stages or {}).get("submit") != "pooled":
                raise ValueError("free_cap applies to our client with the pooled submit only")
        check_number("pipeline", self.pipeline, integer=True)
        if self.pipeline != 1 and self.client != C_CLIENT:
            raise ValueError(f"a pipeline depth applies to {C_CLIENT} only, not to {self.client}")

    @classmethod
    def parse(cls, text: str, **options: Any) -> ClientConfig:
        """'baseline', 'optimized', 'native' (the native stage variants),
        'optimized:delivery=per_reply,writer=direct' (our client with stage changes), a peer:
        'redis-py', 'coredis', 'valkey-glide', or the 'calibration:bare' arm (bench/bare.py),
        the event loop alone 'calibration:loop' (bench/loopfloor.py), or the C client
        'calibration:redis-benchmark' with an optional depth,
        'calibration:redis-benchmark:pipeline=16' (bench/cclient.py).
        Our client takes a build after '@': 'optimized@compiled' ('@pure' is the default)."""
        others = {k: v for k, v in options.items() if k == "loop"}  # what a peer or the arm takes
        head, at, build = text.strip().rpartition("@")
        if at and build in ("pure", "compiled") and head.split(":")[0] in PRESETS:
            return cls.parse(head, **{**options, "build": build})
        if at and head.split(":")[0] in PRESETS:
            native = (
                "; the native variants are stages, not a build: 'native' (or 'native@compiled')"
                if build == "native"
                else ""
            )
            raise ValueError(f"unknown build {build!r} in {text!r}; choose @pure or @compiled{native}")
        if text.strip() in CALIBRATIONS:
            return cls(text.strip(), None, **others)
        if text.strip().startswith(C_CLIENT + ":"):
            option, _, depth = text.strip()[len(C_CLIENT) + 1 :].partition("=")
            if option != "pipeline" or not depth.isdigit() or int(depth) < 1:
                raise ValueError(f"bad option in {text!r}: the C client takes pipeline=N (N >= 1)")
            return cls(C_CLIENT, None, pipeline=int(depth))
        name, _, changes = text.strip().partition(":")
        if name in PRESETS:
            stages = getattr(Stages, name)()  # Stages.native() says how to build it when it is not
            if changes:
                pairs = [c.partition("=") for c in changes.split(",")]
                bad = [c for c, eq, v in pairs if not eq or not v]
                if bad:
                    raise ValueError(f"bad stage change(s) {bad} in {text!r}: use stage=variant")
                stages = stages.replace(**{k.strip(): v.strip() for k, _, v in pairs})
            return cls("ours", stages.as_dict(), **options)
        if changes:
            raise ValueError(f"stage changes apply to our client only, not to {name!r}")
        if name not in CLIENTS or name == "ours":
            choices = ", ".join([*PRESETS, *list(CLIENTS)[1:], *CALIBRATIONS])
            raise ValueError(f"unknown client {name!r}; choose one of: {choices}")
        return cls(name, None, **others)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClientConfig:
        return cls(**data)

    def stage_set(self) -> Stages:
        return Stages.from_dict(self.stages or {})

    @property
    def label(self) -> str:
        if self.name:
            return self.name
        batched = f" (pipelines of {self.batch})" if self.batch is not None else ""
        if self.client != "ours":
            return self.client + (f" P{self.pipeline}" if self.pipeline != 1 else "") + batched
        label = self.stage_set().label() + batched
        if self.connections_per_node != 1:
            label += f" x{self.connections_per_node}"
        label += "" if self.gc == "default" else f" (gc {self.gc})"
        label += "" if self.free_cap is None else f" (free cap {self.free_cap})"
        label += "".join(
            f" ({k}={v:g})" if v is not None else f" ({k}=None)"
            for k, v in (self.cluster_options or {}).items()
        )
        label += "" if self.allocator == "pymalloc" else f" ({self.allocator})"
        label += "" if self.build == "pure" else f" @{self.build}"
        return label if self.loop == "uvloop" else f"{label} ({self.loop})"

    def available(self) -> bool:
        if self.build == "compiled":
            return compiled.ready()
        if self.client == C_CLIENT:
            return shutil.which(CALIBRATIONS[C_CLIENT]) is not None
        module = CLIENTS.get(self.client) or CALIBRATIONS[self.client]
        return importlib.util.find_spec(module) is not None

    def missing(self) -> str:
        """Why `available()` is False."""
        if self.build == "compiled":
            return "the compiled build of these sources is not built (run `rcopt build`)"
        return f"{self.client} is not installed"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


class Adapter:
    """get / set (optionally with a TTL in ms) / delete over one client library;
    `command` (any command by its arguments, routed by its key), `io_counters` and
    `hot_functions` only where the client has them."""

    def __init__(
        self,
        get: Any,
        set_: Any,
        delete: Any,
        close: Any,
        io_counters: Any = None,
        command: Any = None,
        hot_functions: Any = None,
        get_many: Any = None,
    ) -> None:
        self.get = get  # key -> bytes | None
        self.set = set_  # (key, value, px=None) -> truthy on success
        self.delete = delete  # key -> int
        self.close = close  # () -> awaitable
        self.command = command  # (*args) -> the reply, or None where not wrapped
        self.hot_functions = hot_functions  # () -> the functions a command runs (ours), for profilers
        self.get_many = get_many  # keys -> their values in order, in one explicit pipeline or batch
        self._io_counters = io_counters

    def io_counters(self) -> dict[str, int] | None:
        return self._io_counters() if self._io_counters else None


def _require(config: ClientConfig) -> None:
    if not config.available():
        raise PeerUnavailable(
            f"{config.client} is not installed (pip install 'rediscluster_opt[peers]'); skipped"
        )


async def open_adapter(
    config: ClientConfig,
    mode: str,
    target: Target,
    concurrency: int,
    command_timeout: float | None = None,
    workload: Workload | None = None,
) -> Adapter:
    """`command_timeout` (seconds; None keeps each library's default) maps to each
    library's own per-command timeout, so fault experiments compare like with like.
    `workload`: the keys the loop floor's keyspace holds (it has no server to read)."""
    _require(config)
    if config.client == C_CLIENT:
        raise ValueError(f"{C_CLIENT} is a program, not a Python client: a trial runs it (bench/cclient.py)")
    if config.client == LOOP_FLOOR:
        from .loopfloor import open_loop_floor

        floor = open_loop_floor(workload or Workload())
        return Adapter(floor.get, floor.set, floor.delete, floor.close)
    if config.client in CALIBRATIONS:
        return await _open_bare(mode, target)
    opener = _OPENERS[config.client]
    return await opener(config, mode, target, concurrency, command_timeout)


async def _open_ours(
    config: ClientConfig, mode: str, target: Target, _concurrency: int, command_timeout: float | None
) -> Adapter:
    from ..client import ClusterClient, StandaloneClient

    addresses = target.address_for(mode)
    options: dict[str, Any] = {
        "stages": config.stage_set(),
        "connections_per_node": config.connections_per_node,
        **target.client_options(),
    }
    if command_timeout is not None:
        options["command_timeout"] = command_timeout
    ours: ClusterClient | StandaloneClient
    if mode == "cluster":
        options |= config.cluster_options or {}  # refresh and retry settings, checked by the client
        ours = await ClusterClient.connect(addresses, **options)
    else:
        ours = await StandaloneClient.connect(addresses[0], **options)

    return Adapter(
        ours.get,
        ours.set,
        ours.delete,
        ours.close,
        ours.io_counters,
        ours.execute_command,
        ours.hot_functions,
        _pipelined_gets(ours.pipeline),
    )


async def _open_bare(mode: str, target: Target) -> Adapter:
    from .bare import open_bare

    password = target.password
    login = None if password is None else auth_command(password, target.username)
    bare = await open_bare(target.address_for(mode), mode == "cluster", login, target.tls_context())
    return Adapter(bare.get, bare.set, bare.delete, bare.close)


def _pipelined_gets(pipeline: Callable[[], Any]) -> Callable[[list[bytes]], Awaitable[list[object]]]:
    """An adapter's get_many through a client's own pipeline: every GET queued, one execute."""

    async def get_many(keys: list[bytes]) -> list[object]:
        pipe = pipeline()
        for key in keys:
            pipe.get(key)
        found: list[object] = await pipe.execute()
        return found

    return get_many


def _nodes_and_auth(mode: str, target: Target) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """A peer's view of the target: (host, port) per address, and its credentials."""
    nodes = [split_address(a) for a in target.address_for(mode)]
    return nodes, {"username": target.username, "password": target.password}


async def _open_redis_py(
    _config: ClientConfig, mode: str, target: Target, concurrency: int, command_timeout: float | None
) -> Adapter:
    import redis.asyncio as redis_asyncio
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    nodes, auth = _nodes_and_auth(mode, target)
    # redis-py takes one connection per in-flight command and raises
    # MaxConnectionsError when out of them: allow far more than the concurrency.
    limit = max(1000, 4 * concurrency)
    options: dict[str, Any] = {} if command_timeout is None else {"socket_timeout": command_timeout}
    options.update(auth, **_redis_py_tls(target.tls))
    client: RedisCluster | redis_asyncio.Redis
    if mode == "cluster":
        cluster = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in nodes], max_connections=limit, **options
        )
        await cluster.initialize()
        client = cluster
    else:
        client = redis_asyncio.Redis(host=nodes[0][0], port=nodes[0][1], max_connections=limit, **options)

    pipeline = client.pipeline if mode == "cluster" else partial(client.pipeline, transaction=False)
    return Adapter(client.get, client.set, client.delete, client.aclose, command=client.execute_command,
                   get_many=_pipelined_gets(pipeline))  # fmt: skip


async def _open_coredis(
    _config: ClientConfig, mode: str, target: Target, _concurrency: int, command_timeout: float | None
) -> Adapter:
    import coredis

    nodes, auth = _nodes_and_auth(mode, target)
    stream: dict[str, Any] = {} if command_timeout is None else {"stream_timeout": command_timeout}
    stream.update(auth)
    if target.tls is not None:
        stream["ssl_context"] = target.tls_context()
    client: coredis.RedisCluster[Any] | coredis.Redis[Any]
    if mode == "cluster":
        client = coredis.RedisCluster(host=nodes[0][0], port=nodes[0][1], **stream)
    else:
        client = coredis.Redis(host=nodes[0][0], port=nodes[0][1], **stream)
    await client.__aenter__()  # coredis 6 clients live inside an async context

    def delete(key: bytes) -> Any:
        return client.delete([key])

    async def close() -> None:
        await client.__aexit__(None, None, None)

    return Adapter(client.get, client.set, delete, close)


async def _open_glide(
    _config: ClientConfig, mode: str, target: Target, _concurrency: int, command_timeout: float | None
) -> Adapter:
    from glide import (
        Batch,
        ClusterBatch,
        ExpirySet,
        ExpiryType,
        GlideClient,
        GlideClientConfiguration,
        GlideClusterClient,
        GlideClusterClientConfiguration,
        NodeAddress,
        ServerCredentials,
    )

    nodes, _auth = _nodes_and_auth(mode, target)
    glide_nodes = [NodeAddress(h, p) for h, p in nodes]
    request: dict[str, Any] = (
        {} if command_timeout is None else {"request_timeout": int(command_timeout * 1000)}
    )
    if target.password is not None:
        request["credentials"] = ServerCredentials(target.password, target.username)
    if target.tls is not None:
        request["use_tls"] = True
    client: GlideClusterClient | GlideClient
    if mode == "cluster":
        advanced = _glide_tls(target.tls, cluster=True)
        client = await GlideClusterClient.create(
            GlideClusterClientConfiguration(glide_nodes, **request, **advanced)
        )
    else:
        advanced = _glide_tls(target.tls, cluster=False)
        client = await GlideClient.create(GlideClientConfiguration(glide_nodes, **request, **advanced))

    def glide_set(key: bytes, value: bytes, px: int | None = None) -> Any:
        expiry = ExpirySet(ExpiryType.MILLSEC, px) if px is not None else None
        return client.set(key, value, expiry=expiry)

    def glide_delete(key: bytes) -> Any:
        return client.delete([key])

    def glide_command(*args: Any) -> Any:  # glide routes a custom command by its key
        return client.custom_command([a if isinstance(a, (str, bytes)) else str(a) for a in args])

    async def glide_get_many(keys: list[bytes]) -> list[object]:
        if isinstance(client, GlideClusterClient):
            batch = ClusterBatch(is_atomic=False)
            for key in keys:
                batch.get(key)
            found = await client.exec(batch, raise_on_error=True)
        else:
            plain = Batch(is_atomic=False)
            for key in keys:
                plain.get(key)
            found = await client.exec(plain, raise_on_error=True)
        return list(found or [])

    return Adapter(client.get, glide_set, glide_delete, client.close, command=glide_command,
                   get_many=glide_get_many)  # fmt: skip


async def _open_compat(
    _config: ClientConfig, mode: str, target: Target, _concurrency: int, command_timeout: float | None
) -> Adapter:
    """Our redis-py drop-in (rediscluster_opt.compat): redis-py's command methods and reply
    callbacks over the optimized preset, so its cost beside the native API shows."""
    from ..compat import Redis, RedisCluster
    from ..compat.facade import ssl_options

    nodes, auth = _nodes_and_auth(mode, target)
    options: dict[str, Any] = {k: v for k, v in auth.items() if v is not None}
    if command_timeout is not None:
        options["socket_timeout"] = command_timeout
    if target.tls is not None:
        options |= ssl_options(target.tls)
    # Any: redis-py's command mixins are untyped, and mypy reads abstract members into them
    kind: Any = RedisCluster if mode == "cluster" else Redis
    client = await kind(host=nodes[0][0], port=nodes[0][1], **options).initialize()

    return Adapter(client.get, client.set, client.delete, client.aclose, command=client.execute_command,
                   get_many=_pipelined_gets(client.pipeline))  # fmt: skip


_Opener = Callable[[ClientConfig, str, Target, int, "float | None"], Awaitable[Adapter]]
_OPENERS: dict[str, _Opener] = {
    "ours": _open_ours,
    "redis-py": _open_redis_py,
    "coredis": _open_coredis,
    "valkey-glide": _open_glide,
    "compat": _open_compat,
}


def _redis_py_tls(tls: TLSSettings | None) -> dict[str, Any]:
    if tls is None:
        return {}
    return {
        "ssl": True,
        "ssl_ca_certs": tls.ca_certs,
        "ssl_certfile": tls.certfile,
        "ssl_keyfile": tls.keyfile,
        "ssl_check_hostname": tls.check_hostname and tls.verify,
        "ssl_cert_reqs": "required" if tls.verify else "none",
    }


def _glide_tls(tls: TLSSettings | None, *, cluster: bool) -> dict[str, Any]:
    """glide takes a CA and a client certificate as PEM, through its advanced settings.
    It always checks server names (it cannot be told not to, short of trusting anything)."""
    if tls is None or (tls.ca_certs is None and tls.certfile is None and tls.verify):
        return {}
    from pathlib import Path

    from glide import (
        AdvancedGlideClientConfiguration,
        AdvancedGlideClusterClientConfiguration,
        TlsAdvancedConfiguration,
    )

    config = TlsAdvancedConfiguration(
        use_insecure_tls=True if not tls.verify else None,
        root_pem_cacerts=Path(tls.ca_certs).read_bytes() if tls.ca_certs else None,
        client_cert_pem=Path(tls.certfile).read_bytes() if tls.certfile else None,
        client_key_pem=Path(tls.keyfile).read_bytes() if tls.keyfile else None,
    )
    kind = AdvancedGlideClusterClientConfiguration if cluster else AdvancedGlideClientConfiguration
    return {"advanced_config": kind(tls_config=config)}
