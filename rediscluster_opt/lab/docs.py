"""Documents rendered from the reference (`rcopt docs`): every measured figure in README.md,
docs/ and the reference's summary.md sits in a block between two markers,
`<!-- rcopt:NAME -->` and `<!-- /rcopt:NAME -->`, whose text a renderer writes from the
reference's records. `rcopt docs` rewrites the blocks; `rcopt docs --check` (and the unit
test) fails when a committed document differs from what the reference renders.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["STALENESS", "Block", "render_blocks"]


@dataclass(frozen=True)
class Block:
    """A named block of a document; its text comes from a renderer of the same name."""

    name: str

    @property
    def opening(self) -> str:
        return f"<!-- rcopt:{self.name} -->"

    @property
    def closing(self) -> str:
        return f"<!-- /rcopt:{self.name} -->"

    def wrap(self, text: str) -> str:
        return f"{self.opening}{text}{self.closing}"


STALENESS = Block("staleness")
_BLOCK = re.compile(r"<!-- rcopt:([\w.-]+) -->(.*?)<!-- /rcopt:\1 -->", re.S)


def render_blocks(text: str, renderers: Mapping[str, Callable[[], str]]) -> tuple[str, list[str]]:
    """`text` with every block's content renewed by its renderer; also the names of the
    blocks no renderer knows (an error: a figure nothing keeps true)."""
    unknown: list[str] = []

    def renew(found: re.Match[str]) -> str:
        name = found[1]
        if name not in renderers:
            unknown.append(name)
            return found[0]
        return Block(name).wrap(renderers[name]())

    return _BLOCK.sub(renew, text), unknown
