"""Notebook parameters: one validated value, so a bad papermill `-p` fails at once with a
message naming the parameter, before any trial starts.

Defaults come from the 'default' run mode in `modes.json`, the one file that says how long
each mode runs; relative result folders are taken from the repository root.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from ..bench.adapters import PEERS, Target
from ..core.address import parse_address
from ..core.url import parse_url, redacted
from ..defaults import SEEDS, STANDALONE
from ..validate import check_number
from ..workspace import adopt_notebook_root, resolve

__all__ = [
    "BENCH",
    "COMMON",
    "NotebookParameterError",
    "Parameters",
    "check_parameters",
    "modes",
    "parameter_names",
]


@cache
def _modes_file() -> dict[str, dict[str, Any]]:
    data = json.loads(resources.files(__package__).joinpath("modes.json").read_text())
    return {name: values for name, values in data.items() if not name.startswith("_")}


def modes() -> dict[str, dict[str, Any]]:
    """Run mode -> every parameter's value (a mode's own values over the default mode's,
    over the local cluster's addresses)."""
    table = _modes_file()
    target = {"seeds": list(SEEDS), "standalone": STANDALONE}
    return {name: {**target, **table["default"], **values} for name, values in table.items()}


def _default(name: str) -> Any:
    value = modes()["default"][name]
    return tuple(value) if isinstance(value, list) else value


class NotebookParameterError(ValueError):
    """A notebook parameter has a wrong type or value; the message names it."""


@dataclass(frozen=True)
class Parameters:
    # The cluster: host:port seeds or a redis(s):// URL (password only as ?password_env=);
    # the local cluster by default. The standalone server likewise; None: none, and the
    # stories skip their standalone comparisons.
    seeds: tuple[str, ...] = _default("seeds")
    standalone: str | None = _default("standalone")
    # Slot migration (US-007) changes the cluster: allowed on the local cluster, elsewhere
    # only when True. None: decide by whether the seeds are the local cluster.
    allow_destructive: bool | None = _default("allow_destructive")
    duration: float = _default("duration")  # measured seconds per client-benchmark trial
    warmup: float = _default("warmup")
    repeats: int = _default("repeats")  # interleaved repeats of every trial (pairs per comparison)
    concurrency: tuple[int, ...] = _default("concurrency")
    connections: tuple[int, ...] = _default("connections")  # US-004's connections-per-node sweep
    value_size: int = _default("value_size")
    key_count: int = _default("key_count")
    peers: tuple[str, ...] = _default("peers")
    rest_duration: float = _default("rest_duration")  # seconds per REST scenario
    rest_warmup: float = _default("rest_warmup")
    rest_repeats: int = _default("rest_repeats")
    rest_scenarios: tuple[str, ...] = _default("rest_scenarios")  # US-008's REST scenarios
    smoke: bool = _default("smoke")  # smallest possible run: checks the notebook, not the numbers
    pin: bool = _default("pin")  # client and servers on disjoint CPUs
    flamegraphs: bool = _default("flamegraphs")  # py-spy flame graphs of before and after
    cachegrind: bool = _default("cachegrind")  # instruction counts of the stage micro-benchmarks
    rerun: bool = _default("rerun")  # False: redraw from the latest saved record, measure nothing
    results_dir: str = _default("results_dir")
    figures_dir: str = _default("figures_dir")
    faults: tuple[str, ...] = _default("faults")  # US-010's faults (lab/instruments/resilience.py FAULTS)
    fault_repeats: int = _default("fault_repeats")  # runs of each fault per client
    flood_commands: int = _default("flood_commands")  # concurrent 100 KB SETs in the write flood

    # The folders are kept as given (relative to the workspace root by default), so records
    # and notebooks carry no machine paths; these resolve them from the root, whatever the cwd.
    @property
    def results_path(self) -> Path:
        return resolve(self.results_dir)

    @property
    def figures_path(self) -> Path:
        return resolve(self.figures_dir)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def target(self) -> Target:
        from ..bench.target import target_from

        return target_from(self.seeds, self.standalone)


# Every story's notebook lists these: where to run, how big a run, where its files go.
COMMON = ("seeds", "standalone", "smoke", "pin", "rerun", "results_dir", "figures_dir")
# What a story that runs the client benchmark (lab.engine.bench) reads besides.
BENCH = ("duration", "warmup", "repeats", "concurrency", "value_size", "key_count", "flamegraphs")


def parameter_names(story_parameters: tuple[str, ...]) -> list[str]:
    """The parameters a story's notebook lists: the common ones and the story's own, in
    the order `Parameters` declares them."""
    wanted = set(COMMON) | set(story_parameters)
    unknown = wanted - {f.name for f in fields(Parameters)}
    if unknown:
        raise NotebookParameterError(f"a story names unknown parameter(s) {', '.join(sorted(unknown))}")
    return [f.name for f in fields(Parameters) if f.name in wanted]


def _fail(name: str, problem: str, value: object) -> NotebookParameterError:
    return NotebookParameterError(f"invalid notebook parameter {name!r}: {problem}, got {value!r}")


def _number(name: str, value: object, integer: bool = False, allow_zero: bool = False) -> Any:
    try:
        checked = check_number(f"{name!r}:", value, integer=integer, allow_zero=allow_zero)
    except ValueError as exc:
        raise NotebookParameterError(f"invalid notebook parameter {exc}") from None
    return checked if integer else float(checked)


def _list(name: str, value: object, item: Any) -> tuple[Any, ...]:
    items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
    if not isinstance(items, (list, tuple)) or not items:
        raise _fail(name, "must be a non-empty list", value)
    return tuple(item(x) for x in items)


def _address(name: str, value: object) -> str:
    try:
        return parse_address(value)  # type: ignore[arg-type]  # parse_address checks the type
    except ValueError as exc:
        raise _fail(name, str(exc), value) from None


def _endpoint(name: str, value: object) -> str:
    """An address, or a URL whose password (if any) comes from an environment variable:
    an executed notebook keeps its parameters, so it must never hold a secret."""
    if not isinstance(value, str) or "://" not in value:
        return _address(name, value)
    try:
        spec = parse_url(value)
    except ValueError as exc:
        raise _fail(name, str(exc), redacted(value)) from None
    if spec.password is not None and spec.password_env is None:
        raise _fail(
            name,
            "a URL parameter must not hold its password (notebooks keep their parameters); "
            "put it in an environment variable and write ?password_env=NAME",
            spec.redacted(),
        )
    return value


def _member(name: str, value: object, choices: Any) -> str:
    """One entry of a list parameter drawn from a registry (peers, faults, scenarios)."""
    if value not in choices:
        raise _fail(name, f"must be a list drawn from {', '.join(choices)}", value)
    return value  # type: ignore[return-value]  # checked against the registry above


def _fault(name: str, value: object) -> str:
    from .instruments.resilience import FAULTS  # the registry lives with the experiment

    return _member(name, value, FAULTS)


def _scenario(name: str, value: object) -> str:
    from ..rest.loadgen import SCENARIOS

    return _member(name, value, SCENARIOS)


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise _fail(name, "must be True or False", value)
    return value


def _folder(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _fail(name, "must be a folder path", value)
    return value


_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "seeds": lambda n, v: _list(n, v, lambda x: _endpoint(n, x)),
    "standalone": lambda n, v: None if v in (None, "") else _endpoint(n, v),
    "allow_destructive": lambda n, v: None if v is None else _flag(n, v),
    "duration": _number,
    "rest_duration": _number,
    "warmup": lambda n, v: _number(n, v, allow_zero=True),
    "rest_warmup": lambda n, v: _number(n, v, allow_zero=True),
    **{
        k: (lambda n, v: _number(n, v, integer=True))
        for k in ("repeats", "rest_repeats", "value_size", "key_count", "fault_repeats", "flood_commands")
    },
    "concurrency": lambda n, v: _list(n, v, lambda x: _number(n, x, integer=True)),
    "connections": lambda n, v: _list(n, v, lambda x: _number(n, x, integer=True)),
    "peers": lambda n, v: () if v in ([], ()) else _list(n, v, lambda x: _member(n, x, PEERS)),
    **{k: _flag for k in ("smoke", "pin", "flamegraphs", "cachegrind", "rerun")},
    "results_dir": _folder,
    "figures_dir": _folder,
    "faults": lambda n, v: () if v in ([], ()) else _list(n, v, lambda x: _fault(n, x)),
    "rest_scenarios": lambda n, v: _list(n, v, lambda x: _scenario(n, x)),
}


def check_parameters(**values: Any) -> Parameters:
    """Validate the notebook's parameters; unknown names are refused too. A notebook
    calls this first, so this is also where its kernel finds the workspace root."""
    adopt_notebook_root()
    known = {f.name for f in fields(Parameters)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NotebookParameterError(
            f"unknown notebook parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return Parameters(**{name: _CHECKS[name](name, value) for name, value in values.items()})
