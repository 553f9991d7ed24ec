"""What a closed-loop trial does: which commands, on which keys, with which values.

Values are derived from the key index, so every GET reply can be checked exactly, even
while other tasks SET the same keys (they write the same bytes)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from ..defaults import KEY_PREFIX
from ..validate import check_number

__all__ = ["KINDS", "Workload"]

KINDS = ("get", "set", "mixed")  # mixed: 80 % GET, 20 % SET, the PRD's bench mix


@dataclass(frozen=True)
class Workload:
    kind: str = "get"
    value_size: int = 200
    key_count: int = 10_000
    key_prefix: str = f"{KEY_PREFIX}bench:"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown workload {self.kind!r}; choose one of: {', '.join(KINDS)}")
        for name in ("value_size", "key_count"):
            check_number(f"workload {name}", getattr(self, name), integer=True)

    def key(self, index: int) -> bytes:
        return f"{self.key_prefix}{index}".encode()

    def value(self, index: int) -> bytes:
        stem = b"%d|" % index
        return (stem * (self.value_size // len(stem) + 1))[: self.value_size]

    @cached_property
    def keys_and_values(self) -> tuple[list[bytes], list[bytes]]:
        """Every key and its value, in index order: made once per workload, for the plans
        of every task and for what stands in for a server's keyspace (bench/loopfloor.py)."""
        return [self.key(i) for i in range(self.key_count)], [self.value(i) for i in range(self.key_count)]

    def operations(self, seed: int, length: int = 4096) -> Iterator[tuple[bool, bytes, bytes]]:
        """Endless (is_get, key, expected_value) triples for one task: a seeded random
        plan of `length` operations, precomputed and cycled, so drawing the next one
        costs the benchmark loop next to nothing."""
        rng = random.Random(seed)
        keys, values = self.keys_and_values
        # choices() draws every index in one call. A trial process draws a plan per task
        # before it starts: at C=32, randrange() per operation took 0.15 s of a 0.65 s
        # quick trial, choices() takes 0.06 s.
        indexes = rng.choices(range(self.key_count), k=length)
        if self.kind == "mixed":
            gets: Iterable[bool] = [rng.random() < 0.8 for _ in range(length)]
        else:
            gets = itertools.repeat(self.kind == "get")
        plan = [(g, keys[i], values[i]) for i, g in zip(indexes, gets, strict=False)]  # gets may be endless
        return itertools.cycle(plan)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
