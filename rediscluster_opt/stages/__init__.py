"""The swappable hot-path stages and the `Stages` value that picks one variant of each.

A variant is chosen once, when a client is built: the hot path then calls plain functions
and bound methods picked up front and never branches on stage names per command.

To add a variant: write it next to its siblings (same interface), register it in
`REGISTRY` below under a new name, and the tests parametrized over `REGISTRY` pick it up.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from types import SimpleNamespace

from . import encoder, node_select, reader, redirect, slot_hash, slot_map, submit, writer

__all__ = ["REGISTRY", "Stages"]

# stage -> {variant name: implementation}.
REGISTRY: dict[str, dict[str, object]] = {
    "slot_hash": {
        "bitwise": slot_hash.slot_bitwise,
        "crc_hqx": slot_hash.slot_crc_hqx,
        "table": slot_hash.slot_table,
    },
    "slot_map": {
        "ranges": slot_map.RangeScanSlotMap,
        "flat": slot_map.FlatSlotMap,
    },
    "encoder": {
        "python": encoder.encode_python,
        "hiredis": encoder.encode_hiredis,
    },
    "submit": {
        "event": submit.EventSubmit,
        "future": submit.FutureSubmit,
        "pooled": submit.PooledFutureSubmit,
    },
    "node_select": {
        "locked": node_select.LockedSelector,
        "lockfree": node_select.LockFreeSelector,
    },
    "writer": {
        "direct": writer.DirectWriter,
        "join": writer.JoinWriter,
        "writelines": writer.WritelinesWriter,
    },
    "parser": {
        "python": reader.python_parser,
        "hiredis": reader.hiredis_parser,
    },
    "reader": {
        "per_reply": reader.PerReplyReader,
        "batch": reader.BatchReader,
    },
    "redirect": {
        "regex": redirect.redirect_regex,
        "first_byte": redirect.redirect_first_byte,
    },
}

# The two presets. "naive"/"baseline" and "optimized" are also accepted per stage as
# aliases for that stage's entry here. The optimized choices are the ones the experiments
# measured fastest on CPython (see README, "Stages").
BASELINE = {
    "slot_hash": "bitwise",
    "slot_map": "ranges",
    "encoder": "python",
    "submit": "event",
    "node_select": "locked",
    "writer": "direct",
    "parser": "python",
    "reader": "per_reply",
    "redirect": "regex",
}
OPTIMIZED = {
    "slot_hash": "crc_hqx",
    "slot_map": "flat",
    "encoder": "hiredis",
    "submit": "pooled",
    "node_select": "lockfree",
    "writer": "join",
    "parser": "hiredis",
    "reader": "batch",
    "redirect": "first_byte",
}
_ALIASES = {"naive": BASELINE, "baseline": BASELINE, "optimized": OPTIMIZED}


@dataclass(frozen=True)
class Stages:
    """One implementation name per hot-path stage. Build with `Stages.baseline()`,
    `Stages.optimized()`, then `.replace(stage=variant)`; unknown names raise ValueError."""

    slot_hash: str = OPTIMIZED["slot_hash"]
    slot_map: str = OPTIMIZED["slot_map"]
    encoder: str = OPTIMIZED["encoder"]
    submit: str = OPTIMIZED["submit"]
    node_select: str = OPTIMIZED["node_select"]
    writer: str = OPTIMIZED["writer"]
    parser: str = OPTIMIZED["parser"]
    reader: str = OPTIMIZED["reader"]
    redirect: str = OPTIMIZED["redirect"]

    def __post_init__(self) -> None:
        for field in fields(self):
            name = getattr(self, field.name)
            variants = REGISTRY[field.name]
            if name in _ALIASES:
                object.__setattr__(self, field.name, _ALIASES[name][field.name])
            elif name not in variants:
                choices = ", ".join([*variants, *_ALIASES])
                raise ValueError(
                    f"unknown implementation {name!r} for stage {field.name!r}; choose one of: {choices}"
                )

    @classmethod
    def baseline(cls) -> Stages:
        return cls(**BASELINE)

    @classmethod
    def optimized(cls) -> Stages:
        return cls(**OPTIMIZED)

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> Stages:
        return cls.optimized().replace(**values)

    def replace(self, **changes: str) -> Stages:
        unknown = sorted(set(changes) - set(REGISTRY))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages are: {', '.join(REGISTRY)}")
        return Stages(**{**asdict(self), **changes})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def label(self) -> str:
        """'baseline', 'optimized', or the shorter of "baseline+<changes>" and
        "optimized+<changes>"."""
        values = self.as_dict()
        candidates = []
        for name, preset in (("baseline", BASELINE), ("optimized", OPTIMIZED)):
            changed = [f"{k}={v}" for k, v in values.items() if preset[k] != v]
            if not changed:
                return name
            candidates.append(f"{name}+" + ",".join(changed))
        return min(candidates, key=len)

    def resolve(self) -> SimpleNamespace:
        """The implementations themselves, looked up once."""
        return SimpleNamespace(**{k: REGISTRY[k][v] for k, v in self.as_dict().items()})
