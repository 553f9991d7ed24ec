"""What every story's runner is built from: client benchmarks and profiles against the
target, micro-benchmarks, the REST benchmark, and saving the story's record with the
records it links to. `run_story` runs a story (its module's `run`); `load_story_run`
reloads its latest saved run for redrawing. Nothing here names a story.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..bench.adapters import ClientConfig
from ..bench.runner import reruns_for, run_benchmark
from ..bench.workload import Workload
from ..localcluster import LocalCluster, default_data_dir
from ..results import (
    Interval,
    interval,
    load_record,
    metric_of,
    paired_ratio,
    repo_relative,
    save_record,
    summarize,
)
from ..workspace import root
from .instruments import micro, perfcases
from .parameters import Parameters
from .registry import story as find_story
from .story import AA, CPU_AA, THROUGHPUT_AA, Linked, Story, StoryRun

__all__ = [
    "LOCAL",
    "NOT_ALLOWED",
    "bench",
    "by_case",
    "cprofiles",
    "destructive_allowed",
    "exact",
    "headline_level",
    "io_values",
    "load_story_run",
    "local_cluster",
    "micro_figures",
    "ops",
    "profiles",
    "ratio_of",
    "rest",
    "run_story",
    "save_run",
    "served",
    "twin",
    "without_standalone",
]

NO_STANDALONE = "a standalone server (standalone=..., STANDALONE= for make)"
NOT_ALLOWED = "--allow-destructive (ALLOW_DESTRUCTIVE=1 for make): it changes a cluster that is not ours"
LOCAL = "the local cluster (rcopt cluster up, the default target)"  # what `local_cluster` finds


def headline_level(levels: Sequence[int]) -> int:
    """The concurrency verdicts are read at: 64 when it was run, else the highest."""
    return 64 if 64 in levels else max(levels)


def served(params: Parameters, modes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in modes if m != "standalone" or params.standalone)


def without_standalone(params: Parameters, metrics: Sequence[str]) -> dict[str, str]:
    """The standalone comparisons a run without a standalone server leaves out, and why."""
    return {} if params.standalone else dict.fromkeys(metrics, f"needs {NO_STANDALONE}")


def local_cluster(params: Parameters) -> LocalCluster | None:
    """The launcher's running cluster when the parameters point at it (plain, no
    credentials): the one cluster the lab may change, signal and restart at will."""
    local = LocalCluster(data_dir=default_data_dir())
    target = params.target
    if target.tls is not None or target.password_env or not set(target.seeds) <= set(local.seeds):
        return None
    return local if local.is_up() else None


def destructive_allowed(params: Parameters) -> bool:
    if params.allow_destructive is not None:
        return params.allow_destructive
    return local_cluster(params) is not None


# -- against the target ---------------------------------------------------------------------
def bench(params: Parameters, configs: list[ClientConfig], experiment: str, **options: Any) -> dict[str, Any]:
    """A client benchmark of `configs` with the notebook's parameters (`options` override
    them); standalone trials only where there is a standalone server."""
    base = {
        "experiment": experiment,
        "target": params.target,
        "modes": ("cluster",),
        "workload": Workload(value_size=params.value_size, key_count=params.key_count),
        "concurrency": params.concurrency,
        "duration": params.duration,
        "warmup": params.warmup,
        "repeats": params.repeats,
        "pin": params.pin,
        "parameters": {"notebook": params.as_dict()},
        "reruns": reruns_for(params.smoke),
    }
    merged = {**base, **options}
    merged["modes"] = served(params, merged["modes"])
    return run_benchmark(configs, **merged)


def profiles(
    params: Parameters, story: Story, configs: list[ClientConfig], modes: tuple[str, ...] = ("cluster",)
) -> dict[str, Any]:
    """cProfile over each config, line_profiler over the last one, and (when
    `flamegraphs`) a py-spy flame graph of each; profiled runs are only compared with
    profiled runs, so they get a record of their own."""
    repeats = 1 if params.smoke else 2
    record = bench(params, configs, f"{story.id}-profile", profile="cprofile", repeats=repeats, modes=modes)
    runs = [
        bench(
            params,
            configs[-1:],
            f"{story.id}-profile",
            profile="line",
            repeats=1,
            modes=modes,
            line_functions=list(story.line_functions),
        )
    ]
    if params.flamegraphs:
        runs.append(
            bench(
                params,
                configs[-1:] if params.smoke else configs,  # a smoke run proves one flame graph
                f"{story.id}-flame",
                profile="pyspy",
                repeats=1,
                modes=modes,
                flame_dir=params.figures_path / "flames",
            )
        )
    for run in runs:
        record["trials"] += [{**t, "index": len(record["trials"]) + i} for i, t in enumerate(run["trials"])]
    record["summary"] = summarize(record)
    return record


def cprofiles(profile: dict[str, Any], label: str) -> list[dict[str, Any]]:
    """The cProfile trials of one configuration."""
    return [
        t
        for t in profile["trials"]
        if t["config"] == label and (t.get("profile") or {}).get("kind") == "cprofile"
    ]


def rest(
    params: Parameters,
    backends: list[ClientConfig],
    experiment: str,
    scenarios: list[str],
    modes: tuple[str, ...],
    **options: Any,
) -> dict[str, Any]:
    """A REST benchmark (rest.runner) with the notebook's REST parameters; `options` go to
    the runner (side arms, standalone scenarios)."""
    from ..rest.runner import run_rest_benchmark

    return run_rest_benchmark(
        backends,
        modes=served(params, modes),
        scenarios=scenarios,
        duration=params.rest_duration,
        warmup=params.rest_warmup,
        repeats=params.rest_repeats,
        experiment=experiment,
        target=params.target,
        parameters={"notebook": params.as_dict()},
        reruns=reruns_for(params.smoke),
        **options,
    )


def twin(config: ClientConfig) -> ClientConfig:
    """`config` as a second arm under another name: the A/A control."""
    return dataclasses.replace(config, name=f"{config.label} ({AA})")


# -- figures from records -------------------------------------------------------------------
def ratio_pair(
    record: dict[str, Any], numerator: str, denominator: str, **where: Any
) -> tuple[Interval | None, Interval | None]:
    """numerator / denominator, paired per repeat: (throughput, client CPU per op)."""
    return (
        paired_ratio(record, numerator, denominator, **where),
        paired_ratio(record, numerator, denominator, "cpu_us_per_op", **where),
    )


def aa_control(record: dict[str, Any], twin: str, config: str, **where: Any) -> dict[str, Interval | None]:
    """The A/A control of configuration `config`: its twin over it, in throughput and in
    CPU per op, under the names the criteria read (THROUGHPUT_AA, CPU_AA)."""
    throughput, cpu = ratio_pair(record, twin, config, **where)
    return {THROUGHPUT_AA: throughput, CPU_AA: cpu}


def exact(value: float | None) -> Interval | None:
    """A deterministic figure (a count, an instruction ratio) as an interval of width 0."""
    return Interval.exact(value) if value is not None else None


def ops(record: dict[str, Any], label: str, mode: str) -> Interval | None:
    values = [
        metric_of(t, "ops_per_s") for t in record["trials"] if t["config"] == label and t["mode"] == mode
    ]
    return interval([v for v in values if v is not None])


def io_values(record: dict[str, Any], label: str, key: str) -> list[float]:
    """One socket counter (writes or reads per command) of each trial of a configuration."""
    return [
        t["io"][key] for t in record["trials"] if t["config"] == label and t.get("io") and t["io"].get(key)
    ]


def by_case(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {r["case"]: r[key] for r in rows}


def wall_ns(wall: dict[str, dict[str, Any]], case: str) -> Interval | None:
    """A micro case's pyperf ns per call (its interval), from the wall rows by case."""
    row = wall.get(case)
    return Interval.from_dict(row["ns"]) if row else None


def ratio_of(values: dict[str, float], numerator: str, denominator: str) -> Interval | None:
    a, b = values.get(numerator), values.get(denominator)
    return Interval.exact(a / b) if a is not None and b else None


# The cases whose instructions are counted: one representative unit of work per variant
# (each count costs two runs under valgrind, about 5 s each).
COUNTED = {"k16", "s0", "s16383", "get16", "cycle", "bulk200", "x1", "x4", "get"}


def micro_figures(params: Parameters, cases: list[str]) -> dict[str, Any]:
    """pyperf wall times, cachegrind instruction counts and hot-path checks of the cases."""
    counted = [c for c in cases if perfcases.CASES[c].param in COUNTED]
    if params.cachegrind:
        instructions = micro.instruction_counts(counted, calls=2_000 if params.smoke else 20_000)
    else:
        instructions = {"rows": [], "skipped": "switched off for this run (cachegrind=False)"}
    return {
        "wall": micro.wall_times(cases, smoke=params.smoke),
        "instructions": instructions,
        # Exact counts: 100 calls see a lock or an allocation as surely as 1000 (the
        # criteria's locks per call and peak bytes agree at both); a smoke run spares the
        # pure-Python CRC16 of a 512-byte key 1000 calls under tracemalloc (6 s).
        "hot_path": micro.hot_path_checks(cases, calls=100 if params.smoke else 1000),
    }


# -- saving and loading a story's run -----------------------------------------------------
def save_run(
    story: Story,
    params: Parameters,
    record: dict[str, Any],
    measured: dict[str, Interval | None],
    *,
    extra: dict[str, Any] | None = None,
    linked: dict[str, dict[str, Any] | None] | None = None,
    skipped: dict[str, str] | None = None,
    standalone_metrics: Sequence[str] = (),
) -> StoryRun:
    """Save the story's record and the records it links to (kind -> record: its profiles,
    its REST run, ...). `skipped`: metric (or prefix) -> why this target left it out;
    `standalone_metrics` are skipped by themselves when there is no standalone server."""
    record["extra"] = {
        "story": story.id,
        "title": story.title,
        **(extra or {}),
        "measured": {k: v.as_dict() for k, v in measured.items() if v is not None},
        # the figures the runner produced no value for (an instrument switched off, such
        # as cachegrind): named, so a metric no runner fills is told apart from these
        "unmeasured": sorted(k for k, v in measured.items() if v is None),
        "skipped": {**without_standalone(params, standalone_metrics), **(skipped or {})},
    }
    run = StoryRun(story, record, Path())
    for kind, linked_record in (linked or {}).items():
        if linked_record is not None:
            run.linked[kind] = Linked(linked_record, save_record(linked_record, params.results_path))
    record["extra"]["records"] = {kind: repo_relative(found.path) for kind, found in run.linked.items()}
    record["extra"]["acceptance"] = run.acceptance
    record["extra"]["recorded"] = run.recorded
    run.path = save_record(record, params.results_path)
    return run


def run_story(story_id: str, params: Parameters) -> StoryRun:
    found = find_story(story_id)
    return found.run(found, params)


def load_story_run(story_id: str, params: Parameters) -> StoryRun:
    """The latest saved run of a story in `params.results_dir` (or, failing that, in the
    committed reference), with the records it links to, for redrawing without
    re-measuring. Raises FileNotFoundError naming where it looked."""
    found = find_story(story_id)
    folders = [params.results_path, root() / "results" / "reference" / "records"]
    for folder in folders:
        paths = sorted(folder.glob(f"*_{story_id}.json"))
        if paths:
            record = load_record(paths[-1])
            run = StoryRun(found, record, paths[-1])
            for kind, path in (record.get("extra", {}).get("records") or {}).items():
                if path:  # older records list every kind, None where the story had none
                    run.linked[kind] = Linked(_load_linked(path, folder), Path(path))
            return run
    raise FileNotFoundError(
        f"no saved run of {story_id} in {' or '.join(str(f) for f in folders)}; "
        "run the notebook with rerun=True first"
    )


def _load_linked(path: str, folder: Path) -> dict[str, Any]:
    """A record a story record links to: at its recorded path, or beside the story record
    (a published reference keeps them together)."""
    candidate = Path(path)
    if not candidate.exists() and not (folder / candidate.name).exists():
        return load_record(path)  # resolved from the repository root, or a clear error
    return load_record(candidate if candidate.exists() else folder / candidate.name)
