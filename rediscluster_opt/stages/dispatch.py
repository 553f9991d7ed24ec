"""Dispatch stage (US-009): how a keyed command crosses the hot path.

- `composed`: the client's own readable route, one call per stage (`_keyed` -> `_route`
  -> slot hash, slot map, node pick, encoder, submit, redirect check).
- `fused`: one coroutine function generated and compiled when the client is built, the
  way `dataclasses` builds `__init__`: the chosen stages' work is spliced into it, so a
  command crosses one Python frame where the composed route crosses about ten.
- `shaped`: `fused`, plus command-shape fast paths: GET, SET without options and the
  other single-key commands of fixed arity get their own generated method whose RESP
  prefix is built once (`*2\\r\\n$3\\r\\nGET\\r\\n...`), so no argument tuple is made and no
  general encoder runs; every other command takes the fused route.

CPython has no inliner; this is its stand-in for the PRD's INLINE pragmas. A stage variant
is inlined when it carries source for it (`stages.traits`: `Traits(inline=...)`, next
to the code it restates, so nothing here names a variant) and called as a function
otherwise, so every combination in `REGISTRY` fuses. Behaviour is the composed route's: the slow paths
(connecting, backpressure, MOVED/ASK/TRYAGAIN, connection loss, timeouts) are the
client's own methods, entered with the same arguments.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import linecache
import textwrap
import types
from binascii import crc_hqx
from collections.abc import Callable
from dataclasses import dataclass, field
from string import Template
from typing import Any, ClassVar

from hiredis import pack_command

from ..core.commands import set_result
from ..core.resp import ReplyError, encode_command, to_bytes
from ..core.slots import SLOT_MASK
from ..errors import RedisConnectionError
from .contracts import Impl, NodeSelector, SlotMap
from .traits import Traits, traits_of

__all__ = ["SHAPES", "Composed", "Fused", "HotPath", "Routes", "Shaped", "fused_execute"]


@dataclass(frozen=True)
class HotPath:
    """What a dispatch variant builds from: the client's stage objects and slow paths.

    `retry` is the client's one slow path (`SlowPath.retry`) for a command that could
    not take the one-hop route, an error reply included, entered with how the try ended
    (`not_sent`, `lost(exc)`, `replied(reply)`); a standalone command is pinned to its
    server (slot None). `address` is the standalone server, None in cluster mode (where
    `slot_map` is set). A payload over `max_bulk` bytes goes to `refuse_oversized`."""

    impl: Impl
    selector: NodeSelector  # the pool's
    slot_map: SlotMap | None
    address: str | None
    composed: Callable[..., Any]  # the client's readable keyed route
    retry: Callable[..., Any]
    single: Callable[..., Any]  # args -> the slow path's request object
    not_sent: Any  # a sentinel; not `object`, which a mypyc-compiled dataclass cannot resolve
    foreign_loop: Callable[[RuntimeError], BaseException]
    commands: Any  # the client, for the general form of a shaped command (SET with options)
    max_bulk: int = 512 * 1024 * 1024
    lost: Callable[[Any], Any] | None = None  # how a lost try enters the slow path
    replied: Callable[[object], Any] | None = None  # how an error reply enters it
    refuse_oversized: Callable[[bytes, tuple[Any, ...], int], None] | None = None


@dataclass
class Routes:
    """What the client installs: its keyed route, the shaped command methods (name ->
    coroutine function) and a description for `describe()`."""

    keyed: Callable[..., Any]
    commands: dict[str, Callable[..., Any]] = field(default_factory=dict)
    description: dict[str, Any] = field(default_factory=dict)
    source: str = ""  # the generated source, for the curious and for the tests


# How the route calls a stage whose variant gives no `inline` source (stages.traits):
# inputs and outputs are the route's local names, `key` (bytes) -> `slot` -> `address`
# -> `mux`, and $args -> `payload`.
CALLED = {
    "slot_hash": "slot = slot_of(key)",
    "slot_map": "address = lookup(slot)",
    "node_select": "mux = pick(address)",
    "encoder": "payload = encode($args)",
}

# Command methods with a shaped fast path: method -> (command, how its reply is shaped:
# None returns it as is). Single-key commands of fixed arity, and SET, whose plain form
# (no options) is shaped and whose options take the general method; its reply goes
# through the function the general method uses.
SHAPES: dict[str, tuple[bytes, Callable[[Any], Any] | None]] = {
    "get": (b"GET", None),
    "set": (b"SET", set_result),
    "incr": (b"INCR", None),
    "incrby": (b"INCRBY", None),
    "decr": (b"DECR", None),
    "decrby": (b"DECRBY", None),
    "ttl": (b"TTL", None),
    "pttl": (b"PTTL", None),
    "hget": (b"HGET", None),
}

# The route's template, rendered once per route by `string.Template` ($name fields: the
# snippets spliced in hold Python braces, which str.format would take for fields).
ROUTE = Template("""
async def $name($params):
$prologue
$to_bytes
$locate
    if mux is None or mux.congested:
        reply = await $not_sent
    else:
$encode
        if len(payload) > max_bulk:
            refuse_oversized(payload, $args, max_bulk)
        try:
            reply = await mux.execute(payload)
        except (RedisConnectionError, TimeoutError) as exc:
            reply = await $lost
        except RuntimeError as exc:
            raise foreign_loop(exc) from exc
        else:
            if type(reply) is ReplyError:  # every redirect is an error reply (the contract)
                $error_reply
    return $result
""")
# The slow paths, per mode: the cluster client's `_retry` follows redirects and retries
# TRYAGAIN; a standalone command is pinned to its server (slot None): an error reply is
# raised there unless it is TRYAGAIN or CLUSTERDOWN.
SLOW = {
    "cluster": {
        "retry": Template("retry(slot, Single(encode, $args), address, $outcome)"),
        "error_reply": Template("reply = await retry(slot, Single(encode, $args), address, Replied(reply))"),
    },
    "standalone": {
        "retry": Template("retry(None, Single(encode, $args), address, $outcome)"),
        "error_reply": Template("reply = await retry(None, Single(encode, $args), address, Replied(reply))"),
    },
}


class Composed:
    """The client's own route, one call per stage; each connection's `execute` is its
    submit stage's `call`, which calls the writer stage's `send`."""

    TRAITS: ClassVar[Traits] = Traits(runs=())  # builds routes once; nothing of it runs per command

    def routes(self, path: HotPath) -> Routes:
        return Routes(path.composed, description={"dispatch": "composed"})

    def execute(self, submit: Any, writer: Any) -> Callable[[bytes], Any]:
        return submit.call  # type: ignore[no-any-return]


class Fused(Composed):
    """One generated coroutine for every keyed command; per connection, submit and writer
    fused into one `execute` where the pair has a fused form (`EXECUTE`)."""

    shapes: dict[str, tuple[bytes, Callable[[Any], Any] | None]] = {}

    def routes(self, path: HotPath) -> Routes:
        return _build(path, self.shapes, type(self).__name__.lower())

    def execute(self, submit: Any, writer: Any) -> Callable[[bytes], Any]:
        return fused_execute(submit, writer) or submit.call


class Shaped(Fused):
    """`Fused`, plus a generated method per command shape in `SHAPES`."""

    shapes = SHAPES


def fused_execute(submit: Any, writer: Any) -> Callable[[bytes], Any] | None:
    """The submit variant's fused form with this writer, if it has one (it lives beside
    the submit class, whose internals it reads: `PooledFutureSubmit.fused_execute`)."""
    fuse = getattr(submit, "fused_execute", None)
    return fuse(writer) if fuse is not None else None


def _build(path: HotPath, shapes: dict[str, tuple[bytes, Callable[[Any], Any] | None]], name: str) -> Routes:
    impl = path.impl
    cluster = path.address is None
    chosen = {"node_select": type(path.selector), "encoder": impl.encoder}
    if cluster:  # a standalone route has no slot to find
        chosen = {"slot_hash": impl.slot_hash, "slot_map": type(path.slot_map), **chosen}
    snippets: dict[str, str] = {}
    inlined: list[str] = []
    called: list[str] = []
    for stage, implementation in chosen.items():
        text = traits_of(implementation).inline
        snippets[stage] = text or CALLED[stage]
        (inlined if text else called).append(stage)
    # standalone: the key only routes in cluster mode (it may be None: MSET's route)
    keyed = _route_source(
        "keyed", ["key", "args"], "args", snippets, cluster, conversions=("key",) if cluster else ()
    )
    sources = [keyed]
    namespace = _namespace(path)
    for method, (command, shaping) in shapes.items():
        general = getattr(type(path.commands), method)
        namespace[f"general_{method}"] = general.__get__(path.commands)
        result = "reply"
        if shaping is not None:
            namespace[shaping.__name__] = shaping
            result = f"{shaping.__name__}(reply)"
        sources.append(_shape_source(method, command, result, general, snippets, cluster))
    source = "\n".join(sources)
    code = _compiled(source)
    exec(code, namespace)  # noqa: S102
    fuses = getattr(impl.submit, "fuses_with", lambda writer: False)(impl.writer)
    description: dict[str, Any] = {
        "dispatch": name,
        "inlined": inlined,
        "called": called,
        "execute": "submit and writer fused" if fuses else "submit stage's call (no fused form)",
        "redirect": "parsed on the slow path, for error replies only",
    }
    if shapes:
        description["shaped_commands"] = [c.decode() for c, _ in shapes.values()]
    description["file"] = code.co_filename  # tracebacks and profilers name it; linecache has its lines
    description["source"] = source
    commands = {method: namespace[method] for method in shapes}
    return Routes(namespace["keyed"], commands, description, source)


@functools.lru_cache(maxsize=64)
def _compiled(source: str) -> types.CodeType:
    """The source depends only on the stage choices and the mode, never on the client's
    objects (those are the namespace), so clients built alike share one compile. The
    source is registered with `linecache` under a name of its own (as attrs and
    dataclasses-like generators do), so tracebacks, pdb, `inspect.getsource` and the
    line profiler show the generated lines."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<rediscluster_opt fused route {digest}>"
    # mtime None: linecache.checkcache() keeps the entry (there is no file to check)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, "exec")


def _namespace(path: HotPath) -> dict[str, Any]:
    impl = path.impl
    return {
        "__name__": "rediscluster_opt.fused_route",  # the generated functions' __module__
        "slot_of": impl.slot_hash,
        "slot_map": path.slot_map,
        "lookup": path.slot_map.lookup if path.slot_map is not None else None,
        "selector": path.selector,
        "pick": path.selector.pick,
        "encode": impl.encoder,
        "address": path.address,
        "retry": path.retry,
        "Single": path.single,
        "NOT_SENT": path.not_sent,
        "Lost": path.lost,
        "Replied": path.replied,
        "max_bulk": path.max_bulk,
        "refuse_oversized": path.refuse_oversized,
        "foreign_loop": path.foreign_loop,
        "crc_hqx": crc_hqx,
        "SLOT_MASK": SLOT_MASK,
        "pack_command": pack_command,
        "encode_command": encode_command,
        "to_bytes": to_bytes,
        "ReplyError": ReplyError,
        "RedisConnectionError": RedisConnectionError,
    }


def _route_source(
    name: str,
    params: list[str],
    args: str,
    snippets: dict[str, str],
    cluster: bool,
    *,
    prologue: str = "",
    result: str = "reply",
    encode: str | None = None,
    conversions: tuple[str, ...] = ("key",),
) -> str:
    locate = [snippets[stage] for stage in ("slot_hash", "slot_map", "node_select") if stage in snippets]
    payload = encode if encode is not None else Template(snippets["encoder"]).substitute(args=args)
    slow = SLOW["cluster" if cluster else "standalone"]
    to_bytes_lines = "\n".join(f"if type({n}) is not bytes:\n    {n} = to_bytes({n})" for n in conversions)
    return ROUTE.substitute(
        name=name,
        args=args,
        params=", ".join(params),
        prologue=textwrap.indent(prologue, "    "),
        to_bytes=textwrap.indent(to_bytes_lines, "    "),
        locate=textwrap.indent("\n".join(locate), "    "),
        not_sent=slow["retry"].substitute(args=args, outcome="NOT_SENT"),
        lost=slow["retry"].substitute(args=args, outcome="Lost(exc)"),
        error_reply=slow["error_reply"].substitute(args=args),
        encode=textwrap.indent(payload, "        "),
        result=result,
    )


def _shape_source(
    method: str,
    command: bytes,
    result: str,
    general: Callable[..., Any],
    snippets: dict[str, str],
    cluster: bool,
) -> str:
    """A command method with its RESP prefix built once: the key and each fixed argument
    are formatted into it, after the same conversion the encoders apply."""
    signature = inspect.signature(general)
    names = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    options = [p for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]
    params = list(names)
    prologue = ""
    if options:  # only the plain form is shaped; any option takes the general method
        params += ["*", *(f"{p.name}={p.default!r}" for p in options)]
        given = " or ".join(f"{p.name} is not None" if p.default is None else p.name for p in options)
        passed = ", ".join(f"{p.name}={p.name}" for p in options)
        prologue = f"if {given}:\n    return await general_{method}({', '.join(names)}, {passed})"
    head = b"*%d\r\n$%d\r\n%s\r\n" % (len(names) + 1, len(command), command)
    fmt = head + b"$%d\r\n%b\r\n" * len(names)
    values = ", ".join(f"len({n}), {n}" for n in names)
    return _route_source(
        method,
        params,
        f"({command!r}, {', '.join(names)})",
        snippets,
        cluster,
        prologue=prologue,
        result=result,
        encode=f"payload = {fmt!r} % ({values})",
        conversions=tuple(names),
    )
