"""The headline ratios, measured again in runs of their own (`rcopt headline`).

The README leads with a few ratios: the optimized preset over the baseline, over
valkey-glide and redis-py, over the bare multiplexer (`calibration:bare`), and cluster over
standalone; the native preset over the optimized one and over the bare multiplexer; and the
redis-py drop-in (`compat`) over the native API it wraps. A within-run interval says how
sure one run is; it says nothing of how the figure moves from run to run on the same code,
which on a shared machine is the larger doubt. `rcopt headline` runs those arms alone (one
interleaved client benchmark, the same workload as the stories'), saves the record, and
writes a history entry of kind "headline" at the commit it ran at; run it at separate
times, and the documents show, for each ratio, the reference's within-run interval, the
spread of the separate runs, and the same ratio as the other stories measured it, side by
side.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.adapters import ClientConfig
from ..bench.runner import run_benchmark
from ..bench.workload import Workload
from ..results import Interval, paired_ratio, save_record
from ..results.history import SCHEMA, load_entries, machine_of, write_entry
from ..results.stability import machine_state
from .parameters import Parameters

__all__ = [
    "HEADLINES",
    "KIND",
    "Headline",
    "headline_entry",
    "headline_figures",
    "measure",
    "measured_in",
    "run_headline",
    "spread",
]

KIND = "headline"
STORY = "headline"  # the history's story name for these entries


@dataclass(frozen=True)
class Headline:
    """One ratio: `numerator` over `denominator` in cluster mode (over the numerator in
    standalone mode when `denominator` is "standalone"). Stories that measure the same
    ratio say so (`Story.headlines`), and are shown beside it."""

    name: str
    text: str
    numerator: str
    denominator: str


HEADLINES = (
    Headline("optimized_over_baseline", "optimized / baseline, cluster throughput",
             "optimized", "baseline"),
    Headline("optimized_over_glide", "optimized / valkey-glide, cluster throughput",
             "optimized", "valkey-glide"),
    Headline("optimized_over_redis_py", "optimized / redis-py, cluster throughput",
             "optimized", "redis-py"),
    Headline("optimized_over_bare", "optimized / calibration:bare, cluster throughput",
             "optimized", "calibration:bare"),
    Headline("cluster_over_standalone", "optimized, cluster / standalone throughput",
             "optimized", "standalone"),
    Headline("native_over_optimized", "native / optimized (pure), cluster throughput",
             "native", "optimized"),
    Headline("native_over_bare", "native / calibration:bare, cluster throughput",
             "native", "calibration:bare"),
    Headline("dropin_over_native_api", "redis-py drop-in / native API (optimized), cluster throughput",
             "compat", "optimized"),
)  # fmt: skip


def measured_in(headline: Headline) -> list[tuple[str, str]]:
    """(story, metric) of every story that measures `headline`'s ratio, in story order:
    the first is the reference's within-run figure."""
    from .registry import stories

    return [(story.id, story.headlines[headline.name]) for story in stories().values()
            if headline.name in story.headlines]  # fmt: skip


CONFIGS = ("optimized", "baseline", "redis-py", "valkey-glide", "calibration:bare", "native", "compat")
AA_ARM = "optimized (A/A twin)"


def run_headline(params: Parameters, *, progress: Any = print) -> dict[str, Any]:
    """One run of the headline arms (cluster and standalone, the stories' workload and
    trial length), as a result record; an arm that cannot run here (the native preset
    unbuilt) is left out, and its ratios are recorded as not measured."""
    from .. import native

    names = [name for name in CONFIGS if name != "native" or native.load() is not None]
    configs = [config for name in names if (config := ClientConfig.parse(name)).available()]
    configs.insert(1, ClientConfig("ours", configs[0].stages, name=AA_ARM))
    return run_benchmark(
        configs,
        experiment=KIND,
        target=params.target,
        modes=("cluster", "standalone") if params.standalone else ("cluster",),
        workload=Workload(value_size=params.value_size, key_count=params.key_count),
        concurrency=[64],
        duration=params.duration,
        warmup=params.warmup,
        repeats=params.repeats,
        pin=params.pin,
        parameters={"notebook": params.as_dict()},
        progress=progress,
    )


def headline_figures(record: dict[str, Any]) -> dict[str, Interval | None]:
    """Each headline ratio of one run, paired per repeat, and the A/A control."""
    out: dict[str, Interval | None] = {}
    for headline in HEADLINES:
        if headline.denominator == "standalone":
            out[headline.name] = paired_ratio(record, headline.numerator, headline.numerator,
                                              mode="cluster", denominator_mode="standalone")  # fmt: skip
        else:
            out[headline.name] = paired_ratio(
                record, headline.numerator, headline.denominator, mode="cluster"
            )
    out["aa"] = paired_ratio(record, AA_ARM, "optimized", mode="cluster")
    return out


def headline_entry(record: dict[str, Any]) -> dict[str, Any]:
    """The history entry of one headline run: its ratios as one story's criteria."""
    figures = headline_figures(record)
    control = figures.get("aa")
    metrics = {
        headline.name: {
            "criterion": headline.text,
            "comparison": ">=",
            "threshold": 1,
            "effect": figure.as_dict() if (figure := figures.get(headline.name)) else None,
            "control": control.as_dict() if control else None,
            "verdict": "recorded",
            "lead": headline.name == HEADLINES[0].name,
        }
        for headline in HEADLINES
    }
    env = record["environment"]
    git = env.get("git") or {}
    state = machine_state([record])
    return {
        "schema": SCHEMA,
        "kind": KIND,
        "mode": "default",
        "commit": git.get("commit"),
        "dirty": git.get("dirty"),
        "created": record["created"],
        "machine": machine_of(env),
        "python": env.get("python"),
        "wall_s": None,
        "failed": {},
        "stories": {
            STORY: {
                "title": "the headline ratios, a run of their own",
                "metrics": metrics,
                "machine": {"state": state.text(), "quiet": state.quiet},
            }
        },  # fmt: skip
    }


def measure(params: Parameters, results: Path, history: Path) -> tuple[Path, Path]:
    """Run once, save the record in `results` and the entry in `history`."""
    started = time.monotonic()
    record = run_headline(params)
    record_path = save_record(record, results)
    entry = headline_entry(record)
    entry["wall_s"] = round(time.monotonic() - started, 1)
    return record_path, write_entry(entry, history)


def spread(history: Path, commit: str, name: str, also: Sequence[float] = ()) -> tuple[Interval | None, int]:
    """The separate runs' medians of one headline ratio at `commit`, with `also` (the
    reference's own), as median [min–max] with their count (quiet runs only: a
    contaminated run says nothing of the spread)."""
    medians = list(also)
    for entry in load_entries(history):
        if entry.get("kind") != KIND or not (entry.get("commit") or "").startswith(commit):
            continue
        story = entry["stories"].get(STORY) or {}
        if not (story.get("machine") or {}).get("quiet", True):
            continue
        effect = Interval.from_dict((story.get("metrics", {}).get(name) or {}).get("effect"))
        if effect is not None:
            medians.append(effect.median)
    if not medians:
        return None, 0
    found = Interval(statistics.median(medians), min(medians), max(medians), len(medians), "runs' medians")
    return found, len(medians)
