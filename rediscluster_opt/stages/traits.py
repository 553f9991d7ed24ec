"""What a variant says about itself, kept on the variant next to the code it restates:
the source the fused route splices in for it, and the functions of it that run on the hot
path (for the line profiler and the in-process cost breakdown).

    @describes(inline="address = slot_map._table[slot]", runs=("lookup",))
    class FlatSlotMap: ...

`inline` uses the fused route's local names (see `stages.dispatch.ROUTE`): `key` (bytes)
-> `slot` -> `address` -> `mux`, and `$args` -> `payload` for an encoder. A variant with
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

__all__ = ["Traits", "describes", "hot_functions", "runs", "traits_of"]

V = TypeVar("V")
_ATTRIBUTE = "__rcopt_traits__"


@dataclass(frozen=True)
class Traits:
    inline: str = ""  # source for the fused route; "" when the route calls the variant
    runs: tuple[str, ...] = ("",)  # its per-command functions: method names, "" for itself


def describes(*, inline: str = "", runs: tuple[str, ...] = ("",)) -> Callable[[V], V]:
    """Attach `Traits` to a variant (a function or a class), unchanged otherwise."""

    def mark(variant: V) -> V:
        setattr(variant, _ATTRIBUTE, Traits(textwrap.dedent(inline).strip(), runs))
        return variant

    return mark


def traits_of(variant: object) -> Traits:
    """A variant's traits; a variant that declares none runs as itself and is called."""
    found = getattr(variant, _ATTRIBUTE, None)
    return found if isinstance(found, Traits) else Traits()


def runs(variant: object) -> list[Any]:
    """The functions of `variant` that run per command, as its traits name them."""
    return [getattr(variant, name) if name else variant for name in traits_of(variant).runs]


def hot_functions(registry: Mapping[str, Mapping[str, object]]) -> Iterator[tuple[str, Any]]:
    """(stage, function) for every function a registered variant runs per command."""
    for stage, variants in registry.items():
        for variant in variants.values():
            for function in runs(variant):
                yield stage, function
