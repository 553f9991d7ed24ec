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
from rediscluster_opt.lab.parameters import BENCH, Parameters, members
from rediscluster_opt.lab.presentation import notebook as nb
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

from . import charts
from .tlscost import TLS_CLIENTS, measured_tls, run_tls_cost, tls_metric

SCENARIOS = ("get_single", "get_list", "post", "mixed")  # the PRD's REST scenarios
REST_SCENARIOS = Own(
    "rest_scenarios",
    # quick: one scenario (tests/e2e/test_rest.py runs all four once; CI's 15 minutes)
    {"default": SCENARIOS, "quick": ("get_single",)},
    lambda name, value: members(name, value, LOADGEN_SCENARIOS),
    "the REST scenarios run (the PRD's four by default)",
)
SIDE_REPEATS = 3  # REST repeats of each peer: the table's context, no verdict reads them
REST_STANDALONE, DROP_CHANGE = "rest.get_single.standalone", "rest.drop_change"
REST_STANDALONE_AA, DROP_AA = "rest.get_single.standalone.aa", "rest.drop_change.aa"
REST_FIGURES = {"gain": "ops_per_s", "p50": "p50_us", "p99": "p99_us"}
STANDALONE, CLUSTER_OVER_STANDALONE = "throughput.standalone", "ratio.cluster_over_standalone"
NEW_HOTSPOTS = "profile.new_hotspots"
TLS = "tls"  # the prefix of the TLS figures, skipped together
PEERS_RUN = "the peer in `peers`, installed; a smoke run measures ours alone"
NEEDS_LOCAL_TLS = f"needs {LOCAL} as the plain arm beside the TLS twin it starts"


def rest_metric(scenario: str, figure: str, aa: bool = False) -> str:
    """REST `figure` ("gain": req/s, "p50", "p99") of a scenario, optimized / baseline; with
    `aa`, the same figure of the baseline's A/A twin / baseline."""
    return f"rest.{scenario}.{figure}" + (".aa" if aa else "")


def peer_metric(peer: str) -> str:
    """Client bench (cluster) throughput, optimized / the peer."""
    return f"peer.{peer}"


def _rest_criteria(scenario: str) -> tuple[Criterion, ...]:
    """req/s, p50 and p99 of one REST scenario (cluster), optimized / baseline, each against
    the same figure of the baseline's A/A twin. autocannon holds a fixed number of
    connections (a closed loop), so the median latency is about connections / rate: the
    p50 criterion restates req/s and is not counted; p99, the tail, is its own figure."""
    needs = f"rest_scenarios including {scenario}"

    def criterion(figure: str, text: str, comparison: str, restates: str = "") -> Criterion:
        aa = rest_metric(scenario, figure, aa=True)
        return Criterion(f"REST {scenario}: {text} optimized / baseline", rest_metric(scenario, figure),
                         comparison, 1, PRD, aa, needs=needs, before=aa,
                         restates=restates)  # fmt: skip

    return (
        criterion("gain", "req/s", ">="),
        criterion("p50", "p50", "<=", restates="req/s (closed loop)"),
        criterion("p99", "p99", "<="),
    )


def _function(row: dict[str, Any]) -> str:
    """A profile row's function: file and method name for Python code, so a variant's
    method stands where its sibling's of the same name (the stage's contract method, in
    the same stage module) stood; the name for a builtin."""
    location = row["location"].rsplit(":", 1)[0]
    name = str(row.get("qualname", row["function"]))
    return name if location in ("~", "") else f"{location}:{name.rsplit('.', 1)[-1]}"


def new_hotspots(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> list[str]:
    """Functions in an optimized profile's top 5 (own time) that were outside the
    baseline's top 10 and cost more per operation than the baseline's 10th did: a cost
    centre the optimization created, not one that only rose in rank because the rest
    shrank. `before` and `after` are the profiled trials of each configuration."""

    def per_op(row: dict[str, Any], trial: dict[str, Any]) -> float:
        return float(row["own_s"]) / max(int(trial["ops"]), 1)

    known = {_function(r) for t in before for r in t["profile"]["top"][:10]}
    tenth = min((per_op(t["profile"]["top"][:10][-1], t) for t in before if t["profile"]["top"]), default=0.0)
    found = [
        _function(r)
        for t in after
        for r in t["profile"]["top"][:5]
        if _function(r) not in known and per_op(r, t) > tenth
    ]
    return list(dict.fromkeys(found))


def _new_hotspots(profile: dict[str, Any], before: str, after: str) -> Interval | None:
    """How many new hotspots (`new_hotspots`) the median profiled trial has."""
    tops_before, tops_after = cprofiles(profile, before), cprofiles(profile, after)
    if not tops_before or not tops_after:
        return None
    return Interval.exact(statistics.median(len(new_hotspots(tops_before, [t])) for t in tops_after))


def _rest_metrics(
    rest: dict[str, Any], optimized: str, baseline: str, twin: str
) -> dict[str, Interval | None]:
    where: dict[str, Any] = {"concurrency": None, "scenario": "get_single"}
    out: dict[str, Interval | None] = {
        REST_STANDALONE: paired_ratio(rest, optimized, baseline, mode="standalone", **where),
        REST_STANDALONE_AA: paired_ratio(rest, twin, baseline, mode="standalone", **where),
    }
    for scenario in rest["parameters"]["scenarios"]:
        for key, metric in REST_FIGURES.items():
            for label, aa in ((optimized, False), (twin, True)):
                out[rest_metric(scenario, key, aa)] = paired_ratio(
                    rest, label, baseline, metric, scenario=scenario, concurrency=None
                )
    drops = {}
    for label in (optimized, baseline, twin):
        found = pairs(rest, label, label, denominator_mode="standalone", **where)
        drops[label] = [1 - c / s for c, s in found]

    def change(label: str) -> Interval | None:  # its drop minus the baseline's, per repeat
        return interval([a - b for a, b in zip(drops[label], drops[baseline], strict=False)])

    return out | {DROP_CHANGE: change(optimized), DROP_AA: change(twin)}


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
    # Peers are context in the REST table, not arms of a verdict: SIDE_REPEATS repeats each.
    # Standalone, only get_single is read (the drop); the others run in cluster mode.
    rest = engine.rest(
        params, backends, f"{story.id}-rest", list(params.own[REST_SCENARIOS.name]), ("standalone", "cluster"),
        side_arms=[p.label for p in rest_peers], side_repeats=min(params.rest_repeats, SIDE_REPEATS),
        standalone_scenarios=[s for s in params.own[REST_SCENARIOS.name] if s == "get_single"],
    )  # fmt: skip
    where: dict[str, Any] = {"concurrency": level}
    measured = {
        THROUGHPUT_GAIN: paired_ratio(record, optimized.label, baseline.label, **where),
        CPU_GAIN: paired_ratio(record, optimized.label, baseline.label, "cpu_us_per_op", **where),
        **engine.aa_control(record, twin.label, optimized.label, **where),
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
        fig = charts.rest_bars(
            run.rest_record["summary"]["rest"], nb.categories(run), title=f"{run.story.id}: REST scenarios"
        )
        out.append(nb.save_figure(fig, params, run, "rest_bars"))
    if run.linked_record("tls") is not None:
        tls = nb.workload_text(run, run.linked_record("tls"))
        fig = charts.tls_cost(run.measured, title=f"{run.story.id}: what TLS costs each client ({tls})")
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
    """The final comparison: the four REST scenarios (GET single, GET list, POST, Mixed) in cluster mode,
and GET single standalone too (the PRD's drop), for the baseline, its A/A twin and the optimized
preset, with every installed peer beside them in the table (three repeats each: context, no verdict
reads them), and the client benchmark with every peer. Improvements are paired ratios measured in this same run against the US-001
configuration (the baseline preset), never against another run's absolute numbers. Last, what
TLS costs: each client against the local cluster and a TLS twin of it, interleaved, as TLS / plain
ratios of throughput and of client CPU per operation.""",
    run,
    criteria=(
        *(c for scenario in SCENARIOS for c in _rest_criteria(scenario)),
        Criterion("guard rail: REST GET single standalone, optimized / baseline", REST_STANDALONE,
                  ">=", 1, PRD, REST_STANDALONE_AA, before=REST_STANDALONE_AA),
        Criterion("guard rail: client bench standalone, optimized / baseline", STANDALONE, ">=", 1,
                  PRD, THROUGHPUT_AA),
        exact_criterion("guard rail: new hotspots (optimized top-5 functions outside the baseline top 10, "
                        "costing more per op than its 10th)", NEW_HOTSPOTS, "<=", 0, unit="functions"),
        Criterion("REST GET single: standalone->cluster drop, optimized minus baseline", DROP_CHANGE, "<",
                  0, PRD, DROP_AA, fmt="{:+.1%}", before=DROP_AA, additive=True, unit="difference of drops"),
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
    headlines={"optimized_over_baseline": THROUGHPUT_GAIN, "optimized_over_glide": peer_metric("valkey-glide"),
               "optimized_over_redis_py": peer_metric("redis-py"),
               "cluster_over_standalone": CLUSTER_OVER_STANDALONE},
    claims={
        "The optimized preset serves more cluster GETs per second than the baseline": THROUGHPUT_GAIN,
        "It spends less client CPU per GET than the baseline": CPU_GAIN,
        "It serves at least 5x valkey-glide's cluster GETs per second": peer_metric("valkey-glide"),
        "It serves at least 10x redis-py's cluster GETs per second": peer_metric("redis-py"),
        "Cluster mode keeps its standalone throughput (within 3 %)": CLUSTER_OVER_STANDALONE,
        "The REST app serves more single GETs per second with it than with the baseline":
            rest_metric("get_single", "gain"),
    },
)  # fmt: skip
