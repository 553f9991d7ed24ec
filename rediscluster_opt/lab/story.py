"""What a story is: its declaration (`Story`, written in its own module under
`experiments/`) and one run of it (`StoryRun`, what the notebook draws from).

A story module holds everything that is only that story's: id, slug, title, introduction,
criteria and the metric names they read (module constants its runner fills), its runner,
its figures, the notebook sections it adds and the parameters it uses. The engine
(`lab.engine`, `lab.compare`, `lab.presentation`) serves every story alike and
never names one; `lab.registry` finds the modules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bench.profiling import HOT_PATH
from ..results import Interval
from .criteria import Criterion, Recorded, evaluate, recorded

if TYPE_CHECKING:
    from .parameters import Parameters

__all__ = [
    "AA",
    "NEGLIGIBLE",
    "PRD",
    "TARGET",
    "Cell",
    "Own",
    "Section",
    "Story",
    "StoryRun",
    "exact_criterion",
    "gain_criteria",
    "share_criterion",
]

AA = "A/A twin"
PRD, TARGET = "PRD", "project target"
# The band within which an open question's answer is "it does not matter" (`Criterion`'s
# `equivalence`): a design choice that moves a GET's cost by less than 5 % is not worth a
# switch, and 5 % is about the width of a quiet run's A/A control with nine pairs.
NEGLIGIBLE = 0.05

Cell = tuple[str, str]  # (kind, source): kind is "markdown", "code" or "parameters"
Runner = Callable[["Story", "Parameters"], "StoryRun"]
Figures = Callable[["StoryRun", "Parameters"], list[Path]]


@dataclass(frozen=True)
class Section:
    """A notebook section a story adds to the common shape (after the verdict figures,
    before the micro-benchmark tables): a heading with its text, then code cells. The
    code runs with `nb` (lab.presentation.notebook), `run` and `params` in scope, and may
    add paths to `figures`."""

    markdown: str
    code: tuple[str, ...] = ()


@dataclass(frozen=True)
class Own:
    """A notebook parameter only this story reads: its value per run mode (the "default"
    mode's is the notebook's default and stands in for a mode that names none), the check
    a given value must pass (`lab.parameters` has `integers`, `members`, ...), and the
    comment beside it in the parameters cell. The runner reads it as `params.own[name]`."""

    name: str
    modes: Mapping[str, Any]
    check: Callable[[str, object], Any]
    comment: str = ""

    def value(self, mode: str) -> Any:
        return self.modes.get(mode, self.modes["default"])


@dataclass(frozen=True, eq=False)  # a story is itself: compared and hashed by identity
class Story:
    """One story as its module declares it.

    `run` measures and saves (see `lab.engine`); `figures` draws the figures only this
    story has; `tables` are its own tables by name (`nb.story_table(run, name)` shows one);
    `sections` adds notebook sections; `cells` replaces the common notebook
    shape altogether (a story that is not a speed comparison); `paragraph` replaces the
    generated verdict paragraph; `summary` adds fields to the story's summary for
    summary.md. `parameters` names the notebook parameters the story reads beyond the
    common ones (`lab.parameters.COMMON`)."""

    id: str
    slug: str
    title: str
    intro: str
    run: Runner
    stages: tuple[str, ...] = ()  # the stages it switches (a stage story: see lab.compare)
    line_functions: tuple[str, ...] = tuple(HOT_PATH)
    share_functions: tuple[str, ...] = ()  # bare names whose profile share the PRD wants reduced
    criteria: tuple[Criterion, ...] = ()
    recorded: tuple[Recorded, ...] = ()
    micro_tables: tuple[str, ...] = ()  # presentation.notebook.micro_table names shown in the notebook
    parameters: tuple[str, ...] = ()
    own: tuple[Own, ...] = ()
    figures: Figures | None = None
    tables: Mapping[str, Callable[[StoryRun], Any]] = field(default_factory=dict)
    sections: tuple[Section, ...] = ()
    cells: Callable[[Story], list[Cell]] | None = None
    paragraph: Callable[[StoryRun], str] | None = None
    summary: Callable[[StoryRun], dict[str, Any]] | None = None
    # a headline ratio (lab.headline.HEADLINES' names) -> this story's metric of the same
    # ratio: the documents show the stories that measure one side by side
    headlines: Mapping[str, str] = field(default_factory=dict)
    # a claim the project makes, in plain words -> the criterion's metric that decides it
    # (lab/claims.py: the README's first table says what the reference says of each)
    claims: Mapping[str, str] = field(default_factory=dict)
    # it changes the cluster under other stories' feet (faults, slot moves, other values
    # for the same keys): a smoke run that executes notebooks side by side runs it alone
    exclusive: bool = False

    def metrics(self) -> set[str]:
        """Every metric its criteria and recorded figures read."""
        return {c.metric for c in self.criteria} | {r.metric for r in self.recorded}


@dataclass
class Linked:
    """A record a story record links to (its profiles, its REST run, ...) and where it is."""

    record: dict[str, Any]
    path: Path


@dataclass
class StoryRun:
    """A story's saved record, with the records it links to by kind (`linked`)."""

    story: Story
    record: dict[str, Any]
    path: Path
    linked: dict[str, Linked] = field(default_factory=dict)

    def linked_record(self, kind: str) -> dict[str, Any] | None:
        found = self.linked.get(kind)
        return found.record if found else None

    @property
    def profile_record(self) -> dict[str, Any] | None:
        return self.linked_record("profile")

    @property
    def rest_record(self) -> dict[str, Any] | None:
        return self.linked_record("rest")

    @property
    def extra(self) -> dict[str, Any]:
        return self.record.get("extra", {})  # type: ignore[no-any-return]

    @property
    def measured(self) -> dict[str, Interval | None]:
        return {k: Interval.from_dict(v) for k, v in self.extra.get("measured", {}).items()}

    @property
    def acceptance(self) -> list[dict[str, Any]]:
        """Verdicts from the story's current criteria over the measured figures."""
        return evaluate(self.story.criteria, self.measured, self.extra.get("skipped"))

    @property
    def recorded(self) -> list[dict[str, Any]]:
        return recorded(self.story.recorded, self.measured, self.extra.get("skipped"))

    @property
    def roles(self) -> dict[str, str]:
        return self.extra.get("roles", {})  # type: ignore[no-any-return]


# -- criteria most stories share ------------------------------------------------------------
# The metrics a stage comparison fills (lab.compare.gain_metrics): cumulative after /
# before, its A/A twin / before, and this story's stages alone / the baseline.
THROUGHPUT_GAIN, THROUGHPUT_AA, THROUGHPUT_ISOLATED = (
    "throughput.gain",
    "throughput.aa",
    "throughput.isolated",
)
CPU_GAIN, CPU_AA = "cpu.gain", "cpu.aa"
PROFILE_SHARE = "profile.share"  # lab.compare.share_ratio


def gain_criteria(what: str = "cumulative after / before", isolated: bool = True) -> tuple[Criterion, ...]:
    """Throughput and CPU per op of the cumulative step, each against its A/A control (which
    is also the "before" figure: the twin in place of the after), and this story's stages
    alone against the baseline; `isolated=False` for the first stage story, whose
    cumulative before is the baseline, so the isolated criterion would count it twice."""
    cumulative = (
        Criterion(
            f"cluster throughput, {what}", THROUGHPUT_GAIN, ">=", 1, TARGET, THROUGHPUT_AA, headline=True,
            before=THROUGHPUT_AA, equivalence=NEGLIGIBLE,
        ),
        Criterion(
            f"client CPU per op, {what}", CPU_GAIN, "<=", 1, TARGET, CPU_AA, headline=True, before=CPU_AA,
            equivalence=NEGLIGIBLE,
        ),
    )  # fmt: skip
    if not isolated:
        return cumulative
    alone = Criterion(
        "cluster throughput, isolated / baseline", THROUGHPUT_ISOLATED, ">=", 1, TARGET, THROUGHPUT_AA,
        before=THROUGHPUT_AA, equivalence=NEGLIGIBLE,
    )  # fmt: skip
    return (*cumulative, alone)


def share_criterion(what: str) -> Criterion:
    return Criterion(f"profile share of {what}, after / before (reduced)", PROFILE_SHARE, "<", 1, PRD)


def exact_criterion(
    text: str,
    metric: str,
    comparison: str,
    threshold: float,
    source: str = PRD,
    before: str | None = None,
    unit: str = "ratio",
    needs: str = "",
) -> Criterion:
    """A criterion on a deterministic count or ratio (no A/A noise to clear); instruction
    counts need valgrind's cachegrind. `before`: the same figure for the before variant;
    `needs`: what else the run must include to measure it."""
    needs = ", ".join(p for p in (needs, "cachegrind" if "instructions" in text else "") if p)
    return Criterion(
        text, metric, comparison, threshold, source, fmt="{:.3g}", needs=needs, before=before, unit=unit
    )
