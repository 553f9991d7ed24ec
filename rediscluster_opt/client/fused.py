"""The fused route: the client's keyed route, generated from the chosen stages.

The dispatch stage (`stages.dispatch`) says whether a client's keyed commands take the
readable composed route (`Client._route`, one call per stage) or a generated one, and
which command shapes get a method of their own. This module generates them: one
coroutine function per route, compiled when a class for that stage choice is first
needed and installed on it, the way `dataclasses` builds `__init__`. Each stage variant
that carries source (`stages.traits`: `Traits(inline=...)`) is spliced in; any other is
called, so every combination in the registry fuses. A client of that stage choice is an
instance of the routed class (`routed_class`): `client.get` is the class's method.

The generated text reads its client through `RouteHost` only, and the unit tests check
every generated source against it (an attribute it does not declare, or a call that
does not fit its signature, fails `tests/unit/test_dispatch.py`); the client assembly is
checked against `RouteHost` by mypy where it asks for its class. So a change to the slow
path's entry (`SlowPath.retry`) fails mypy or a unit test, never a GET.

Behaviour is the composed route's: the slow paths (connecting, backpressure,
MOVED/ASK/TRYAGAIN, connection loss, timeouts) are the client's own, entered with the
same arguments; the redirect stage is parsed on the slow path, for error replies only.
"""

from __future__ import annotations

import hashlib
import inspect
import linecache
import textwrap
import types
from binascii import crc_hqx
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from string import Template
from typing import Any, Protocol, TypeVar

from hiredis import pack_command

from ..core.commands import refuse_oversized
from ..core.resp import ReplyError, encode_command, to_bytes
from ..core.slots import SLOT_MASK
from ..errors import RedisConnectionError
from ..stages.contracts import Impl, NodeSelector, SlotMap
from ..stages.dispatch import Shape
from ..stages.traits import traits_of
from .outcome import NOT_SENT, Lost, Outcome, Replied, Request, Single

__all__ = ["RetryRoute", "RouteHost", "Routing", "generate", "routed_class", "subclass_of"]

T = TypeVar("T")

# How the slow path is entered from a route: slot (None: pinned to `address`), the
# request to send again, where the try went, and how it ended (`SlowPath.retry`).
RetryRoute = Callable[[int | None, Request, str | None, Outcome], Awaitable[Any]]


class RouteHost(Protocol):
    """What a generated route reads of its client on each call; nothing else. The cluster
    client has a slot map and no address, the standalone client the reverse."""

    _slot_map: SlotMap | None
    _address: str | None
    _selector: NodeSelector
    _max_bulk: int
    _retry: RetryRoute

    def _foreign_loop(self, exc: RuntimeError, /) -> BaseException: ...


# How the route calls a stage whose variant gives no `inline` source (stages.traits):
# inputs and outputs are the route's local names, `key` (bytes) -> `slot` -> `address`
# -> `mux`, and $args -> `payload`.
CALLED = {
    "slot_hash": "slot = slot_of(key)",
    "slot_map": "address = slot_map.lookup(slot)",
    "node_select": "mux = selector.pick(address)",
    "encoder": "payload = encode($args)",
}
# The route's template, rendered once per route by `string.Template` ($name fields: the
# snippets spliced in hold Python braces, which str.format would take for fields). Every
# `self.` in it is a member of `RouteHost`.
ROUTE = Template("""
async def $name(self, $params):
$prologue
$to_bytes
$where
    selector = self._selector
$locate
    if mux is None or mux.congested:
        reply = await self._retry($slot, Single(encode, $args), address, NOT_SENT)
    else:
$encode
        if len(payload) > self._max_bulk:
            refuse_oversized(payload, $args, self._max_bulk)
        try:
            reply = await mux.execute(payload)
        except (RedisConnectionError, TimeoutError) as exc:
            reply = await self._retry($slot, Single(encode, $args), address, Lost(exc))
        except RuntimeError as exc:
            raise self._foreign_loop(exc) from exc
        else:
            if type(reply) is ReplyError:  # every redirect is an error reply (the contract)
                reply = await self._retry($slot, Single(encode, $args), address, Replied(reply))
    return $result
""")
# Where a route finds its node: the cluster's slot map, or the standalone server (whose
# commands are pinned to it: slot None, where an error reply is raised unless it is
# TRYAGAIN or CLUSTERDOWN).
WHERE = {"cluster": ("slot_map = self._slot_map", "slot"), "standalone": ("address = self._address", "None")}


@dataclass(frozen=True)
class Routing:
    """A stage choice's generated routes: the functions by method name (`_keyed`, and a
    shaped method per command shape), their source, and what `describe()` says."""

    functions: Mapping[str, Callable[..., Any]]
    source: str
    description: Mapping[str, Any]


def generate(impl: Impl, cluster: bool, general: Mapping[str, Callable[..., Any]]) -> Routing:
    """The routes of a stage choice in one mode. `general`: the general method of each
    shaped command (`Commands.set`...), which a call with options takes."""
    dispatch = impl.dispatch()
    if dispatch.native:
        return _native_routing(impl, cluster, general)
    chosen: dict[str, object] = {"node_select": impl.node_select, "encoder": impl.encoder}
    if cluster:  # a standalone route has no slot to find
        chosen = {"slot_hash": impl.slot_hash, "slot_map": impl.slot_map, **chosen}
    snippets: dict[str, str] = {}
    inlined: list[str] = []
    called: list[str] = []
    for stage, implementation in chosen.items():
        text = traits_of(implementation).inline
        snippets[stage] = text or CALLED[stage]
        (inlined if text else called).append(stage)
    mode = "cluster" if cluster else "standalone"
    # standalone: the key only routes in cluster mode (it may be None: MSET's route)
    sources = [
        _route_source(
            "_keyed", ["key", "args"], "args", snippets, mode, conversions=("key",) if cluster else ()
        )
    ]
    namespace = _namespace(impl)
    for method, shape in dispatch.shapes.items():
        namespace[f"general_{method}"] = general[method]
        result = "reply"
        if shape.result is not None:
            namespace[shape.result.__name__] = shape.result
            result = f"{shape.result.__name__}(reply)"
        sources.append(_shape_source(method, shape, result, general[method], snippets, mode))
    source = "\n".join(sources)
    code = _compiled(source)
    exec(code, namespace)  # noqa: S102
    description = _description(impl, inlined, called)
    description["file"] = code.co_filename  # tracebacks and profilers name it; linecache has its lines
    description["source"] = source
    functions = {name: namespace[name] for name in ("_keyed", *dispatch.shapes)}
    return Routing(functions, source, description)


# What the native routes read directly instead of calling the stage: a slot map whose inline
# form indexes its `_table` by slot, a selector whose inline form reads its `_single` dict.
INDEXED_TABLE = "address = slot_map._table[slot]"
SINGLE_READ = "mux = selector._single.get(address)"


def _native_routing(impl: Impl, cluster: bool, general: Mapping[str, Callable[..., Any]]) -> Routing:
    """The `native` dispatch's routes: native/hotpath.pyx's `NativeRoutes` for this stage
    choice, the same methods as the generated ones (`_keyed` and one per command shape)."""
    from .. import native

    built = native.load()
    if built is None:
        raise ValueError(f"dispatch=native: {native.missing()}")
    dispatch = impl.dispatch()
    routes = built.NativeRoutes(
        cluster,
        impl.slot_hash,
        traits_of(impl.slot_map).inline == INDEXED_TABLE,
        SINGLE_READ in traits_of(impl.node_select).inline,
        _namespace(impl),
    )
    functions: dict[str, Callable[..., Any]] = {"_keyed": routes.keyed()}
    for method, shape in dispatch.shapes.items():
        names, _ = _parameters(general[method])
        if len(names) not in (1, 2):
            raise ValueError(f"the native routes shape a key and at most one value, not {method}{names}")
        functions[method] = routes.shaped(shape.command, len(names) == 2, shape.result, general[method])
    for method, function in functions.items():  # tracebacks and profilers name the method
        function.__name__ = function.__qualname__ = method
    source = f"{native.SOURCE} (NativeRoutes): _keyed and {', '.join(dispatch.shapes)}"
    return Routing(functions, source, {**_description(impl, [], []), "source": source})


def _description(impl: Impl, inlined: list[str], called: list[str]) -> dict[str, Any]:
    """What `describe()` says of a stage choice's routes, generated or native."""
    dispatch = impl.dispatch()
    fuses = getattr(impl.submit, "fuses_with", lambda writer: False)(impl.writer)
    description: dict[str, Any] = {
        "dispatch": type(dispatch).__name__.lower(),
        "inlined": inlined,
        "called": called,
        "execute": "submit and writer fused" if fuses else "submit stage's call (no fused form)",
        "redirect": "parsed on the slow path, for error replies only",
    }
    if dispatch.shapes:
        description["shaped_commands"] = [s.command.decode() for s in dispatch.shapes.values()]
    return description


_CLASSES: dict[tuple[object, ...], type[Any]] = {}


def routed_class(client: RouteHost, impl: Impl, cluster: bool) -> type[Any]:
    """The class a client of this stage choice is: its own class with the generated
    routes as methods. One per client class, stage choice and mode, made on first use
    and kept (the generated source depends only on those, never on a client's objects,
    which the routes read through `RouteHost`)."""
    base = type(client)
    if "_routing" in vars(base):  # routed already: route from the class it was made from
        base = base.__bases__[0]
    key = (base, cluster, *(getattr(impl, f) for f in ("slot_hash", "slot_map", "encoder", "node_select",
                                                      "submit", "writer", "dispatch")))  # fmt: skip
    found = _CLASSES.get(key)
    if found is None:
        general = {name: getattr(base, name) for name in impl.dispatch().shapes}
        routing = generate(impl, cluster, general)
        found = _CLASSES[key] = subclass_of(base, {**routing.functions, "_routing": routing})
    return found


def subclass_of(base: type[T], attributes: Mapping[str, Any]) -> type[T]:
    """A subclass of `base` that adds `attributes` and shows as `base` (name, module,
    docstring): the class a client becomes once its parts are chosen."""
    names = {"__module__": base.__module__, "__qualname__": base.__qualname__, "__doc__": base.__doc__}
    made: type[T] = type(base.__name__, (base,), {**names, **attributes})
    return made


# -- rendering --------------------------------------------------------------------------
def _compiled(source: str) -> types.CodeType:
    """The source registered with `linecache` under a name of its own (as attrs and
    dataclasses-like generators do), so tracebacks, pdb, `inspect.getsource` and the line
    profiler show the generated lines."""
    digest = hashlib.sha1(source.encode()).hexdigest()[:10]
    filename = f"<rediscluster_opt fused route {digest}>"
    # mtime None: linecache.checkcache() keeps the entry (there is no file to check)
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    return compile(source, filename, "exec")


def _namespace(impl: Impl) -> dict[str, Any]:
    """The routes' globals: what is the same for every client of the stage choice."""
    return {
        "__name__": "rediscluster_opt.fused_route",  # the generated functions' __module__
        "slot_of": impl.slot_hash,
        "encode": impl.encoder,
        "Single": Single,
        "NOT_SENT": NOT_SENT,
        "Lost": Lost,
        "Replied": Replied,
        "refuse_oversized": refuse_oversized,
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
    mode: str,
    *,
    prologue: str = "",
    result: str = "reply",
    encode: str | None = None,
    conversions: tuple[str, ...] = ("key",),
) -> str:
    locate = [snippets[stage] for stage in ("slot_hash", "slot_map", "node_select") if stage in snippets]
    payload = encode if encode is not None else Template(snippets["encoder"]).substitute(args=args)
    where, slot = WHERE[mode]
    to_bytes_lines = "\n".join(f"if type({n}) is not bytes:\n    {n} = to_bytes({n})" for n in conversions)
    return ROUTE.substitute(
        name=name,
        args=args,
        slot=slot,
        params=", ".join(params),
        prologue=textwrap.indent(prologue, "    "),
        to_bytes=textwrap.indent(to_bytes_lines, "    "),
        where=textwrap.indent(where, "    "),
        locate=textwrap.indent("\n".join(locate), "    "),
        encode=textwrap.indent(payload, "        "),
        result=result,
    )


def _parameters(general: Callable[..., Any]) -> tuple[list[str], list[inspect.Parameter]]:
    """A command's general method: its positional names after `self`, and its options."""
    signature = inspect.signature(general)
    names = [p.name for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD][1:]
    return names, [p for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]


def _shape_source(
    method: str,
    shape: Shape,
    result: str,
    general: Callable[..., Any],
    snippets: dict[str, str],
    mode: str,
) -> str:
    """A command method with its RESP prefix built once: the key and each fixed argument
    are formatted into it, after the same conversion the encoders apply."""
    names, options = _parameters(general)
    params = list(names)
    prologue = ""
    if options:  # only the plain form is shaped; any option takes the general method
        params += ["*", *(f"{p.name}={p.default!r}" for p in options)]
        given = " or ".join(f"{p.name} is not None" if p.default is None else p.name for p in options)
        passed = ", ".join(f"{p.name}={p.name}" for p in options)
        prologue = f"if {given}:\n    return await general_{method}(self, {', '.join(names)}, {passed})"
    command = shape.command
    head = b"*%d\r\n$%d\r\n%s\r\n" % (len(names) + 1, len(command), command)
    fmt = head + b"$%d\r\n%b\r\n" * len(names)
    values = ", ".join(f"len({n}), {n}" for n in names)
    return _route_source(
        method,
        params,
        f"({command!r}, {', '.join(names)})",
        snippets,
        mode,
        prologue=prologue,
        result=result,
        encode=f"payload = {fmt!r} % ({values})",
        conversions=tuple(names),
    )
