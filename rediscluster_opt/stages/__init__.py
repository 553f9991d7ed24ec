"""The swappable hot-path stages and the `Stages` value that picks one variant of each.

A variant is chosen once, when a client is built: the hot path then calls plain functions
and bound methods picked up front and never branches on stage names per command.

To add a variant: write it next to its siblings, to the stage's contract in
`stages/contracts.py` (with its `Traits` from `stages/traits.py` for what the fused
route may splice in and what runs per command), add one line to its stage's table below,
and the tests parametrized over `REGISTRY` (the contract check among them) pick it up.

The delivery stage was called "reader" until 0.2; that name is still accepted, with a
DeprecationWarning, for one release.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from .. import native
from . import delivery, dispatch, encoder, node_select, parser, redirect, slot_hash, slot_map, submit, writer
from .contracts import (
    DeliveryFactory,
    DispatchFactory,
    Encoder,
    Impl,
    NodeSelectorFactory,
    ParserFactory,
    RedirectCheck,
    SlotHash,
    SlotMapFactory,
    SubmitFactory,
    WriterFactory,
)

__all__ = [
    "BASELINE",
    "DELIVERY",
    "DISPATCH",
    "ENCODER",
    "NATIVE",
    "NODE_SELECT",
    "OPTIMIZED",
    "PARSER",
    "REDIRECT",
    "REGISTRY",
    "SLOT_HASH",
    "SLOT_MAP",
    "SUBMIT",
    "WRITER",
    "Impl",
    "Stages",
]

# stage -> {variant name: implementation}. Each stage's table is typed by its contract
# (stages/contracts.py), so mypy --strict checks a variant the moment it is registered;
# tests/unit/test_contracts.py checks the behaviour behind the signature.
SLOT_HASH: dict[str, SlotHash] = {
    "bitwise": slot_hash.slot_bitwise,
    "crc_hqx": slot_hash.slot_crc_hqx,
    "table": slot_hash.slot_table,
}
SLOT_MAP: dict[str, SlotMapFactory] = {
    "ranges": slot_map.RangeScanSlotMap,
    "flat": slot_map.FlatSlotMap,
    "tuple": slot_map.TupleSlotMap,
    "dict": slot_map.DictSlotMap,
    "array": slot_map.ArraySlotMap,
    "bytes": slot_map.BytesSlotMap,
}
ENCODER: dict[str, Encoder] = {
    "python": encoder.encode_python,
    "hiredis": encoder.encode_hiredis,
}
SUBMIT: dict[str, SubmitFactory] = {
    "event": submit.EventSubmit,
    "future": submit.FutureSubmit,
    "pooled": submit.PooledFutureSubmit,
}
NODE_SELECT: dict[str, NodeSelectorFactory] = {
    "locked": node_select.LockedSelector,
    "lockfree": node_select.LockFreeSelector,
}
WRITER: dict[str, WriterFactory] = {
    "direct": writer.DirectWriter,
    "join": writer.JoinWriter,
    "writelines": writer.WritelinesWriter,
}
PARSER: dict[str, ParserFactory] = {
    "python": parser.python_parser,
    "hiredis": parser.hiredis_parser,
}
DELIVERY: dict[str, DeliveryFactory] = {
    "per_reply": delivery.PerReplyDelivery,
    "batch": delivery.BatchDelivery,
}
REDIRECT: dict[str, RedirectCheck] = {
    "regex": redirect.redirect_regex,
    "first_byte": redirect.redirect_first_byte,
}
DISPATCH: dict[str, DispatchFactory] = {
    "composed": dispatch.Composed,
    "fused": dispatch.Fused,
    "shaped": dispatch.Shaped,
}
# The native variants (native/hotpath.pyx, Cython), in the tables once `rcopt build` made
# them for this source: each keeps the contract of the pure variant named beside it.
NATIVE = {
    "slot_hash": "crc_hqx",
    "submit": "pooled",
    "writer": "join",
    "delivery": "batch",
    "dispatch": "shaped",
}
_built = native.load()
if _built is not None:
    SLOT_HASH["native"] = _built.slot_native
    SUBMIT["native"] = _built.NativeSubmit
    WRITER["native"] = _built.NativeWriter
    DELIVERY["native"] = _built.NativeDelivery
    DISPATCH["native"] = dispatch.Native
# Every table by stage name, for choosing by name and listing; resolving a choice reads the
# typed tables themselves (`Stages.resolve`).
REGISTRY: dict[str, Mapping[str, object]] = {  # in Impl's order: one entry per stage
    "slot_hash": SLOT_HASH,
    "slot_map": SLOT_MAP,
    "encoder": ENCODER,
    "submit": SUBMIT,
    "node_select": NODE_SELECT,
    "writer": WRITER,
    "parser": PARSER,
    "delivery": DELIVERY,
    "redirect": REDIRECT,
    "dispatch": DISPATCH,
}

# The two presets. "naive"/"baseline" and "optimized" are also accepted per stage as
# aliases for that stage's entry here. A variant is in the optimized preset when US-019
# (the leave-one-out ablation of this preset, in the committed reference) says it pays
# where it ships, in throughput or CPU per op beyond the A/A band; or when that story's
# KEPT_WITHOUT_A_VERDICT (experiments/us019_ablation.py, beside the verdicts it answers)
# says why it stays without that verdict (tests/unit/test_presets.py checks both against
# the reference).
BASELINE = {
    "slot_hash": "bitwise",
    "slot_map": "ranges",
    "encoder": "python",
    "submit": "event",
    "node_select": "locked",
    "writer": "direct",
    "parser": "python",
    "delivery": "per_reply",
    "redirect": "regex",
    "dispatch": "composed",
}
OPTIMIZED = {
    "slot_hash": "crc_hqx",
    "slot_map": "flat",
    "encoder": "hiredis",
    "submit": "pooled",
    "node_select": "lockfree",
    "writer": "join",
    "parser": "hiredis",
    "delivery": "batch",
    "redirect": "first_byte",
    "dispatch": "shaped",
}
# The optimized preset with the native variants (`Stages.native()`).
NATIVE_PRESET = {**OPTIMIZED, **dict.fromkeys(NATIVE, "native")}
_ALIASES = {"naive": BASELINE, "baseline": BASELINE, "optimized": OPTIMIZED}
_RENAMED = {"reader": "delivery"}  # old stage name -> new, accepted for one release


def _renamed(values: dict[str, Any]) -> dict[str, Any]:
    """`values` with deprecated stage names replaced, warning once per use."""
    out = dict(values)
    for old, new in _RENAMED.items():
        if old in out:
            warnings.warn(
                f"stage {old!r} is now called {new!r}; the old name goes away in the next release",
                DeprecationWarning,
                stacklevel=3,
            )
            out.setdefault(new, out.pop(old))
            out.pop(old, None)
    return out


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
    delivery: str = OPTIMIZED["delivery"]
    redirect: str = OPTIMIZED["redirect"]
    dispatch: str = OPTIMIZED["dispatch"]

    def __post_init__(self) -> None:
        for field in fields(self):
            name = getattr(self, field.name)
            variants = REGISTRY[field.name]
            if name in _ALIASES:
                object.__setattr__(self, field.name, _ALIASES[name][field.name])
            elif name == "native" and field.name in NATIVE and name not in variants:
                raise ValueError(f"{field.name}=native: {native.missing()}")
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
    def native(cls) -> Stages:
        """The optimized preset with every native variant (ValueError until they are built)."""
        return cls(**NATIVE_PRESET)

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> Stages:
        return cls.optimized().replace(**_renamed(values))

    def replace(self, **changes: str) -> Stages:
        changes = _renamed(changes)
        unknown = sorted(set(changes) - set(REGISTRY))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages are: {', '.join(REGISTRY)}")
        return Stages(**{**asdict(self), **changes})

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def label(self) -> str:
        """'baseline', 'optimized', 'native' (once built), or the shortest of
        "<preset>+<changes>"."""
        values = self.as_dict()
        candidates = []
        presets = [("baseline", BASELINE), ("optimized", OPTIMIZED)]
        if _built is not None:
            presets.append(("native", NATIVE_PRESET))
        for name, preset in presets:
            changed = [f"{k}={v}" for k, v in values.items() if preset[k] != v]
            if not changed:
                return name
            candidates.append(f"{name}+" + ",".join(changed))
        return min(candidates, key=len)

    def resolve(self) -> Impl:
        """The implementations themselves, looked up once, each in its own typed table,
        so mypy checks every variant against the stage it fills."""
        return Impl(
            slot_hash=SLOT_HASH[self.slot_hash],
            slot_map=SLOT_MAP[self.slot_map],
            encoder=ENCODER[self.encoder],
            submit=SUBMIT[self.submit],
            node_select=NODE_SELECT[self.node_select],
            writer=WRITER[self.writer],
            parser=PARSER[self.parser],
            delivery=DELIVERY[self.delivery],
            redirect=REDIRECT[self.redirect],
            dispatch=DISPATCH[self.dispatch],
        )
