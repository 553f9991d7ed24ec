"""Running the stories of `lab.catalogue`: the configurations each one compares, the
figures it measures (effects with intervals, keyed by the names its criteria use), and
the saved records.

Stage stories (US-002..US-007) compare their stages both ways:
- isolated: the baseline with only this story's stages switched to optimized;
- cumulative: the previous story's configuration, before and after adding this story's.
After US-007 the cumulative configuration is `Stages.optimized()`.

Every story also runs its "before" configuration a second time under another name, the
A/A twin. The twin's paired ratio to "before" is the run's own noise floor, and every
throughput or CPU verdict is judged against it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.adapters import ClientConfig
from ..bench.runner import run_benchmark
from ..bench.sync import run_sync
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
from ..stages import OPTIMIZED, Stages
from ..workspace import root
from . import micro, perfcases
from .catalogue import AA, STAGE_STORIES, STORIES, Story
from .criteria import evaluate, recorded
from .migration import migrate_under_load
from .parameters import Parameters
from .tlscost import measured_tls, run_tls_cost

__all__ = [
    "STORIES",
    "Story",
    "StoryRun",
    "cumulative_stages",
    "headline_level",
    "load_story_run",
    "run_story",
]


def cumulative_stages(story_id: str) -> Stages:
    """Baseline plus the optimized stages of every story up to and including this one."""
    stages = Stages.baseline()
    for story in STAGE_STORIES:
        stages = stages.replace(**{name: OPTIMIZED[name] for name in story.stages})
        if story.id == story_id:
            break
    return stages


def previous_stages(story_id: str) -> Stages:
    index = [s.id for s in STAGE_STORIES].index(story_id)
    return cumulative_stages(STAGE_STORIES[index - 1].id) if index else Stages.baseline()


def headline_level(levels: Sequence[int]) -> int:
    """The concurrency verdicts are read at: 64 when it was run, else the highest."""
    return 64 if 64 in levels else max(levels)


# The kinds of record a story record may link to; StoryRun has `<kind>_record` and
# `<kind>_path` for each, and `extra["records"]` names them by kind.
LINKED = ("profile", "rest", "tls", "sweep")


@dataclass
class StoryRun:
    story: Story
    record: dict[str, Any]
    path: Path
    profile_record: dict[str, Any] | None = None
    profile_path: Path | None = None
    rest_record: dict[str, Any] | None = None
    rest_path: Path | None = None
    tls_record: dict[str, Any] | None = None  # US-008's plain vs TLS run
    tls_path: Path | None = None
    sweep_record: dict[str, Any] | None = None  # US-009's concurrency sweep
    sweep_path: Path | None = None

    def linked_paths(self) -> dict[str, Path | None]:
        """The records this story's record links to, by kind."""
        return {kind: getattr(self, f"{kind}_path") for kind in LINKED}

    def link(self, kind: str, record: dict[str, Any], path: Path) -> None:
        """Attach a linked record of `kind` (one of LINKED) and where it is saved."""
        setattr(self, f"{kind}_record", record)
        setattr(self, f"{kind}_path", path)

    @property
    def extra(self) -> dict[str, Any]:
        return self.record.get("extra", {})

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
        return self.extra.get("roles", {})


# -- building blocks ----------------------------------------------------------------------
def _roles(story: Story) -> dict[str, ClientConfig]:
    """role -> configuration; roles whose stages coincide share one configuration, except
    the A/A twin, which is always a second arm of "cumulative before"."""
    wanted = {
        "cumulative before": previous_stages(story.id),
        "cumulative after": cumulative_stages(story.id),
        "baseline": Stages.baseline(),
        "isolated": Stages.baseline().replace(**{n: OPTIMIZED[n] for n in story.stages}),
    }
    by_stages: dict[Stages, ClientConfig] = {}
    roles = {}
    for role, stages in wanted.items():
        if stages not in by_stages:
            by_stages[stages] = ClientConfig("ours", stages.as_dict(), name=role)
        roles[role] = by_stages[stages]
    roles[AA] = ClientConfig(
        "ours", wanted["cumulative before"].as_dict(), name=f"{roles['cumulative before'].label} ({AA})"
    )
    return roles


def _ordered(roles: dict[str, ClientConfig], extra: list[ClientConfig] | None = None) -> list[ClientConfig]:
    """before, A/A twin, after, then the rest: the three compared most sit side by side."""
    first = [roles["cumulative before"], roles[AA], roles["cumulative after"]]
    rest = [*roles.values(), *(extra or [])]
    return list({c.label: c for c in [*first, *rest]}.values())


NO_STANDALONE = "a standalone server (standalone=..., STANDALONE= for make)"
STANDALONE_METRICS = (
    "ops.standalone",
    "ratio.cluster_over_standalone",
    "throughput.standalone",
    "rest.get_single.standalone",
    "rest.drop_change",
    "bare.standalone",
)
NOT_ALLOWED = "--allow-destructive (ALLOW_DESTRUCTIVE=1 for make): it changes a cluster that is not ours"


def _no_standalone(params: Parameters) -> dict[str, str]:
    """The standalone comparisons a run without a standalone server leaves out."""
    return {} if params.standalone else dict.fromkeys(STANDALONE_METRICS, f"needs {NO_STANDALONE}")


def _served(params: Parameters, modes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in modes if m != "standalone" or params.standalone)


def local_cluster(params: Parameters) -> LocalCluster | None:
    """The launcher's running cluster when the parameters point at it (plain, no
    credentials): the one cluster the lab may change, signal and restart at will."""
    # The launcher's data folder is relative to where it ran: the repository root, while
    # a notebook kernel runs in notebooks/.
    local = LocalCluster(data_dir=default_data_dir())
    target = params.target
    if target.tls is not None or target.password_env or not set(target.seeds) <= set(local.seeds):
        return None
    return local if local.is_up() else None


def destructive_allowed(params: Parameters) -> bool:
    if params.allow_destructive is not None:
        return params.allow_destructive
    return local_cluster(params) is not None


def _bench(
    params: Parameters, configs: list[ClientConfig], experiment: str, **options: Any
) -> dict[str, Any]:
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
    }
    merged = {**base, **options}
    merged["modes"] = _served(params, merged["modes"])
    return run_benchmark(configs, **merged)


def _profiles(
    params: Parameters, story: Story, configs: list[ClientConfig], modes: tuple[str, ...] = ("cluster",)
) -> dict[str, Any]:
    """cProfile over each config, line_profiler over the last one, and (when
    `flamegraphs`) a py-spy flame graph of each; profiled runs are only compared with
    profiled runs, so they get a record of their own."""
    repeats = 1 if params.smoke else 2
    record = _bench(params, configs, f"{story.id}-profile", profile="cprofile", repeats=repeats, modes=modes)
    runs = [
        _bench(
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
        flames = params.figures_path / "flames"
        runs.append(
            _bench(
                params,
                configs[-1:] if params.smoke else configs,  # a smoke run proves one flame graph
                f"{story.id}-flame",
                profile="pyspy",
                repeats=1,
                modes=modes,
                flame_dir=flames,
            )
        )
    for run in runs:
        record["trials"] += [{**t, "index": len(record["trials"]) + i} for i, t in enumerate(run["trials"])]
    record["summary"] = summarize(record)
    return record


def _cprofiles(profile: dict[str, Any], label: str) -> list[dict[str, Any]]:
    return [
        t
        for t in profile["trials"]
        if t["config"] == label and (t.get("profile") or {}).get("kind") == "cprofile"
    ]


def _profile_share(profile: dict[str, Any], label: str, names: tuple[str, ...]) -> list[float]:
    """Per profiled trial: the summed own-time share of the functions named."""
    return [
        sum(r["own_share"] for r in t["profile"]["top"] if r["function"] in names)
        for t in _cprofiles(profile, label)
    ]


def _share_ratio(
    profile: dict[str, Any], names: dict[str, str], functions: tuple[str, ...]
) -> Interval | None:
    before = _profile_share(profile, names["cumulative before"], functions)
    after = _profile_share(profile, names["cumulative after"], functions)
    ratios = [a / b for a, b in zip(after, before, strict=False) if b]
    return interval(ratios)


def _gain_metrics(
    record: dict[str, Any], names: dict[str, str], level: int, mode: str = "cluster"
) -> dict[str, Any]:
    where = {"mode": mode, "concurrency": level}
    before, after, twin = names["cumulative before"], names["cumulative after"], names[AA]
    return {
        "throughput.gain": paired_ratio(record, after, before, **where),
        "throughput.aa": paired_ratio(record, twin, before, **where),
        "cpu.gain": paired_ratio(record, after, before, "cpu_us_per_op", **where),
        "cpu.aa": paired_ratio(record, twin, before, "cpu_us_per_op", **where),
        "throughput.isolated": paired_ratio(record, names["isolated"], names["baseline"], **where)
        if names.get("isolated") and names.get("baseline")
        else None,
    }


def _exact(value: float | None) -> Interval | None:
    return Interval.exact(value) if value is not None else None


# The cases whose instructions are counted: one representative unit of work per variant
# (each count costs two runs under valgrind, about 5 s each).
COUNTED = {"k16", "s0", "s16383", "get16", "cycle", "bulk200", "x1", "x4"}


def _micro(params: Parameters, cases: list[str]) -> dict[str, Any]:
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


def _by_case(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    return {r["case"]: r[key] for r in rows}


def _ratio_of(values: dict[str, float], numerator: str, denominator: str) -> Interval | None:
    a, b = values.get(numerator), values.get(denominator)
    return Interval.exact(a / b) if a is not None and b else None


def _finish(
    story: Story,
    params: Parameters,
    record: dict[str, Any],
    measured: dict[str, Interval | None],
    extra: dict[str, Any],
    profile: dict | None = None,
    rest: dict | None = None,
    skipped: dict[str, str] | None = None,
    tls: dict | None = None,
    sweep: dict | None = None,
) -> StoryRun:
    """Save the story's records; `skipped`: metric (or prefix) -> why this target left it out."""
    record["extra"] = {
        "story": story.id,
        "title": story.title,
        **extra,
        "measured": {k: v.as_dict() for k, v in measured.items() if v is not None},
        "skipped": {**_no_standalone(params), **(skipped or {})},
    }
    run = StoryRun(story, record, Path())
    for kind, linked in zip(LINKED, (profile, rest, tls, sweep), strict=True):
        if linked is not None:
            run.link(kind, linked, save_record(linked, params.results_path))
    record["extra"]["records"] = {
        kind: repo_relative(path) if path else None for kind, path in run.linked_paths().items()
    }
    record["extra"]["acceptance"] = run.acceptance
    record["extra"]["recorded"] = run.recorded
    run.path = save_record(record, params.results_path)
    return run


# -- stage stories ------------------------------------------------------------------------
def _stage_story(
    story: Story,
    params: Parameters,
    extra_configs: list[ClientConfig] | None = None,
    micro_cases: list[str] | None = None,
) -> tuple:
    roles = _roles(story)
    record = _bench(params, _ordered(roles, extra_configs), story.id)
    profile = _profiles(params, story, [roles["cumulative before"], roles["cumulative after"]])
    names = {role: config.label for role, config in roles.items()}
    measured = {
        **_gain_metrics(record, names, headline_level(params.concurrency)),
        "profile.share": _share_ratio(profile, names, story.share_functions),
    }
    data = _micro(params, micro_cases) if micro_cases else {}
    return names, record, profile, measured, data


def _us002(story: Story, params: Parameters) -> StoryRun:
    lengths = ("k8", "k64", "k512") if params.smoke else ("k8", "k16", "k64", "k256", "k512")
    cases = [c.name for c in perfcases.cases_for("slot_hash") if c.param in lengths]
    cases += [c.name for c in perfcases.cases_for("slot_map")]
    names, record, profile, measured, data = _stage_story(story, params, micro_cases=cases)
    wall = {r["case"]: r for r in data["wall"]}
    crc = wall.get("slot_hash.crc_hqx.k64")
    instructions = _by_case(data["instructions"]["rows"], "instructions_per_call")
    hot = {r["case"]: r for r in data["hot_path"]}
    measured |= {
        "micro.crc_ns": Interval(**crc["ns"]) if crc and crc["ns"] else None,
        "micro.flat_o1": _ratio_of(instructions, "slot_map.flat.s16383", "slot_map.flat.s0"),
        "micro.flat_vs_ranges": _ratio_of(instructions, "slot_map.flat.s16383", "slot_map.ranges.s16383"),
        "hot.slot_map.locks": _exact(hot["slot_map.flat.s16383"]["lock_operations_per_call"]),
        "hot.slot_map.bytes": _exact(hot["slot_map.flat.s16383"]["peak_bytes_allocated"]),
    }
    return _finish(story, params, record, measured, {"roles": names, "micro": data}, profile)


def _us003(story: Story, params: Parameters) -> StoryRun:
    future = ClientConfig(
        "ours",
        cumulative_stages(story.id).replace(submit="future").as_dict(),
        name="cumulative after, submit=future (no pool)",
    )
    cases = [c.name for s in ("encoder", "submit") for c in perfcases.cases_for(s)]
    names, record, profile, measured, data = _stage_story(story, params, [future], cases)
    data["allocations"] = micro.allocations_per_pending_command(pending=500 if params.smoke else 2000)
    blocks = {r["variant"]: r["blocks_per_command"] for r in data["allocations"]}
    instructions = _by_case(data["instructions"]["rows"], "instructions_per_call")
    measured |= {
        "alloc.pooled_vs_event": Interval.exact(blocks["pooled"] / blocks["event"])
        if blocks["event"]
        else None,
        "micro.submit_vs_event": _ratio_of(instructions, "submit.pooled.cycle", "submit.event.cycle"),
        "throughput.pool": paired_ratio(
            record, names["cumulative after"], future.label, concurrency=headline_level(params.concurrency)
        ),
    }
    return _finish(story, params, record, measured, {"roles": names, "micro": data}, profile)


def _us004(story: Story, params: Parameters) -> StoryRun:
    before, after = previous_stages(story.id), cumulative_stages(story.id)
    configs = [
        ClientConfig("ours", stages.as_dict(), connections_per_node=n, name=f"{name} x{n}")
        for n in params.connections
        for name, stages in (("locked", before), ("lock-free", after))
    ]
    twin = ClientConfig(
        "ours",
        before.as_dict(),
        connections_per_node=params.connections[0],
        name=f"locked x{params.connections[0]} ({AA})",
    )
    configs.insert(1, twin)
    record = _bench(params, configs, story.id)
    profile = _profiles(params, story, [configs[0], configs[2]])
    level = headline_level(params.concurrency)
    names = {"cumulative before": configs[0].label, "cumulative after": configs[2].label, AA: twin.label}
    cases = [c.name for c in perfcases.cases_for("node_select")]
    data = _micro(params, cases)
    instructions = _by_case(data["instructions"]["rows"], "instructions_per_call")
    hot = {r["case"]: r for r in data["hot_path"]}
    measured = {
        **_gain_metrics(record, names, level),
        **{
            f"throughput.x{n}": paired_ratio(record, f"lock-free x{n}", f"locked x{n}", concurrency=level)
            for n in params.connections
        },
        "profile.share": _share_ratio(profile, names, story.share_functions),
        "hot.node_select.locks": _exact(hot["node_select.lockfree.x4"]["lock_operations_per_call"]),
        "micro.pick_vs_locked": _ratio_of(instructions, "node_select.lockfree.x4", "node_select.locked.x4"),
    }
    return _finish(story, params, record, measured, {"roles": names, "micro": data}, profile)


def _us005(story: Story, params: Parameters) -> StoryRun:
    writelines = ClientConfig(
        "ours",
        cumulative_stages(story.id).replace(writer="writelines").as_dict(),
        name="cumulative after, writer=writelines",
    )
    names, record, profile, measured, data = _stage_story(story, params, [writelines])
    level = headline_level(params.concurrency)
    per_write = [1 / v for v in _io(record, names["cumulative after"], "writes_per_command") if v]
    measured |= {
        "writes.gain": paired_ratio(
            record,
            names["cumulative after"],
            names["cumulative before"],
            "writes_per_command",
            concurrency=level,
        ),
        "throughput.vectored": paired_ratio(
            record, writelines.label, names["cumulative after"], concurrency=level
        ),
        "io.commands_per_write": interval(per_write),
    }
    return _finish(story, params, record, measured, {"roles": names}, profile)


def _io(record: dict[str, Any], label: str, key: str) -> list[float]:
    return [
        t["io"][key] for t in record["trials"] if t["config"] == label and t.get("io") and t["io"].get(key)
    ]


def _dequeues_per_reply(profile: dict[str, Any], label: str) -> Interval | None:
    """Calls that take replies off the pending queue, per completed command, from the
    cProfile call counts: 1 when each reply is dequeued on its own, less when batched."""
    values = []
    for trial in _cprofiles(profile, label):
        calls = sum(
            r["calls"] for r in trial["profile"]["top"] if r["function"] in ("deliver_one", "deliver_many")
        )
        if trial.get("ops"):
            values.append(calls / trial["ops"])
    return interval(values)


def _us006(story: Story, params: Parameters) -> StoryRun:
    before = previous_stages(story.id)
    mixed = [
        ClientConfig("ours", before.replace(parser=p, delivery=r).as_dict(), name=f"{p} + {r}")
        for p, r in (("python", "batch"), ("hiredis", "per_reply"))
    ]
    cases = [c.name for c in perfcases.cases_for("parser")]
    names, record, profile, measured, data = _stage_story(story, params, mixed, cases)
    level = headline_level(params.concurrency)
    after = names["cumulative after"]
    instructions = _by_case(data["instructions"]["rows"], "instructions_per_call")
    measured |= {
        "io.replies_per_read": interval([1 / v for v in _io(record, after, "reads_per_command") if v]),
        "profile.dequeues_per_reply": _dequeues_per_reply(profile, after),
        "micro.hiredis_vs_python": _ratio_of(instructions, "parser.hiredis.bulk200", "parser.python.bulk200"),
        "throughput.batch": paired_ratio(record, after, "hiredis + per_reply", concurrency=level),
        "throughput.hiredis": paired_ratio(record, after, "python + batch", concurrency=level),
    }
    return _finish(story, params, record, measured, {"roles": names, "micro": data}, profile)


def _migrate(params: Parameters, stages: Stages, workers: int) -> dict[str, Any]:
    return run_sync(lambda: migrate_under_load(params.target, stages, workers=workers))


def _us007(story: Story, params: Parameters) -> StoryRun:
    cases = [c.name for c in perfcases.cases_for("redirect")]
    names, record, profile, measured, data = _stage_story(story, params, micro_cases=cases)
    instructions = _by_case(data["instructions"]["rows"], "instructions_per_call")
    hot = {r["case"]: r for r in data["hot_path"]}
    workers = 8 if params.smoke else 16
    roles = _roles(story)
    allowed = destructive_allowed(params)
    migrations = {
        role: _migrate(params, roles[role].stage_set(), workers)
        for role in ("baseline", "cumulative after")
        if allowed
    }
    after = migrations.get("cumulative after")
    no_redirect = ("bulk200", "nil", "integer")
    measured |= {
        "micro.first_byte_vs_regex": _ratio_of(
            instructions, "redirect.first_byte.bulk200", "redirect.regex.bulk200"
        ),
        "hot.redirect.bytes": _exact(
            max(hot[f"redirect.first_byte.{k}"]["peak_bytes_allocated"] for k in no_redirect)
        ),
    }
    if after is not None:
        measured |= {
            "migration.failures": _exact(sum(m["wrong"] + m["errors"] for m in migrations.values())),
            "migration.ask": _exact(after["ask"]),
            "migration.moved": _exact(after["moved"]),
            "migration.recover_ms": _exact(after["recover_ms"]),
        }
    skipped = {} if allowed else {"migration": f"needs {NOT_ALLOWED}"}
    extra = {"roles": names, "micro": data, "migration": migrations}
    return _finish(story, params, record, measured, extra, profile, skipped=skipped)


# -- US-001 and US-008 ------------------------------------------------------------------
def _rest(
    params: Parameters,
    backends: list[ClientConfig],
    experiment: str,
    scenarios: list[str],
    modes: tuple[str, ...],
) -> dict[str, Any]:
    from ..rest.runner import run_rest_benchmark

    return run_rest_benchmark(
        backends,
        modes=_served(params, modes),
        scenarios=scenarios,
        duration=params.rest_duration,
        warmup=params.rest_warmup,
        repeats=params.rest_repeats,
        experiment=experiment,
        target=params.target,
        parameters={"notebook": params.as_dict()},
    )


def _twin(config: ClientConfig) -> ClientConfig:
    return ClientConfig(
        config.client, config.stages, config.connections_per_node, config.loop, name=f"{config.label} ({AA})"
    )


def _ops(record: dict[str, Any], label: str, mode: str) -> Interval | None:
    return interval(
        [metric_of(t, "ops_per_s") for t in record["trials"] if t["config"] == label and t["mode"] == mode]
    )


def _us001(story: Story, params: Parameters) -> StoryRun:
    baseline = ClientConfig.parse("baseline")
    twin = _twin(baseline)
    record = _bench(params, [baseline, twin], story.id, modes=("cluster", "standalone"))
    profile = _profiles(params, story, [baseline])
    rest = _rest(params, [baseline], f"{story.id}-rest", ["get_single"], ("cluster",))
    level = headline_level(params.concurrency)
    top = [t["profile"]["top"][:5] for t in _cprofiles(profile, baseline.label)]
    lines = [t for t in profile["trials"] if (t.get("profile") or {}).get("kind") == "line"]
    rest_trials = [t for t in rest["trials"] if t.get("status") == "ok" and t.get("valid")]
    measured = {
        "rest.get_single.cluster": interval([t["ops_per_s"] for t in rest_trials]),
        "rest.get_single.cluster.p50": interval([t["latency_us"]["p50"] for t in rest_trials]),
        "ops.cluster": _ops(record, baseline.label, "cluster"),
        "ops.standalone": _ops(record, baseline.label, "standalone"),
        "ratio.cluster_over_standalone": paired_ratio(
            record, baseline.label, baseline.label, concurrency=level, denominator_mode="standalone"
        ),
        "throughput.aa": paired_ratio(record, twin.label, baseline.label, concurrency=level),
        "cpu.aa": paired_ratio(record, twin.label, baseline.label, "cpu_us_per_op", concurrency=level),
        "profile.top5": _exact(float(len(top[0]))) if top else None,
        "profile.line_functions": _exact(
            float(sum(1 for f in lines[0]["profile"]["functions"] if f["total_s"] > 0))
        )
        if lines
        else None,
    }
    roles = {"baseline": baseline.label, AA: twin.label}
    return _finish(
        story, params, record, measured, {"roles": roles, "top5": top[0] if top else []}, profile, rest
    )


def _cost_centre(row: dict[str, Any]) -> str:
    """Where a profile row's time goes: its module for Python code (an optimized variant
    replaces its sibling in the same stage module, under another function name), its name
    for a builtin."""
    location = row["location"].rsplit(":", 1)[0]
    return row.get("qualname", row["function"]) if location in ("~", "") else location


def _new_hotspots(profile: dict[str, Any], before: str, after: str) -> Interval | None:
    """Cost centres in the optimized profile's top 5 (own time) that were outside the
    baseline's top 10, in the median profiled trial."""
    tops_before, tops_after = _cprofiles(profile, before), _cprofiles(profile, after)
    if not tops_before or not tops_after:
        return None
    known = {_cost_centre(r) for t in tops_before for r in t["profile"]["top"][:10]}
    counts = [sum(1 for r in t["profile"]["top"][:5] if _cost_centre(r) not in known) for t in tops_after]
    return Interval.exact(statistics.median(counts))


def _rest_metrics(
    rest: dict[str, Any], optimized: str, baseline: str, twin: str
) -> dict[str, Interval | None]:
    where = {"concurrency": None}
    out: dict[str, Interval | None] = {
        "rest.aa": paired_ratio(rest, twin, baseline, scenario="get_single", **where),
        "rest.get_single.standalone": paired_ratio(
            rest, optimized, baseline, mode="standalone", scenario="get_single", **where
        ),
    }
    for scenario in rest["parameters"]["scenarios"]:
        for key, metric in (("gain", "ops_per_s"), ("p50", "p50_us"), ("p99", "p99_us")):
            out[f"rest.{scenario}.{key}"] = paired_ratio(
                rest, optimized, baseline, metric, scenario=scenario, **where
            )
    drops = {}
    for label in (optimized, baseline):
        pairs = [1 - c / s for c, s in _rest_pairs(rest, label)]
        drops[label] = pairs
    changes = [a - b for a, b in zip(drops[optimized], drops[baseline], strict=False)]
    out["rest.drop_change"] = interval(changes)
    return out


def _rest_pairs(rest: dict[str, Any], label: str) -> list[tuple[float, float]]:
    from ..results import pairs

    return pairs(rest, label, label, scenario="get_single", denominator_mode="standalone")


def _us008(story: Story, params: Parameters) -> StoryRun:
    baseline, optimized = ClientConfig.parse("baseline"), ClientConfig.parse("optimized")
    twin = _twin(optimized)
    peers = [ClientConfig.parse(p) for p in params.peers]
    level = headline_level(params.concurrency)
    record = _bench(params, [baseline, optimized, twin, *peers], story.id, modes=("cluster", "standalone"))
    profile = _profiles(params, story, [baseline, optimized])
    # The REST side compares our presets (and an A/A twin of the baseline) with the peers,
    # valkey-glide the fastest of them; a smoke run keeps to our presets.
    rest_twin = _twin(baseline)
    rest_peers = [] if params.smoke else peers
    backends = [b for b in [baseline, rest_twin, optimized, *rest_peers] if b.available()]
    rest = _rest(params, backends, f"{story.id}-rest", list(params.rest_scenarios), ("standalone", "cluster"))
    where = {"concurrency": level}
    measured = {
        "throughput.gain": paired_ratio(record, optimized.label, baseline.label, **where),
        "cpu.gain": paired_ratio(record, optimized.label, baseline.label, "cpu_us_per_op", **where),
        "throughput.aa": paired_ratio(record, twin.label, optimized.label, **where),
        "cpu.aa": paired_ratio(record, twin.label, optimized.label, "cpu_us_per_op", **where),
        "throughput.standalone": paired_ratio(
            record, optimized.label, baseline.label, mode="standalone", **where
        ),
        "ratio.cluster_over_standalone": paired_ratio(
            record, optimized.label, optimized.label, denominator_mode="standalone", **where
        ),
        **{f"peer.{p.label}": paired_ratio(record, optimized.label, p.label, **where) for p in peers},
        "profile.new_hotspots": _new_hotspots(profile, baseline.label, optimized.label),
        **_rest_metrics(rest, optimized.label, baseline.label, rest_twin.label),
    }
    roles = {
        "baseline": baseline.label,
        "optimized": optimized.label,
        AA: twin.label,
        "REST A/A": rest_twin.label,
    }
    extra = {"roles": roles, "rest_table": rest["summary"]["rest"]}
    local = local_cluster(params)
    tls = run_tls_cost(params, local, level) if local is not None else None
    if tls is not None:
        measured |= measured_tls(tls)
    skipped = {} if tls is not None else {"tls": NEEDS_LOCAL_TLS}
    return _finish(story, params, record, measured, extra, profile, rest, skipped=skipped, tls=tls)


SWEEP = (1, 16, 64, 256)  # US-009's concurrency sweep


def _us009(story: Story, params: Parameters) -> StoryRun:
    """Composed vs fused vs shaped against the servers (both modes, with the bare
    calibration arm and the peers at the headline concurrency), a concurrency sweep, and
    the in-process figures of `lab.inlining`."""
    from . import inlining

    roles = _roles(story)
    after = roles["cumulative after"]
    fused_stages = after.stage_set().replace(dispatch="fused")
    fused = ClientConfig("ours", fused_stages.as_dict(), name="fused (no shapes)")
    bare = ClientConfig.parse(inlining.inprocess.BARE)
    # US-008's smoke run already proves the peers; this one keeps to ours and the bare arm.
    chosen = () if params.smoke else params.peers
    peers = [ClientConfig.parse(p) for p in chosen if p in ("valkey-glide", "redis-py")]
    peers = [p for p in peers if p.available()]
    configs = _ordered(roles, [fused, bare, *peers])
    record = _bench(params, configs, story.id, modes=("cluster", "standalone"))
    level = headline_level(params.concurrency)
    glide = [p for p in peers if p.label == "valkey-glide"]  # the fastest peer; the 2.5x target is at C=16
    sweep_configs = [roles["cumulative before"], roles[AA], after, bare, *glide]
    sweep = _bench(
        params,
        sweep_configs,
        f"{story.id}-sweep",
        concurrency=[16] if params.smoke else list(SWEEP),  # a smoke run proves the pipeline
        repeats=1 if params.smoke else min(params.repeats, 3),
    )
    profile = _profiles(params, story, [roles["cumulative before"], after])
    names = {role: config.label for role, config in roles.items()}
    measured = {
        **_gain_metrics(record, names, level),
        "profile.share": _share_ratio(profile, names, story.share_functions),
        "throughput.shapes": paired_ratio(record, after.label, fused.label, concurrency=level),
    }
    where = {"concurrency": level}
    for mode in ("cluster", "standalone"):
        measured[f"bare.{mode}"] = paired_ratio(record, after.label, bare.label, mode=mode, **where)
    measured["bare.cpu"] = paired_ratio(record, after.label, bare.label, "cpu_us_per_op", **where)
    for peer in peers:
        measured[f"peer.{peer.label}"] = paired_ratio(record, after.label, peer.label, **where)
    sweep_levels = sweep["parameters"]["concurrency"]
    before = roles["cumulative before"].label
    measured["sweep.aa"] = paired_ratio(sweep, roles[AA].label, before, concurrency=16)
    if glide and 16 in sweep_levels:
        measured["peer.valkey-glide.c16"] = paired_ratio(sweep, after.label, "valkey-glide", concurrency=16)
    for c in sweep_levels:
        measured[f"sweep.bare.c{c}"] = paired_ratio(sweep, after.label, bare.label, concurrency=c)
    data = inlining.in_process(params.smoke)
    measured |= inlining.measured_in_process(data)
    roles_shown = {**names, "fused (no shapes)": fused.label, "calibration": bare.label}
    extra = {"roles": roles_shown, "in_process": data}
    return _finish(story, params, record, measured, extra, profile, sweep=sweep)


def _us010(story: Story, params: Parameters) -> StoryRun:
    """The resilience story: faults need servers this machine runs (signals, DEBUG,
    restarts), so against any other target it records no trial and skips every
    criterion, saying why."""
    from .resilience import run_resilience

    local = local_cluster(params)
    if local is None:
        print(f"US-010 skipped: {NEEDS_LOCAL}; the target is {params.target.describe()}")
    record, path = run_resilience(params, main_cluster=local, skipped=NEEDS_LOCAL)
    return StoryRun(story, record, path)


LOCAL = "the local cluster (rcopt cluster up, the default target)"
NEEDS_LOCAL = f"needs {LOCAL}: its faults signal, pause and restart server processes on this machine"
NEEDS_LOCAL_TLS = f"needs {LOCAL} as the plain arm beside the TLS twin it starts"


RUNNERS: dict[str, Callable[[Story, Parameters], StoryRun]] = {
    "US-001": _us001,
    "US-002": _us002,
    "US-003": _us003,
    "US-004": _us004,
    "US-005": _us005,
    "US-006": _us006,
    "US-007": _us007,
    "US-008": _us008,
    "US-009": _us009,
    "US-010": _us010,
}


def run_story(story_id: str, params: Parameters) -> StoryRun:
    if story_id not in STORIES:
        raise ValueError(f"unknown story {story_id!r}; choose one of: {', '.join(STORIES)}")
    return RUNNERS[story_id](STORIES[story_id], params)


def load_story_run(story_id: str, params: Parameters) -> StoryRun:
    """The latest saved run of a story in `params.results_dir` (or, failing that, in the
    committed reference), with its profile and REST records, for redrawing without
    re-measuring. Raises FileNotFoundError naming where it looked."""
    if story_id not in STORIES:
        raise ValueError(f"unknown story {story_id!r}; choose one of: {', '.join(STORIES)}")
    folders = [params.results_path, root() / "results" / "reference" / "records"]
    for folder in folders:
        paths = sorted(folder.glob(f"*_{story_id}.json"))
        if paths:
            record = load_record(paths[-1])
            run = StoryRun(STORIES[story_id], record, paths[-1])
            links = record.get("extra", {}).get("records", {})
            for kind in LINKED:
                if links.get(kind):
                    run.link(kind, _load_linked(links[kind], folder), Path(links[kind]))
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
