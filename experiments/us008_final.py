"""US-008: the final comparison, the PRD's four REST scenarios and the client benchmark
with every peer, and what TLS costs each client."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import LOCAL, cprofiles, headline_level
from rediscluster_opt.lab.instruments.tlscost import TLS_CLIENTS, measured_tls, run_tls_cost, tls_metric
from rediscluster_opt.lab.parameters import BENCH, Parameters, members
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation import plots
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    CPU_GAIN,
    PRD,
    TARGET,
    THROUGHPUT_AA,
    THROUGHPUT_GAIN,
    Own,
    Section,
    Story,
    StoryRun,
    exact_criterion,
)
from rediscluster_opt.rest.loadgen import SCENARIOS as LOADGEN_SCENARIOS
from rediscluster_opt.results import Interval, interval, paired_ratio, pairs

SCENARIOS = ("get_single", "get_list", "post", "mixed")  # the PRD's REST scenarios
REST_SCENARIOS = Own(
    "rest_scenarios",
    {"default": SCENARIOS, "quick": ("get_single", "mixed")},
    lambda name, value: members(name, value, LOADGEN_SCENARIOS),
    "the REST scenarios run (the PRD's four by default)",
)
REST_AA, REST_STANDALONE, DROP_CHANGE = "rest.aa", "rest.get_single.standalone", "rest.drop_change"
STANDALONE, CLUSTER_OVER_STANDALONE = "throughput.standalone", "ratio.cluster_over_standalone"
NEW_HOTSPOTS = "profile.new_hotspots"
TLS = "tls"  # the prefix of the TLS figures, skipped together
PEERS_RUN = "the peer in `peers`, installed; a smoke run measures ours alone"
NEEDS_LOCAL_TLS = f"needs {LOCAL} as the plain arm beside the TLS twin it starts"


def rest_metric(scenario: str, figure: str) -> str:
    """REST `figure` ("gain": req/s, "p50", "p99") of a scenario, optimized / baseline."""
    return f"rest.{scenario}.{figure}"


def peer_metric(peer: str) -> str:
    """Client bench (cluster) throughput, optimized / the peer."""
    return f"peer.{peer}"


def _rest_criteria(scenario: str) -> tuple[Criterion, ...]:
    """req/s, p50 and p99 of one REST scenario (cluster), optimized / baseline."""
    lead = scenario == "get_single"
    needs = f"rest_scenarios including {scenario}"
    return (
        Criterion(f"REST {scenario}: req/s optimized / baseline", rest_metric(scenario, "gain"), ">=", 1, PRD,
                  REST_AA, headline=lead, needs=needs),
        Criterion(f"REST {scenario}: p50 optimized / baseline", rest_metric(scenario, "p50"), "<=", 1, PRD,
                  needs=needs),
        Criterion(f"REST {scenario}: p99 optimized / baseline", rest_metric(scenario, "p99"), "<=", 1, PRD,
                  needs=needs),
    )  # fmt: skip


def _cost_centre(row: dict[str, Any]) -> str:
    """Where a profile row's time goes: its module for Python code (an optimized variant
    replaces its sibling in the same stage module, under another function name), its name
    for a builtin."""
    location = row["location"].rsplit(":", 1)[0]
    return row.get("qualname", row["function"]) if location in ("~", "") else location  # type: ignore[no-any-return]


def _new_hotspots(profile: dict[str, Any], before: str, after: str) -> Interval | None:
    """Cost centres in the optimized profile's top 5 (own time) that were outside the
    baseline's top 10, in the median profiled trial."""
    tops_before, tops_after = cprofiles(profile, before), cprofiles(profile, after)
    if not tops_before or not tops_after:
        return None
    known = {_cost_centre(r) for t in tops_before for r in t["profile"]["top"][:10]}
    counts = [sum(1 for r in t["profile"]["top"][:5] if _cost_centre(r) not in known) for t in tops_after]
    return Interval.exact(statistics.median(counts))


def _rest_metrics(
    rest: dict[str, Any], optimized: str, baseline: str, twin: str
) -> dict[str, Interval | None]:
    where: dict[str, Any] = {"concurrency": None}
    out: dict[str, Interval | None] = {
        REST_AA: paired_ratio(rest, twin, baseline, scenario="get_single", **where),
        REST_STANDALONE: paired_ratio(
            rest, optimized, baseline, mode="standalone", scenario="get_single", **where
        ),
    }
    for scenario in rest["parameters"]["scenarios"]:
        for key, metric in (("gain", "ops_per_s"), ("p50", "p50_us"), ("p99", "p99_us")):
            out[rest_metric(scenario, key)] = paired_ratio(
                rest, optimized, baseline, metric, scenario=scenario, **where
            )
    drops = {}
    for label in (optimized, baseline):
        found = pairs(rest, label, label, scenario="get_single", denominator_mode="standalone")
        drops[label] = [1 - c / s for c, s in found]
    out[DROP_CHANGE] = interval([a - b for a, b in zip(drops[optimized], drops[baseline], strict=False)])
    return out


def run(story: Story, params: Parameters) -> StoryRun:
    baseline, optimized = ClientConfig.parse("baseline"), ClientConfig.parse("optimized")
    twin = engine.twin(optimized)
    peers = [ClientConfig.parse(p) for p in params.peers]
    level = headline_level(params.concurrency)
    record = engine.bench(
        params, [baseline, optimized, twin, *peers], story.id, modes=("cluster", "standalone")
    )
    profile = engine.profiles(params, story, [baseline, optimized])
    # The REST side compares our presets (and an A/A twin of the baseline) with the peers,
    # valkey-glide the fastest of them; a smoke run keeps to our presets.
    rest_twin = engine.twin(baseline)
    rest_peers = [] if params.smoke else peers
    backends = [b for b in [baseline, rest_twin, optimized, *rest_peers] if b.available()]
    rest = engine.rest(
        params, backends, f"{story.id}-rest", list(params.own[REST_SCENARIOS.name]), ("standalone", "cluster")
    )
    where: dict[str, Any] = {"concurrency": level}
    measured = {
        THROUGHPUT_GAIN: paired_ratio(record, optimized.label, baseline.label, **where),
        CPU_GAIN: paired_ratio(record, optimized.label, baseline.label, "cpu_us_per_op", **where),
        THROUGHPUT_AA: paired_ratio(record, twin.label, optimized.label, **where),
        CPU_AA: paired_ratio(record, twin.label, optimized.label, "cpu_us_per_op", **where),
        STANDALONE: paired_ratio(record, optimized.label, baseline.label, mode="standalone", **where),
        CLUSTER_OVER_STANDALONE: paired_ratio(
            record, optimized.label, optimized.label, denominator_mode="standalone", **where
        ),
        **{peer_metric(p.label): paired_ratio(record, optimized.label, p.label, **where) for p in peers},
        NEW_HOTSPOTS: _new_hotspots(profile, baseline.label, optimized.label),
        **_rest_metrics(rest, optimized.label, baseline.label, rest_twin.label),
    }
    roles = {
        "baseline": baseline.label,
        "optimized": optimized.label,
        AA: twin.label,
        "REST A/A": rest_twin.label,
    }
    local = engine.local_cluster(params)
    tls = run_tls_cost(params, local, level, f"{story.id}-tls") if local is not None else None
    if tls is not None:
        measured |= measured_tls(tls)
    return engine.save_run(
        story,
        params,
        record,
        measured,
        extra={"roles": roles, "rest_table": rest["summary"]["rest"]},
        linked={"profile": profile, "rest": rest, "tls": tls},
        skipped={} if tls is not None else {TLS: NEEDS_LOCAL_TLS},
        standalone_metrics=(STANDALONE, CLUSTER_OVER_STANDALONE, REST_STANDALONE, DROP_CHANGE),
    )


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    out = []
    if run.rest_record is not None:
        fig = plots.rest_bars(run.rest_record["summary"]["rest"], title=f"{run.story.id}: REST scenarios")
        out.append(nb.save_figure(fig, params, run, "rest_bars"))
    if run.linked_record("tls") is not None:
        fig = plots.tls_cost(run.measured, title=f"{run.story.id}: what TLS costs ({nb.workload_text(run)})")
        out.append(nb.save_figure(fig, params, run, "tls_cost"))
    return out


def summary(run: StoryRun) -> dict[str, Any]:
    """The client benchmark's table, for summary.md's closing tables."""
    rows = [
        {
            "config": row["config"],
            "mode": row["mode"],
            "concurrency": row["concurrency"],
            **{
                f"{k}_{stat}": row[k][stat]
                for k in ("ops_per_s", "p50_us", "p99_us", "cpu_us_per_op")
                for stat in ("median", "min", "max")
            },
        }
        for row in run.record["summary"]["rows"]
    ]
    return {"client_table": rows}


STORY = Story(
    "US-008", "final", "Final comparison: REST scenarios and the client benchmark",
    """The final comparison: the four REST scenarios (GET single, GET list, POST, Mixed) for the baseline,
the optimized preset and every installed peer, standalone and cluster, and the client benchmark
with every peer. Improvements are paired ratios measured in this same run against the US-001
configuration (the baseline preset), never against another run's absolute numbers. Last, what
TLS costs: each client against the local cluster and a TLS twin of it, interleaved, as TLS / plain
ratios of throughput and of client CPU per operation.""",
    run,
    criteria=(
        *(c for scenario in SCENARIOS for c in _rest_criteria(scenario)),
        Criterion("guard rail: REST GET single standalone, optimized / baseline", REST_STANDALONE,
                  ">=", 1, PRD, REST_AA),
        Criterion("guard rail: client bench standalone, optimized / baseline", STANDALONE, ">=", 1,
                  PRD, THROUGHPUT_AA),
        exact_criterion("guard rail: new hotspots (optimized top-5 modules outside the baseline top 10)",
                        NEW_HOTSPOTS, "<=", 0),
        Criterion("REST GET single: standalone->cluster drop, optimized minus baseline", DROP_CHANGE, "<",
                  0, PRD, fmt="{:+.1%}"),
        Criterion("client bench (cluster): optimized / valkey-glide", peer_metric("valkey-glide"), ">=", 5, TARGET,
                  THROUGHPUT_AA),
        Criterion("client bench (cluster): optimized / redis-py", peer_metric("redis-py"), ">=", 10, TARGET,
                  THROUGHPUT_AA),
        Criterion("client bench: optimized cluster / standalone (within 3%)", CLUSTER_OVER_STANDALONE,
                  ">=", 0.97, TARGET, THROUGHPUT_AA, fmt="{:.3f}"),
        Criterion("client bench (cluster): optimized / baseline", THROUGHPUT_GAIN, ">=", 1, TARGET,
                  THROUGHPUT_AA, headline=True),
        Criterion("client bench (cluster): CPU per op optimized / baseline", CPU_GAIN, "<=", 1, TARGET,
                  CPU_AA, headline=True),
    ),
    # What TLS costs each client: recorded, no threshold (a cost to know, not a target).
    recorded=tuple(
        Recorded(f"TLS / plain {what}, {client} (cluster)", tls_metric(client, metric), "{:.2f}",
                 needs="" if client == "ours" else PEERS_RUN)
        for client in TLS_CLIENTS
        for what, metric in (("throughput", "throughput"), ("client CPU per op", "cpu"))
    ),
    parameters=(*BENCH, "peers", "rest_duration", "rest_warmup", "rest_repeats"),
    own=(REST_SCENARIOS,),
    figures=figures,
    sections=(Section("## REST benchmark", ("nb.rest_table(run)",)),),
    summary=summary,
)  # fmt: skip
