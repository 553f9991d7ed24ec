"""Notebook parameters: one validated value, so a bad papermill `-p` fails at once with a
message naming the parameter, before any trial starts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ..bench.adapters import CLIENTS
from ..core.address import parse_address

__all__ = ["NotebookParameterError", "Parameters", "check_parameters"]

PEERS = tuple(c for c in CLIENTS if c != "ours")


class NotebookParameterError(ValueError):
    """A notebook parameter has a wrong type or value; the message names it."""


@dataclass(frozen=True)
class Parameters:
    seeds: tuple[str, ...] = ("127.0.0.1:7000",)  # an existing cluster's seeds work too
    standalone: str | None = "127.0.0.1:7100"
    duration: float = 3.0  # measured seconds per client-benchmark trial
    warmup: float = 1.0
    repeats: int = 3  # interleaved repeats of every trial
    concurrency: tuple[int, ...] = (64,)
    connections: tuple[int, ...] = (1, 2, 4)  # US-004's connections-per-node sweep
    value_size: int = 200
    key_count: int = 10_000
    peers: tuple[str, ...] = PEERS
    rest_duration: float = 10.0  # seconds per REST scenario
    rest_warmup: float = 2.0
    micro_repeats: int = 5
    smoke: bool = False  # smallest possible run: checks the notebook, not the numbers
    results_dir: str = "results/cluster"
    figures_dir: str = "results/figures"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _fail(name: str, problem: str, value: object) -> NotebookParameterError:
    return NotebookParameterError(f"invalid notebook parameter {name!r}: {problem}, got {value!r}")


def _positive_number(name: str, value: object, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(name, "must be a number", value)
    if value < 0 or (value == 0 and not allow_zero):
        raise _fail(name, "must be positive" if not allow_zero else "must be >= 0", value)
    return float(value)


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(name, "must be a positive integer", value)
    return value


def _int_list(name: str, value: object) -> tuple[int, ...]:
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise _fail(name, "must be a non-empty list of positive integers", value)
    return tuple(_positive_int(name, item) for item in items)


def check_parameters(**values: Any) -> Parameters:
    """Validate the notebook's parameters; unknown names are refused too."""
    known = {f.name for f in fields(Parameters)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NotebookParameterError(
            f"unknown notebook parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    checked: dict[str, Any] = {}
    for name, value in values.items():
        if name == "seeds":
            seeds = [value] if isinstance(value, str) else value
            if not isinstance(seeds, (list, tuple)) or not seeds:
                raise _fail(name, "must be a list of 'host:port' strings", value)
            try:
                checked[name] = tuple(parse_address(s) for s in seeds)
            except ValueError as exc:
                raise _fail(name, str(exc), value) from None
        elif name == "standalone":
            try:
                checked[name] = None if value in (None, "") else parse_address(value)
            except ValueError as exc:
                raise _fail(name, str(exc), value) from None
        elif name in ("duration", "rest_duration"):
            checked[name] = _positive_number(name, value)
        elif name in ("warmup", "rest_warmup"):
            checked[name] = _positive_number(name, value, allow_zero=True)
        elif name in ("repeats", "value_size", "key_count", "micro_repeats"):
            checked[name] = _positive_int(name, value)
        elif name in ("concurrency", "connections"):
            checked[name] = _int_list(name, value)
        elif name == "peers":
            peers = [value] if isinstance(value, str) else value
            if not isinstance(peers, (list, tuple)) or any(p not in PEERS for p in peers):
                raise _fail(name, f"must be a list drawn from {', '.join(PEERS)}", value)
            checked[name] = tuple(peers)
        elif name == "smoke":
            if not isinstance(value, bool):
                raise _fail(name, "must be True or False", value)
            checked[name] = value
        else:  # results_dir, figures_dir
            if not isinstance(value, str) or not value:
                raise _fail(name, "must be a folder path", value)
            checked[name] = value
    return Parameters(**checked)
