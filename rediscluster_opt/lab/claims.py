"""The product's claims in plain words, each tied to the one criterion of a story that
decides it. The README's first table (`rcopt docs`, the `claims` block) says, for each, what
the committed reference says: supported, contradicted, or left open, with the figure. A
claim's words hold no figure: the reference supplies it, so a new reference can turn a
claim from open to supported (or back) without a word of the README changing by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIMS", "Claim", "standing"]


@dataclass(frozen=True)
class Claim:
    words: str
    story: str
    metric: str


CLAIMS = (
    Claim("The optimized preset serves more cluster GETs per second than the baseline", "US-008",
          "throughput.gain"),
    Claim("It spends less client CPU per GET than the baseline", "US-008", "cpu.gain"),
    Claim("It serves at least 5x valkey-glide's cluster GETs per second", "US-008", "peer.valkey-glide"),
    Claim("It serves at least 10x redis-py's cluster GETs per second", "US-008", "peer.redis-py"),
    Claim("Cluster mode keeps its standalone throughput (within 3 %)", "US-008",
          "ratio.cluster_over_standalone"),
    Claim("The REST app serves more single GETs per second with it than with the baseline", "US-008",
          "rest.get_single.gain"),
    Claim("Under failovers, kills and migrations it returns no wrong value", "US-010", "ours.wrong_values"),
    Claim("Each optimized stage pays inside the preset (the whole preset over the baseline)", "US-019",
          "whole.throughput"),
    Claim("A redis-py user who changes one import keeps at least 5x redis-py's throughput", "US-020",
          "drop_in.over_redis_py.throughput"),
    Claim("The native (Cython) variants take client CPU per GET off the pure preset", "US-021",
          "native.over_pure.cpu.cluster"),
    Claim("The native variants reach 1.5x the bare multiplexer's throughput", "US-021",
          "native.over_bare.throughput.cluster"),
)  # fmt: skip

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
