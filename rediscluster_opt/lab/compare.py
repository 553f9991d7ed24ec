"""The stage-story pattern: a story that switches stages compares them both ways.

- isolated: the baseline with only this story's stages switched to optimized;
- cumulative: the previous stage story's configuration, before and after adding this
  story's stages. After the last stage story the cumulative configuration is
  `Stages.optimized()`.

Every comparison also runs its "before" configuration a second time under another name,
the A/A twin. The twin's paired ratio to "before" is the run's own noise floor, and every
throughput or CPU verdict is judged against it. `compare_stages` runs all of it and
returns a `StageComparison`; the story adds its own figures to `measured`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bench.adapters import ClientConfig
from ..results import Interval, interval, paired_ratio
from ..stages import OPTIMIZED, Stages
from .engine import bench, cprofiles, headline_level, micro_figures, profiles
from .parameters import Parameters
from .registry import stage_stories
from .story import (
    AA,
    CPU_AA,
    CPU_GAIN,
    PROFILE_SHARE,
    THROUGHPUT_AA,
    THROUGHPUT_GAIN,
    THROUGHPUT_ISOLATED,
    Story,
)

__all__ = [
    "StageComparison",
    "compare_stages",
    "cumulative_stages",
    "gain_metrics",
    "ordered",
    "previous_stages",
    "roles",
    "share_ratio",
]


def cumulative_stages(story: Story) -> Stages:
    """Baseline plus the optimized stages of every stage story up to and including this one."""
    stages = Stages.baseline()
    for each in stage_stories():
        stages = stages.replace(**{name: OPTIMIZED[name] for name in each.stages})
        if each.id == story.id:
            break
    return stages


def previous_stages(story: Story) -> Stages:
    """The cumulative configuration of the stage story before this one (the baseline for the first)."""
    order = stage_stories()
    index = [s.id for s in order].index(story.id)
    return cumulative_stages(order[index - 1]) if index else Stages.baseline()


def roles(story: Story) -> dict[str, ClientConfig]:
    """role -> configuration; roles whose stages coincide share one configuration, except
    the A/A twin, which is always a second arm of "cumulative before"."""
    wanted = {
        "cumulative before": previous_stages(story),
        "cumulative after": cumulative_stages(story),
        "baseline": Stages.baseline(),
        "isolated": Stages.baseline().replace(**{n: OPTIMIZED[n] for n in story.stages}),
    }
    by_stages: dict[Stages, ClientConfig] = {}
    found = {}
    for role, stages in wanted.items():
        if stages not in by_stages:
            by_stages[stages] = ClientConfig("ours", stages.as_dict(), name=role)
        found[role] = by_stages[stages]
    found[AA] = ClientConfig(
        "ours", wanted["cumulative before"].as_dict(), name=f"{found['cumulative before'].label} ({AA})"
    )
    return found


def ordered(found: dict[str, ClientConfig], extra: list[ClientConfig] | None = None) -> list[ClientConfig]:
    """before, A/A twin, after, then the rest: the three compared most sit side by side."""
    first = [found["cumulative before"], found[AA], found["cumulative after"]]
    rest = [*found.values(), *(extra or [])]
    return list({c.label: c for c in [*first, *rest]}.values())


def gain_metrics(
    record: dict[str, Any], names: dict[str, str], level: int, mode: str = "cluster"
) -> dict[str, Interval | None]:
    """The metrics of `story.gain_criteria`: after / before and the A/A twin / before, in
    throughput and CPU per op, and isolated / baseline (when the story has both roles)."""
    where: dict[str, Any] = {"mode": mode, "concurrency": level}
    before, after, twin = names["cumulative before"], names["cumulative after"], names[AA]
    return {
        THROUGHPUT_GAIN: paired_ratio(record, after, before, **where),
        THROUGHPUT_AA: paired_ratio(record, twin, before, **where),
        CPU_GAIN: paired_ratio(record, after, before, "cpu_us_per_op", **where),
        CPU_AA: paired_ratio(record, twin, before, "cpu_us_per_op", **where),
        THROUGHPUT_ISOLATED: paired_ratio(record, names["isolated"], names["baseline"], **where)
        if names.get("isolated") and names.get("baseline")
        else None,
    }


def _profile_share(profile: dict[str, Any], label: str, functions: tuple[str, ...]) -> list[float]:
    """Per profiled trial: the summed own-time share of the functions named."""
    return [
        sum(r["own_share"] for r in t["profile"]["top"] if r["function"] in functions)
        for t in cprofiles(profile, label)
    ]


def share_ratio(
    profile: dict[str, Any], names: dict[str, str], functions: tuple[str, ...]
) -> Interval | None:
    """The profile share of `functions`, after / before, paired by profiled trial."""
    before = _profile_share(profile, names["cumulative before"], functions)
    after = _profile_share(profile, names["cumulative after"], functions)
    return interval([a / b for a, b in zip(after, before, strict=False) if b])


@dataclass
class StageComparison:
    """What `compare_stages` measured: role -> configuration label (`names`), the client
    benchmark and profile records, the gain and profile-share figures (`measured`, to
    which the story adds its own), and the micro-benchmark data when cases were given."""

    names: dict[str, str]
    record: dict[str, Any]
    profile: dict[str, Any]
    measured: dict[str, Interval | None]
    micro: dict[str, Any] = field(default_factory=dict)
    level: int = 64  # the concurrency verdicts are read at

    def ratio(self, numerator: str, denominator: str, metric: str = "ops_per_s") -> Interval | None:
        """A paired ratio of two configurations (by label) at the verdicts' concurrency."""
        return paired_ratio(self.record, numerator, denominator, metric, concurrency=self.level)

    @property
    def after(self) -> str:
        return self.names["cumulative after"]

    @property
    def before(self) -> str:
        return self.names["cumulative before"]


def compare_stages(
    story: Story,
    params: Parameters,
    extra_configs: list[ClientConfig] | None = None,
    micro_cases: list[str] | None = None,
) -> StageComparison:
    """The stage story's comparison: every role and `extra_configs` interleaved against the
    servers, cProfile/line_profiler of before and after, and the micro-benchmark cases."""
    found = roles(story)
    record = bench(params, ordered(found, extra_configs), story.id)
    profile = profiles(params, story, [found["cumulative before"], found["cumulative after"]])
    names = {role: config.label for role, config in found.items()}
    level = headline_level(params.concurrency)
    measured = {
        **gain_metrics(record, names, level),
        PROFILE_SHARE: share_ratio(profile, names, story.share_functions),
    }
    data = micro_figures(params, micro_cases) if micro_cases else {}
    return StageComparison(names, record, profile, measured, data, level)
