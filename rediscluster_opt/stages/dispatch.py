"""Dispatch stage (US-009): how a keyed command crosses the hot path.

- `composed`: the client's own readable route, one call per stage (`_keyed` -> `_route`
  -> slot hash, slot map, node pick, encoder, submit, redirect check).
- `fused`: one coroutine function generated and compiled when the client's class for
  this stage choice is built (client/fused.py), the way `dataclasses` builds `__init__`:
  the chosen stages' work is spliced into it, so a command crosses one Python frame where
  the composed route crosses about ten.
- `shaped`: `fused`, plus command-shape fast paths: GET, SET without options and the
  other single-key commands of fixed arity get their own generated method whose RESP
  prefix is built once (`*2\\r\\n$3\\r\\nGET\\r\\n...`), so no argument tuple is made and no
  general encoder runs; every other command takes the fused route.
- `native`: `shaped`, its routes in Cython rather than generated Python (once built).

CPython has no inliner; this is its stand-in for the PRD's INLINE pragmas. A variant here
is data (whether the route is generated, which command shapes get a method) and each
connection's send-and-wait (`execute`); the generator is client code (client/fused.py),
since what it generates is the client's route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ..core.commands import set_result
from .contracts import Submit, Writer
from .traits import Traits

__all__ = ["SHAPES", "Composed", "Fused", "Native", "Shape", "Shaped", "fused_execute"]


@dataclass(frozen=True)
class Shape:
    """A command with a method of its own: its name, and how its reply is shaped (None:
    returned as is)."""

    command: bytes
    result: Callable[[Any], Any] | None = None


# Command methods with a shaped fast path. Single-key commands of fixed arity, and SET,
# whose plain form (no options) is shaped and whose options take the general method; its
# reply goes through the function the general method uses.
SHAPES: Mapping[str, Shape] = {
    "get": Shape(b"GET"),
    "set": Shape(b"SET", set_result),
    "incr": Shape(b"INCR"),
    "incrby": Shape(b"INCRBY"),
    "decr": Shape(b"DECR"),
    "decrby": Shape(b"DECRBY"),
    "ttl": Shape(b"TTL"),
    "pttl": Shape(b"PTTL"),
    "hget": Shape(b"HGET"),
}


class Composed:
    """The client's own route, one call per stage; each connection's `execute` is its
    submit stage's `call`, which calls the writer stage's `send`."""

    TRAITS: ClassVar[Traits] = Traits(runs=())  # builds routes once; nothing of it runs per command

    fused: ClassVar[bool] = False
    native: ClassVar[bool] = False  # the routes are native/hotpath.pyx's, not generated
    shapes: ClassVar[Mapping[str, Shape]] = {}

    def execute(self, submit: Submit, writer: Writer) -> Callable[[bytes], Any]:
        return submit.call


class Fused(Composed):
    """One generated coroutine for every keyed command; per connection, submit and writer
    fused into one `execute` where the pair has a fused form."""

    fused = True

    def execute(self, submit: Submit, writer: Writer) -> Callable[[bytes], Any]:
        return fused_execute(submit, writer) or submit.call


class Shaped(Fused):
    """`Fused`, plus a generated method per command shape in `SHAPES`."""

    shapes = SHAPES


class Native(Shaped):
    """`Shaped`, with the keyed route and the shaped methods written once in Cython
    (native/hotpath.pyx's `NativeRoutes`) instead of generated as Python: each command is
    one Cython coroutine, its RESP built in C from the prebuilt prefix. In the table once
    the native variants are built."""

    native = True


def fused_execute(submit: Submit, writer: Writer) -> Callable[[bytes], Any] | None:
    """The submit variant's fused form with this writer, if it has one (it lives beside
    the submit class, whose internals it reads: `PooledFutureSubmit.fused_execute`)."""
    fuse = getattr(submit, "fused_execute", None)
    return fuse(writer) if fuse is not None else None
