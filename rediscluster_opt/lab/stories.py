"""The PRD's stories US-001..US-008 as experiments: what each one varies, what it compares,
and which acceptance criteria it checks against the measured figures.

Stage stories (US-002..US-007) compare their stages both ways:
- isolated: the baseline with only this story's stages switched to optimized;
- cumulative: the previous story's configuration, before and after adding this story's.
After US-007 the cumulative configuration is `Stages.optimized()`.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..bench.adapters import ClientConfig, Target
from ..bench.profiling import HOT_PATH
from ..bench.runner import run_benchmark, run_sync, summarize
from ..bench.workload import Workload
from ..stages import OPTIMIZED, Stages
from . import micro
from .migration import migrate_under_load
from .parameters import Parameters
from .records import save_record

__all__ = ["STORIES", "Story", "StoryRun", "cumulative_stages", "run_story"]

_S = "rediscluster_opt.stages."


@dataclass(frozen=True)
class Story:
    id: str
    slug: str
    title: str
    stages: tuple[str, ...] = ()
    line_functions: tuple[str, ...] = tuple(HOT_PATH)


STORIES = {
    s.id: s
    for s in (
        Story("US-001", "baseline", "Profile the baseline"),
        Story("US-002", "slot_lookup", "Slot lookup: CRC16 and the slot map", ("slot_hash", "slot_map"),
              ("rediscluster_opt.client.cluster.ClusterClient._keyed", _S + "slot_hash.slot_bitwise",
               _S + "slot_hash.slot_crc_hqx", _S + "slot_map.RangeScanSlotMap.lookup",
               _S + "slot_map.FlatSlotMap.lookup")),
        Story("US-003", "submit", "Per-command submit: encoding, allocation, timeouts", ("encoder", "submit"),
              (_S + "encoder.encode_hiredis", "rediscluster_opt.core.resp.encode_command",
               _S + "submit.EventSubmit.call", _S + "submit.PooledFutureSubmit.call",
               _S + "submit.PooledFutureSubmit.deliver_many", _S + "submit.EventSubmit.deliver_one")),
        Story("US-004", "node_selection", "Node selection in the multiplexer pool", ("node_select",),
              (_S + "node_select.LockedSelector.pick", _S + "node_select.LockFreeSelector.pick",
               "rediscluster_opt.client.cluster.ClusterClient._route")),
        Story("US-005", "writer", "Writer batching", ("writer",),
              (_S + "writer.DirectWriter.send", _S + "writer.JoinWriter.send",
               _S + "writer.JoinWriter._flush", _S + "writer.WritelinesWriter._emit")),
        Story("US-006", "reader", "Reader: batch parsing and batch resolve", ("parser", "reader"),
              (_S + "reader.PerReplyReader.data_received", _S + "reader.BatchReader.data_received",
               _S + "submit.PooledFutureSubmit.deliver_many", _S + "submit.PooledFutureSubmit.deliver_one",
               "rediscluster_opt.core.resp.PythonReader.gets")),
        Story("US-007", "redirects", "MOVED/ASK detection on the no-redirect path", ("redirect",),
              (_S + "redirect.redirect_regex", _S + "redirect.redirect_first_byte",
               "rediscluster_opt.client.cluster.ClusterClient._route")),
        Story("US-008", "final", "Final comparison: REST scenarios and the client benchmark"),
    )
}  # fmt: skip
STAGE_STORIES = [s for s in STORIES.values() if s.stages]


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


@dataclass
class StoryRun:
    story: Story
    record: dict[str, Any]
    path: Path
    profile_record: dict[str, Any] | None = None
    profile_path: Path | None = None
    rest_record: dict[str, Any] | None = None
    rest_path: Path | None = None

    @property
    def acceptance(self) -> list[dict[str, Any]]:
        return self.record.get("extra", {}).get("acceptance", [])


def _roles(story: Story) -> dict[str, ClientConfig]:
    """role -> configuration; roles whose stages coincide share one configuration."""
    wanted = {
        "baseline": Stages.baseline(),
        "isolated": Stages.baseline().replace(**{n: OPTIMIZED[n] for n in story.stages}),
        "cumulative before": previous_stages(story.id),
        "cumulative after": cumulative_stages(story.id),
    }
    by_stages: dict[Stages, ClientConfig] = {}
    roles = {}
    for role, stages in wanted.items():
        if stages not in by_stages:
            by_stages[stages] = ClientConfig("ours", stages.as_dict(), name=role)
        roles[role] = by_stages[stages]
    return roles


def _bench(
    params: Parameters, configs: list[ClientConfig], experiment: str, **options: Any
) -> dict[str, Any]:
    base = {
        "experiment": experiment,
        "target": Target(seeds=params.seeds, standalone=params.standalone),
        "modes": ("cluster",),
        "workload": Workload(value_size=params.value_size, key_count=params.key_count),
        "concurrency": params.concurrency,
        "duration": params.duration,
        "warmup": params.warmup,
        "repeats": params.repeats,
        "parameters": {"notebook": params.as_dict()},
    }
    return run_benchmark(configs, **{**base, **options})


def _median_ops(
    record: dict[str, Any], label: str, mode: str = "cluster", level: int | None = None
) -> float | None:
    values = [t["ops_per_s"] for t in record["trials"]
              if t["config"] == label and t["mode"] == mode and t.get("status") == "ok" and t.get("valid")
              and (level is None or t["concurrency"] == level)]  # fmt: skip
    return statistics.median(values) if values else None


def _ratio(record: dict[str, Any], after: str, before: str, **where: Any) -> float | None:
    a, b = _median_ops(record, after, **where), _median_ops(record, before, **where)
    return a / b if a and b else None


def _criterion(text: str, measured: float | None, met: bool | None, fmt: str = "{:.2f}") -> dict[str, Any]:
    return {"criterion": text, "measured": None if measured is None else fmt.format(measured),
            "value": measured, "met": bool(met) if measured is not None else False}  # fmt: skip


def _profile_share(profile_record: dict[str, Any], label: str, names: tuple[str, ...]) -> float | None:
    shares = []
    for trial in profile_record["trials"]:
        if trial["config"] == label and trial.get("profile", {}).get("kind") == "cprofile":
            shares.append(sum(r["own_share"] for r in trial["profile"]["top"] if r["function"] in names))
    return statistics.median(shares) if shares else None


def _profiles(params: Parameters, story: Story, configs: list[ClientConfig]) -> dict[str, Any]:
    """cProfile over each config and line_profiler over the last one; profiled runs are
    only compared with profiled runs, so they get a record of their own."""
    cprofile = _bench(params, configs, f"{story.id}-profile", profile="cprofile", repeats=1)
    line = _bench(params, configs[-1:], f"{story.id}-profile", profile="line", repeats=1,
                  line_functions=list(story.line_functions))  # fmt: skip
    cprofile["trials"] += [{**t, "index": len(cprofile["trials"]) + i} for i, t in enumerate(line["trials"])]
    cprofile["summary"] = summarize(cprofile)
    return cprofile


def _finish(story: Story, params: Parameters, record: dict[str, Any], extra: dict[str, Any],
            profile: dict | None = None, rest: dict | None = None) -> StoryRun:  # fmt: skip
    record["extra"] = {"story": story.id, "title": story.title, **extra}
    run = StoryRun(story, record, save_record(record, params.results_dir))
    if profile is not None:
        run.profile_record, run.profile_path = profile, save_record(profile, params.results_dir)
    if rest is not None:
        run.rest_record, run.rest_path = rest, save_record(rest, params.results_dir)
    return run


# -- stage stories ----------------------------------------------------------------------
def _stage_story(story: Story, params: Parameters, extra_configs: list[ClientConfig] | None = None) -> tuple:
    roles = _roles(story)
    configs = list({c.label: c for c in [*roles.values(), *(extra_configs or [])]}.values())
    record = _bench(params, configs, story.id)
    profile = _profiles(params, story, [roles["cumulative before"], roles["cumulative after"]])
    names = {role: config.label for role, config in roles.items()}
    return roles, names, record, profile


def _io(record: dict[str, Any], label: str, key: str) -> float | None:
    values = [
        t["io"][key] for t in record["trials"] if t["config"] == label and t.get("io") and t["io"].get(key)
    ]
    return statistics.median(values) if values else None


def _cumulative_gain(record: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The criterion every stage story ends with: did adding its stages pay?"""
    ratio = _ratio(record, names["cumulative after"], names["cumulative before"])
    return _criterion("cluster throughput, cumulative after / before", ratio, (ratio or 0) >= 1)


def _budget(params: Parameters) -> float:
    """Seconds per micro-benchmark sample: short in smoke runs, timeit's 0.2 s otherwise."""
    return 0.02 if params.smoke else 0.2


def _us002(story: Story, params: Parameters) -> StoryRun:
    roles, names, record, profile = _stage_story(story, params)
    lengths = (8, 64, 512) if params.smoke else (8, 16, 64, 256, 512)
    hashes = micro.slot_hash_costs(lengths, repeats=params.micro_repeats, budget=_budget(params))
    maps = micro.slot_map_costs(repeats=params.micro_repeats, budget=_budget(params))
    crc = max(r["ns_median"] for r in hashes if r["variant"] == "crc_hqx" and r["key_bytes"] <= 64)
    flat = max(r["ns_median"] for r in maps if r["variant"] == "flat")
    ranges = max(r["ns_median"] for r in maps if r["variant"] == "ranges")
    slot_functions = ("slot_bitwise", "slot_crc_hqx", "slot_table", "lookup", "crc16_bitwise", "hash_tag")
    before = _profile_share(profile, names["cumulative before"], slot_functions)
    after = _profile_share(profile, names["cumulative after"], slot_functions)
    acceptance = [
        _criterion(
            "crc_hqx slot hash under 1 µs per call for keys up to 64 B (ns)", crc, crc < 1000, "{:.0f}"
        ),
        _criterion(
            "flat slot map: constant-time lookup, cheaper than the range scan (ns, worst slot)",
            flat,
            flat < ranges,
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "profile share of slot lookup reduced (after / before)",
            after / before if after is not None and before else None,
            after is not None and before is not None and after < before,
        ),  # fmt: skip
        _cumulative_gain(record, names),
    ]
    return _finish(story, params, record, {"roles": names, "micro": {"slot_hash": hashes, "slot_map": maps},
                                           "acceptance": acceptance}, profile)  # fmt: skip


def _us003(story: Story, params: Parameters) -> StoryRun:
    future = ClientConfig("ours", cumulative_stages(story.id).replace(submit="future").as_dict(),
                          name="cumulative after, submit=future (no pool)")  # fmt: skip
    roles, names, record, profile = _stage_story(story, params, [future])
    cycles = micro.submit_cycle_costs(cycles=2000 if params.smoke else 5000, repeats=params.micro_repeats)
    allocations = micro.allocations_per_pending_command(pending=500 if params.smoke else 2000)
    blocks = {r["variant"]: r["blocks_per_command"] for r in allocations}
    cost = {r["variant"]: r["ns_median"] for r in cycles}
    pool_pays = _ratio(record, names["cumulative after"], future.label)
    acceptance = [
        _criterion(
            "pooled submit allocates fewer blocks per pending command than the baseline",
            blocks["pooled"],
            blocks["pooled"] < blocks["event"],
            "{:.1f}",
        ),  # fmt: skip
        _criterion(
            "submit cycle cheaper than the baseline's Event + wait_for (ns)",
            cost["pooled"],
            cost["pooled"] < cost["event"],
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "recycled records vs plain futures: throughput ratio pooled / future (pays if > 1)",
            pool_pays,
            (pool_pays or 0) > 1,
        ),  # fmt: skip
        _cumulative_gain(record, names),
    ]
    return _finish(story, params, record, {"roles": names, "micro": {"submit_cycle": cycles,
                   "allocations": allocations}, "acceptance": acceptance}, profile)  # fmt: skip


def _us004(story: Story, params: Parameters) -> StoryRun:
    before, after = previous_stages(story.id), cumulative_stages(story.id)
    configs = [
        ClientConfig("ours", stages.as_dict(), connections_per_node=n, name=f"{name} x{n}")
        for n in params.connections
        for name, stages in (("locked", before), ("lock-free", after))
    ]
    record = _bench(params, configs, story.id)
    profile = _profiles(params, story, [configs[0], configs[1]])
    acceptance = []
    for n in params.connections:
        for level in params.concurrency:
            ratio = _ratio(record, f"lock-free x{n}", f"locked x{n}", level=level)
            text = f"lock-free / locked throughput, {n} connection(s) per node, C={level}"
            acceptance.append(_criterion(text, ratio, (ratio or 0) >= 1))
    names = {"cumulative before": configs[0].label, "cumulative after": configs[1].label}
    return _finish(story, params, record, {"roles": names, "acceptance": acceptance}, profile)


def _us005(story: Story, params: Parameters) -> StoryRun:
    writelines = ClientConfig("ours", cumulative_stages(story.id).replace(writer="writelines").as_dict(),
                              name="cumulative after, writer=writelines")  # fmt: skip
    roles, names, record, profile = _stage_story(story, params, [writelines])
    before_writes = _io(record, names["cumulative before"], "writes_per_command")
    after_writes = _io(record, names["cumulative after"], "writes_per_command")
    per_write = _io(record, names["cumulative after"], "commands_per_write")
    join_vs_writelines = _ratio(record, names["cumulative after"], writelines.label)
    acceptance = [
        _criterion(
            "socket writes per command, per-command writer (expect 1)",
            before_writes,
            before_writes is not None and before_writes >= 0.99,
            "{:.3f}",
        ),  # fmt: skip
        _criterion(
            "socket writes per command, batched writer (fewer)",
            after_writes,
            after_writes is not None and before_writes is not None and after_writes < before_writes,
            "{:.3f}",
        ),  # fmt: skip
        _criterion("commands per write, batched writer", per_write, (per_write or 0) > 1, "{:.1f}"),
        _cumulative_gain(record, names),
        _criterion(
            "join / writelines throughput (which flush is faster here)",
            join_vs_writelines,
            join_vs_writelines is not None,
        ),  # fmt: skip
    ]
    return _finish(story, params, record, {"roles": names, "acceptance": acceptance}, profile)


def _us006(story: Story, params: Parameters) -> StoryRun:
    grid = [
        ClientConfig(
            "ours", previous_stages(story.id).replace(parser=p, reader=r).as_dict(), name=f"{p} + {r}"
        )
        for p in ("python", "hiredis")
        for r in ("per_reply", "batch")
    ]
    roles, names, record, profile = _stage_story(story, params, grid)
    best = max(grid, key=lambda c: _median_ops(record, c.label) or 0).label
    replies_per_read = _io(record, names["cumulative after"], "reads_per_command")
    acceptance = [
        _criterion(
            "replies per read, cumulative after (several replies parsed per read)",
            1 / replies_per_read if replies_per_read else None,
            bool(replies_per_read) and 1 / replies_per_read > 1,
            "{:.1f}",
        ),  # fmt: skip
        _criterion(
            "hiredis + batch / python + per_reply throughput",
            _ratio(record, "hiredis + batch", "python + per_reply"),
            (_ratio(record, "hiredis + batch", "python + per_reply") or 0) > 1,
        ),  # fmt: skip
        _criterion(
            f"fastest of the 2x2 is hiredis + batch (fastest measured: {best})",
            _median_ops(record, best),
            best == "hiredis + batch",
            "{:,.0f}",
        ),  # fmt: skip
        _cumulative_gain(record, names),
    ]
    return _finish(story, params, record, {"roles": names, "acceptance": acceptance}, profile)


def _us007(story: Story, params: Parameters) -> StoryRun:
    roles, names, record, profile = _stage_story(story, params)
    checks = micro.redirect_check_costs(repeats=params.micro_repeats, budget=_budget(params))
    cost = {r["variant"]: r["ns_median"] for r in checks if r["reply"] == "bulk 200 B"}
    workers = 8 if params.smoke else 16
    migrations = {}
    for role in ("baseline", "cumulative after"):
        stages = roles[role].stage_set()
        migrations[role] = run_sync(
            lambda s=stages: migrate_under_load(list(params.seeds), s, workers=workers)
        )
    after = migrations["cumulative after"]
    acceptance = [
        _criterion(
            "no-redirect check on a 200 B reply, first_byte (ns)",
            cost["first_byte"],
            cost["first_byte"] < cost["regex"],
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "wrong answers during a live slot migration (every stage set)",
            sum(m["wrong"] + m["errors"] for m in migrations.values()),
            all(m["wrong"] == 0 and m["errors"] == 0 for m in migrations.values()),
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "ASK and MOVED both seen and followed (ASK count)",
            after["ask"],
            after["ask"] > 0 and after["moved"] > 0,
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "ms from the end of the move until the client routes the slot to its new owner",
            after["recover_ms"],
            after["recover_ms"] is not None,
            "{:.1f}",
        ),  # fmt: skip
        _cumulative_gain(record, names),
    ]
    return _finish(story, params, record, {"roles": names, "micro": {"redirect_check": checks},
                   "migration": migrations, "acceptance": acceptance}, profile)  # fmt: skip


# -- US-001 and US-008 ------------------------------------------------------------------
def _rest(params: Parameters, backends: list[ClientConfig], experiment: str, scenarios: list[str],
          modes: tuple[str, ...]) -> dict[str, Any]:  # fmt: skip
    from ..rest.runner import run_rest_benchmark

    return run_rest_benchmark(
        backends, modes=modes, scenarios=scenarios, duration=params.rest_duration, warmup=params.rest_warmup,
        repeats=1 if params.smoke else max(1, params.repeats // 2), experiment=experiment,
        target=Target(seeds=params.seeds, standalone=params.standalone),
        parameters={"notebook": params.as_dict()},
    )  # fmt: skip


def _us001(story: Story, params: Parameters) -> StoryRun:
    baseline = ClientConfig.parse("baseline")
    record = _bench(params, [baseline], story.id, modes=("cluster", "standalone"))
    profile = _profiles(params, story, [baseline])
    rest = _rest(params, [baseline], f"{story.id}-rest", ["get_single"], ("cluster",))
    top = [
        t["profile"]["top"][:5] for t in profile["trials"] if t.get("profile", {}).get("kind") == "cprofile"
    ]
    rest_rps = next((r["ops_per_s"]["median"] for r in rest["summary"]["rows"]), None)
    lines = [t for t in profile["trials"] if t.get("profile", {}).get("kind") == "line"]
    acceptance = [
        _criterion("REST GET single (cluster), baseline req/s recorded", rest_rps, bool(rest_rps), "{:,.0f}"),
        _criterion(
            "client benchmark, baseline cluster ops/s recorded",
            _median_ops(record, "baseline"),
            bool(_median_ops(record, "baseline")),
            "{:,.0f}",
        ),  # fmt: skip
        _criterion(
            "top 5 cost centres by own time documented (rows)",
            float(len(top[0]) if top else 0),
            bool(top) and len(top[0]) == 5,
            "{:.0f}",
        ),  # fmt: skip
        _criterion(
            "line_profiler output for the hot path (functions with hits)",
            float(sum(1 for f in lines[0]["profile"]["functions"] if f["total_s"] > 0)) if lines else None,
            bool(lines),
            "{:.0f}",
        ),  # fmt: skip
    ]
    return _finish(
        story, params, record, {"acceptance": acceptance, "top5": top[0] if top else []}, profile, rest
    )


def _us008(story: Story, params: Parameters) -> StoryRun:
    ours = [ClientConfig.parse("baseline"), ClientConfig.parse("optimized")]
    peers = [ClientConfig.parse(p) for p in params.peers]
    record = _bench(params, [*ours, *peers], story.id, modes=("cluster", "standalone"))
    # The REST side compares our presets with redis-py; a smoke run keeps to our presets.
    with_peer = "redis-py" in params.peers and not params.smoke
    rest_backends = ours + ([ClientConfig.parse("redis-py")] if with_peer else [])
    rest_backends = [b for b in rest_backends if b.available()]
    scenarios = ["get_single", "get_list", "post", "mixed"]
    rest = _rest(params, rest_backends, f"{story.id}-rest", scenarios, ("standalone", "cluster"))
    table = rest["summary"]["rest"]
    single = {row["config"]: row for row in table if row["scenario"] == "get_single"}
    improvement = (
        single["optimized"]["cluster_req_s"] / single["baseline"]["cluster_req_s"]
        if single.get("optimized", {}).get("cluster_req_s")
        and single.get("baseline", {}).get("cluster_req_s")
        else None
    )
    level = max(params.concurrency)
    ratio_glide = _ratio(record, "optimized", "valkey-glide", level=level)
    ratio_redispy = _ratio(record, "optimized", "redis-py", level=level)
    cluster_vs_standalone = None
    ours_c, ours_s = (
        _median_ops(record, "optimized", level=level),
        _median_ops(record, "optimized", "standalone", level),
    )
    if ours_c and ours_s:
        cluster_vs_standalone = ours_c / ours_s
    drop = {c: single[c]["drop"] for c in single}
    acceptance = [
        _criterion(
            "REST GET single (cluster): optimized / baseline req/s, same run",
            improvement,
            (improvement or 0) > 1,
        ),  # fmt: skip
        _criterion(
            "REST GET single: optimized standalone->cluster drop below the baseline's",
            drop.get("optimized"),
            drop.get("optimized") is not None
            and drop.get("baseline") is not None
            and drop["optimized"] < drop["baseline"],
            "{:.1%}",
        ),  # fmt: skip
        _criterion(
            f"client bench (cluster, C={level}): optimized >= 5x valkey-glide",
            ratio_glide,
            (ratio_glide or 0) >= 5,
        ),  # fmt: skip
        _criterion(
            f"client bench (cluster, C={level}): optimized >= 10x redis-py",
            ratio_redispy,
            (ratio_redispy or 0) >= 10,
        ),  # fmt: skip
        _criterion(
            f"client bench (C={level}): optimized cluster within 3% of standalone (cluster/standalone)",
            cluster_vs_standalone,
            (cluster_vs_standalone or 0) >= 0.97,
            "{:.3f}",
        ),  # fmt: skip
    ]
    return _finish(story, params, record, {"acceptance": acceptance, "rest_table": table}, rest=rest)


RUNNERS: dict[str, Callable[[Story, Parameters], StoryRun]] = {
    "US-001": _us001, "US-002": _us002, "US-003": _us003, "US-004": _us004,
    "US-005": _us005, "US-006": _us006, "US-007": _us007, "US-008": _us008,
}  # fmt: skip


def run_story(story_id: str, params: Parameters) -> StoryRun:
    if story_id not in STORIES:
        raise ValueError(f"unknown story {story_id!r}; choose one of: {', '.join(STORIES)}")
    return RUNNERS[story_id](STORIES[story_id], params)
