"""The product's claims in plain words, each decided by one criterion of a story (the
story module says which: `Story.claims`). The README's first table (`rcopt docs`, the
`claims` block) says, for each, what the committed reference says: supported, contradicted,
or left open, with its threshold and figure. A new reference can turn a claim from open to
supported (or back) without a word of the README changing by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["STANDING", "Claim", "claims", "standing"]


@dataclass(frozen=True)
class Claim:
    words: str
    story: str
    metric: str


def claims() -> list[Claim]:
    """Every story's claims, in story order."""
    from .registry import stories

    return [
        Claim(words, story.id, metric)
        for story in stories().values()
        for words, metric in story.claims.items()
    ]


# What a verdict says of a claim, in plain words.
STANDING = {
    "met": "supported",
    "NOT met": "contradicted",
    "inconclusive": "open: the interval straddles the threshold",
    "indicative": "open: too few pairs to count",
    "equivalent": "open: within the A/A band of no change",
    "holds before too": "supported, though the configuration before the change held it too",
}


def standing(verdict: str | None) -> str:
    """A verdict as the claims table words it (None: the story is not in the reference)."""
    if verdict is None:
        return "not measured in this reference"
    return STANDING.get(verdict, verdict)
