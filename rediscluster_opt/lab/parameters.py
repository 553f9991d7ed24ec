"""Notebook parameters: one validated value, so a bad papermill `-p` fails at once with a
message naming the parameter, before any trial starts.

Defaults come from the 'default' run mode in `modes.json`, the one file that says how long
each mode runs; relative result folders are taken from the repository root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bench.adapters import PEERS, Target
from ..core.address import parse_address
from ..core.url import parse_url, redacted
from ..defaults import SEEDS, STANDALONE
from ..validate import check_number
from ..workspace import adopt_notebook_root, resolve

if TYPE_CHECKING:
    from .story import Story

__all__ = [
    "BENCH",
    "COMMON",
    "NotebookParameterError",
    "Parameters",
    "check_parameters",
    "check_story_parameters",
    "integers",
    "positive_numbers",
    "members",
    "modes",
    "parameter_names",
    "positive_integer",
    "story_values",
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
    value_size: int = _default("value_size")
    key_count: int = _default("key_count")
    peers: tuple[str, ...] = _default("peers")
    rest_duration: float = _default("rest_duration")  # seconds per REST scenario, whole (autocannon's)
    rest_warmup: float = _default("rest_warmup")  # whole seconds too
    rest_repeats: int = _default("rest_repeats")
    smoke: bool = _default("smoke")  # smallest possible run: checks the notebook, not the numbers
    pin: bool = _default("pin")  # client and servers on disjoint CPUs
    flamegraphs: bool = _default("flamegraphs")  # py-spy flame graphs of before and after
    cachegrind: bool = _default("cachegrind")  # instruction counts of the stage micro-benchmarks
    rerun: bool = _default("rerun")  # False: redraw from the latest saved record, measure nothing
    results_dir: str = _default("results_dir")
    figures_dir: str = _default("figures_dir")
    # The parameters only one story reads, by name (`Story.own`: that story's module
    # declares them, with their values per run mode and their check).
    own: Mapping[str, Any] = field(default_factory=dict)

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


def parameter_names(story: Story) -> list[str]:
    """The parameters a story's notebook lists: the common ones and the engine's it reads,
    in the order `Parameters` declares them, then its own (`Story.own`)."""
    wanted = set(COMMON) | set(story.parameters)
    engine = [f.name for f in fields(Parameters) if f.name != "own"]
    unknown = wanted - set(engine)
    if unknown:
        raise NotebookParameterError(f"{story.id} names unknown parameter(s) {', '.join(sorted(unknown))}")
    return [name for name in engine if name in wanted] + [own.name for own in story.own]


def story_values(story: Story, mode: str) -> dict[str, Any]:
    """Each parameter of the story's notebook with its value in run mode `mode`."""
    table = modes()[mode]
    # as JSON gives them (lists, not tuples): papermill passes a tuple on as its text
    own = {o.name: list(v) if isinstance(v := o.value(mode), tuple) else v for o in story.own}
    return {name: own[name] if name in own else table[name] for name in parameter_names(story)}


def check_story_parameters(story: Story, values: Mapping[str, Any]) -> Parameters:
    """Validate a story notebook's parameters (its own ones by its module's checks); a
    name the story does not list is refused."""
    own = {o.name: o for o in story.own}
    unknown = sorted(set(values) - set(parameter_names(story)))
    if unknown:
        raise NotebookParameterError(
            f"unknown notebook parameter(s) {', '.join(unknown)} for {story.id}; "
            f"known: {', '.join(parameter_names(story))}"
        )
    checked = {name: own[name].check(name, value) for name, value in values.items() if name in own}
    engine = {name: value for name, value in values.items() if name not in own}
    return replace(check_parameters(**engine), own=checked)


def _fail(name: str, problem: str, value: object) -> NotebookParameterError:
    return NotebookParameterError(f"invalid notebook parameter {name!r}: {problem}, got {value!r}")


def _number(
    name: str, value: object, integer: bool = False, allow_zero: bool = False, whole: bool = False
) -> Any:
    try:
        checked = check_number(f"{name!r}:", value, integer=integer, allow_zero=allow_zero, whole=whole)
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


def integers(name: str, value: object) -> tuple[int, ...]:
    """A non-empty list of positive integers (a story's own parameter may use it)."""
    return _list(name, value, lambda x: _number(name, x, integer=True))


def positive_numbers(name: str, value: object) -> tuple[float, ...]:
    """A non-empty list of positive numbers (seconds, sizes)."""
    return _list(name, value, lambda x: _number(name, x))


def positive_integer(name: str, value: object) -> int:
    return _number(name, value, integer=True)  # type: ignore[no-any-return]


def members(name: str, value: object, choices: Any, allow_empty: bool = False) -> tuple[str, ...]:
    """A list drawn from a registry (faults, scenarios); empty only where allowed."""
    if allow_empty and value in ([], ()):
        return ()
    return _list(name, value, lambda x: _member(name, x, choices))


def flag(name: str, value: object) -> bool:
    """True or False (a story's own switch may use it)."""
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
    "allow_destructive": lambda n, v: None if v is None else flag(n, v),
    "duration": _number,
    "rest_duration": lambda n, v: _number(n, v, whole=True),  # autocannon runs whole seconds
    "warmup": lambda n, v: _number(n, v, allow_zero=True),
    "rest_warmup": lambda n, v: _number(n, v, allow_zero=True, whole=True),
    **{
        k: (lambda n, v: _number(n, v, integer=True))
        for k in ("repeats", "rest_repeats", "value_size", "key_count")
    },
    "concurrency": integers,
    "peers": lambda n, v: members(n, v, PEERS, allow_empty=True),
    **{k: flag for k in ("smoke", "pin", "flamegraphs", "cachegrind", "rerun")},
    "results_dir": _folder,
    "figures_dir": _folder,
}


def check_parameters(**values: Any) -> Parameters:
    """Validate the notebook's parameters; unknown names are refused too. A notebook
    calls this first, so this is also where its kernel finds the workspace root."""
    adopt_notebook_root()
    known = {f.name for f in fields(Parameters)} - {"own"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise NotebookParameterError(
            f"unknown notebook parameter(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return Parameters(**{name: _CHECKS[name](name, value) for name, value in values.items()})
