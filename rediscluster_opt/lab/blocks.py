"""Blocks of a rendered document: the text between `<!-- rcopt:NAME -->` and
`<!-- /rcopt:NAME -->`, which a renderer of NAME's kind writes (lab/docs.py lists them).
The run summary writes one too (its staleness line), so this sits below both."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

__all__ = ["STALENESS", "Block", "render_blocks", "without_blocks"]


@dataclass(frozen=True)
class Block:
    """A named block of a document; its text comes from the renderer of its kind."""

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
# A marker in backticks is a document talking about markers, not a block.
_BLOCK = re.compile(r"(?<!`)<!-- rcopt:(\S+?) -->(.*?)<!-- /rcopt:\1 -->", re.S)


def render_blocks(text: str, renderers: Mapping[str, Callable[..., str]]) -> tuple[str, list[str]]:
    """`text` with every block's content renewed by the renderer of its kind (the name's
    part before the first colon; the rest, split at colons, are its arguments); also the
    names of the blocks no renderer knows."""
    unknown: list[str] = []

    def renew(found: re.Match[str]) -> str:
        kind, *arguments = found[1].split(":")
        if kind not in renderers:
            unknown.append(found[1])
            return found[0]
        return Block(found[1]).wrap(renderers[kind](*arguments))

    return _BLOCK.sub(renew, text), unknown


def without_blocks(text: str) -> str:
    """`text` with every block taken out: what nothing renders."""
    return _BLOCK.sub("", text)
