"""What a variant says about itself, kept on the variant next to the code it restates:
the source the fused route splices in for it, and the functions of it that run on the hot
path (for the line profiler and the in-process cost breakdown).

    class FlatSlotMap:
        TRAITS: ClassVar[Traits] = Traits(inline="address = slot_map._table[slot]", runs=("lookup",))

    @describes(inline="...")
    def encode_hiredis(args): ...

A class says it with a class attribute, not a class decorator: the compiled build (mypyc)
compiles a decorated class as a plain Python class, which is slower and may not subclass a
compiled one. A function variant uses `describes`, which keeps its traits in a table beside
it rather than on it (a compiled function takes no attributes).

`inline` uses the fused route's local names (see `client.fused.ROUTE`): `key` (bytes)
-> `slot` -> `address` -> `mux`, and `$args` -> `payload` for an encoder; `slot_map` and
`selector` are the client's stage objects, `slot_of` the slot-hash variant itself. A variant with
no `inline` is called as a function by the fused route. A snippet may read the variant's
attributes (`slot_map._table`, `selector._single`): the route reads them afresh per
command, which is right only because such a variant replaces them whole on change
(copy-on-write) and never mutates them in place. `runs` names its methods that
run per command ("" for a function variant itself).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = ["Traits", "describes", "hot_functions", "hot_names", "runs", "traits_of"]

F = TypeVar("F")
_OF_FUNCTIONS: dict[object, Traits] = {}


@dataclass(frozen=True)
class Traits:
    inline: str = ""  # source for the fused route; "" when the route calls the variant
    runs: tuple[str, ...] = ("",)  # its per-command functions: method names, "" for itself

    def __post_init__(self) -> None:
        object.__setattr__(self, "inline", textwrap.dedent(self.inline).strip())


def describes(*, inline: str = "", runs: tuple[str, ...] = ("",)) -> Callable[[F], F]:
    """Record `Traits` for a function variant, which is returned unchanged."""

    def mark(variant: F) -> F:
        _OF_FUNCTIONS[variant] = Traits(inline, runs)
        return variant

    return mark


def traits_of(variant: object) -> Traits:
    """A variant's traits; a variant that declares none runs as itself and is called."""
    found = getattr(variant, "TRAITS", None)
    if isinstance(found, Traits):
        return found
    try:
        return _OF_FUNCTIONS.get(variant, Traits())
    except TypeError:  # an unhashable variant declares nothing
        return Traits()


def runs(variant: object) -> list[Any]:
    """The functions of `variant` that run per command, as its traits name them."""
    return [getattr(variant, name) if name else variant for name in traits_of(variant).runs]


def hot_names(registry: Mapping[str, Mapping[str, object]]) -> Iterator[str]:
    """The dotted name of every function a registered variant runs per command, named by
    the class that defines it (a compiled method knows neither its module nor, if a
    coroutine, its qualified name, so the names are read from the classes)."""
    for variants in registry.values():
        for variant in variants.values():
            for name in traits_of(variant).runs:
                if not name:
                    yield f"{variant.__module__}.{getattr(variant, '__qualname__', '')}"
                    continue
                owner = next(c for c in getattr(variant, "__mro__", ()) if name in vars(c))
                yield f"{owner.__module__}.{owner.__qualname__}.{name}"


def hot_functions(registry: Mapping[str, Mapping[str, object]]) -> Iterator[tuple[str, Any]]:
    """(stage, function) for every function a registered variant runs per command."""
    for stage, variants in registry.items():
        for variant in variants.values():
            for function in runs(variant):
                yield stage, function
