"""US-018: compiling the hot path. The same code, pure and compiled by mypyc (`rcopt build`),
per stage (micro-benchmarks, instruction counts), for the whole route in-process, and against
the servers beside the bare arm, the peers and the C client."""

from __future__ import annotations

import statistics
from typing import Any

from rediscluster_opt import compiled
from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine, limits
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import by_case, headline_level
from rediscluster_opt.lab.instruments import inprocess, micro, perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters, flag, integers, positive_integer
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    NEGLIGIBLE,
    TARGET,
    THROUGHPUT_AA,
    Own,
    Section,
    Story,
    StoryRun,
    exact_criterion,
)
from rediscluster_opt.results import Interval, paired_interval, paired_ratio
from rediscluster_opt.stages import Stages

BUILDS = ("pure", "compiled")
MODES = ("cluster", "standalone")
PEERS = ("redis-py", "valkey-glide")
NOT_BUILT = "the compiled build (rcopt build: a C compiler and mypy)"
# Per stage, the optimized preset's variant and the baseline's, each at one case.
STAGE_CASES = {
    "slot_hash": (("crc_hqx", "k16"), ("bitwise", "k16")),
    "slot_map": (("flat", "s16383"), ("ranges", "s16383")),
    "encoder": (("hiredis", "get16"), ("python", "get16")),
    "submit": (("pooled", "cycle"), ("event", "cycle")),
    "node_select": (("lockfree", "x1"), ("locked", "x1")),
    "redirect": (("first_byte", "bulk200"), ("regex", "bulk200")),
}
IN_PROCESS_ARMS: dict[str, Stages | str] = {
    "shaped": Stages.optimized(),  # the preset: its route generated at run time, so pure in both builds
    "shaped twin": Stages.optimized(),  # the A/A of the in-process figures
    "composed": Stages.optimized().replace(dispatch="composed"),  # its stages called one by one
    "bare": inprocess.BARE,  # bench/bare.py is not compiled: the cross-build control
}
LEVELS = Own("levels", {"default": (64,), "full": (1, 16, 64, 256), "quick": (32,)}, integers,
             "concurrency levels of the server runs")  # fmt: skip
ROUNDS = Own(
    "rounds", {"default": 9, "quick": 1}, positive_integer, "interleaved in-process rounds per build"
)
# pyperf's ns per stage case: recorded beside the instruction counts, never read by a
# criterion (cachegrind's deterministic count decides a stage), and 50 s of a default run
STAGE_NS = Own("stage_ns", {"default": False, "full": True}, flag,
               "pyperf ns per stage case and build (cachegrind's counts decide without them)")  # fmt: skip


def metric(*parts: str) -> str:
    """compiled.<what>...: compiled / pure unless the name says otherwise."""
    return ".".join(("compiled", *parts))


def _cases(smoke: bool = False) -> list[str]:
    """The stage cases; a smoke run takes the preset's variants only."""
    return [perfcases.case_name(stage, variant, param)
            for stage, pairs in STAGE_CASES.items() for variant, param in pairs[: 1 if smoke else None]]  # fmt: skip


# The whole GET in-process (route, command method, submit, the loop's wake-up), counted
# in instructions: the exact figure where the wall-time one is left open by noise.
ROUTES = {arm: perfcases.case_name("route", arm, "get") for arm in ("optimized", "composed")}


def _micro(params: Parameters) -> dict[str, Any]:
    """Wall ns and instruction counts of the stage cases on each build, and instructions
    per GET of the whole route."""
    cases = _cases(params.smoke)
    out: dict[str, Any] = {}
    for build in BUILDS:
        instructions = (
            micro.stage_and_get_counts([*cases, *ROUTES.values()], params.smoke, build=build)
            if params.cachegrind
            else {"rows": [], "skipped": "switched off for this run (cachegrind=False)"}
        )
        out[build] = {
            "wall": micro.wall_times(cases, smoke=params.smoke, build=build)
            if params.own[STAGE_NS.name]
            else [],
            "instructions": instructions,
        }
    return out


def _micro_figures(found: dict[str, Any]) -> dict[str, Interval | None]:
    measured: dict[str, Interval | None] = {}
    ns = {b: {r["case"]: r["ns"]["median"] for r in found[b]["wall"] if r["ns"]} for b in BUILDS}
    counts = {b: by_case(found[b]["instructions"]["rows"], "instructions_per_call") for b in BUILDS}
    for case in _cases():  # each figure named even when its instrument was off (None)
        stage, variant, _ = case.split(".")
        for figure, found_values in (("ns", ns), ("instructions", counts)):
            pure, built = found_values["pure"].get(case), found_values["compiled"].get(case)
            measured[metric("stage", stage, variant, figure)] = (
                Interval.exact(built / pure) if pure and built else None
            )
    for arm, case in ROUTES.items():
        pure, built = counts["pure"].get(case), counts["compiled"].get(case)
        measured[metric("whole", arm, "instructions")] = (
            Interval.exact(built / pure) if pure and built else None
        )
        for build in BUILDS:
            per_get = counts[build].get(case)
            measured[metric("whole", arm, build)] = Interval.exact(per_get) if per_get else None
    return measured


def _modes(params: Parameters) -> tuple[str, ...]:
    """The modes measured: a smoke run checks the story, in cluster mode only."""
    return ("cluster",) if params.smoke else MODES


def _in_process(params: Parameters) -> tuple[dict[str, Any], dict[str, Interval | None]]:
    rounds = params.own[ROUNDS.name]
    calls = 2_000 if params.smoke else 20_000
    raw: dict[str, Any] = {}
    measured: dict[str, Interval | None] = {}
    for mode in MODES:
        if mode not in _modes(params):
            measured |= dict.fromkeys(
                [metric("inprocess", arm, mode) for arm in ("shaped", "composed", "bare", "aa")]
            )
            continue
        ns = inprocess.interleaved_builds_ns(IN_PROCESS_ARMS, BUILDS, mode, repeats=rounds, calls=calls)
        raw[mode] = ns
        for arm in ("shaped", "composed", "bare"):
            measured[metric("inprocess", arm, mode)] = paired_interval(ns["compiled"][arm], ns["pure"][arm])
        measured[metric("inprocess", "aa", mode)] = paired_interval(
            ns["pure"]["shaped twin"], ns["pure"]["shaped"]
        )
    return raw, measured


def run(story: Story, params: Parameters) -> StoryRun:
    levels: tuple[int, ...] = params.own[LEVELS.name]
    level = headline_level(levels)
    pure, built = ClientConfig.parse("optimized"), ClientConfig.parse("optimized@compiled")
    twin = engine.twin(pure)
    composed = {b: ClientConfig.parse(f"optimized:dispatch=composed@{b}") for b in BUILDS}
    bare = ClientConfig.parse("calibration:bare")
    peers = [] if params.smoke else [ClientConfig.parse(p) for p in PEERS]
    ready = built.available()
    cclient = limits.c_client_arms(params, built, level) if ready and not params.smoke else []
    configs = [pure, twin, built, *composed.values(), bare, *peers, *cclient]
    # standalone figures read the builds and the C client; the controls and peers are cluster-only
    record = engine.bench(params, configs, story.id, concurrency=list(levels), modes=_modes(params),
                          cluster_only=[c.label for c in (twin, bare, *peers)])  # fmt: skip
    measured = engine.aa_control(record, twin.label, pure.label, mode="cluster", concurrency=level)
    for mode in MODES:
        throughput, cpu = engine.ratio_pair(record, built.label, pure.label, mode=mode, concurrency=level)
        measured |= {metric("route", "throughput", mode): throughput, metric("route", "cpu", mode): cpu}
        measured[metric("composed", "throughput", mode)] = paired_ratio(
            record, composed["compiled"].label, composed["pure"].label, mode=mode, concurrency=level
        )
    for each in levels:
        measured[metric("route", "throughput", f"c{each}")] = paired_ratio(record, built.label, pure.label,
                                                                          mode="cluster", concurrency=each)  # fmt: skip
    over_bare, over_bare_cpu = engine.ratio_pair(
        record, built.label, bare.label, mode="cluster", concurrency=level
    )
    measured |= {metric("over_bare", "throughput"): over_bare, metric("over_bare", "cpu"): over_bare_cpu}
    measured[metric("pure_over_bare", "throughput")] = paired_ratio(record, pure.label, bare.label, mode="cluster",
                                                                   concurrency=level)  # fmt: skip
    for peer in peers:
        measured[metric("over", peer.client)] = paired_ratio(record, built.label, peer.label, mode="cluster",
                                                            concurrency=level)  # fmt: skip
    for arm in cclient:
        measured[metric("cclient", limits.kind(arm))] = paired_ratio(record, built.label, arm.label,
                                                                    mode="cluster", concurrency=level)  # fmt: skip
    skipped: dict[str, str] = {}
    extra: dict[str, Any] = {"roles": {"optimized": pure.label, AA: twin.label}, "levels": list(levels)}
    if ready:
        extra["micro"] = _micro(params)
        measured |= _micro_figures(extra["micro"])
        extra["in_process"], found = _in_process(params)
        measured |= found
        extra["build_key"] = compiled.source_key()
    else:
        skipped[metric()] = f"no compiled build here: {NOT_BUILT} is missing"
    if cclient:
        extra["fractions"] = limits.fractions(record, cclient, level)
    return engine.save_run(story, params, record, measured, extra=extra, skipped=skipped)


def paragraph(run: StoryRun) -> str:
    """The answer first: what compiling buys in-process and against the servers, and where
    the compiled client stands against the bare arm and the C client."""
    rows = {r["metric"]: r for r in run.acceptance}
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    shaped, composed = (run.measured.get(metric("inprocess", a, "cluster")) for a in ("shaped", "composed"))
    control = run.measured.get(metric("inprocess", "bare", "cluster"))
    if shaped and composed:
        lines.append(
            f"In-process, compiled / pure ns per GET: {shaped.text()} for the preset's generated route and "
            f"{composed.text()} for the composed route (the uncompiled bare arm, a control: "
            f"{control.text() if control else '–'})."
        )
    route = rows.get(metric("route", "throughput", "cluster"))
    if route and route["effect"]:
        lines.append(f"Against the cluster, compiled / pure throughput {route['measured']} ({route['verdict']}, "
                     f"A/A {route['aa']}).")  # fmt: skip
    stages = []
    for stage, ((variant, _), _) in STAGE_CASES.items():
        found = run.measured.get(metric("stage", stage, variant, "instructions")) or run.measured.get(
            metric("stage", stage, variant, "ns")
        )
        if found:
            stages.append(f"{stage} {found.text()}")
    if stages:
        lines.append("Per stage (the preset's variant, compiled / pure, instructions where counted): "
                     + ", ".join(stages) + ".")  # fmt: skip
    slower = [f"{stage}.{variant} ({figure} {found.text()})"
              for stage, pairs in STAGE_CASES.items() for variant, _ in pairs for figure in ("instructions", "ns")
              if (found := run.measured.get(metric("stage", stage, variant, figure))) and found.median > 1]  # fmt: skip
    if slower:
        lines.append("Not faster compiled: " + ", ".join(slower) + ".")
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _frame(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows) if rows else None


def _stage_rows(run: StoryRun) -> Any:
    """One row per stage case: compiled / pure in ns and in instructions."""
    rows = []
    for stage, pairs in STAGE_CASES.items():
        for variant, param in pairs:
            ns = run.measured.get(metric("stage", stage, variant, "ns"))
            count = run.measured.get(metric("stage", stage, variant, "instructions"))
            rows.append({"stage": stage, "variant": variant, "case": param,
                         "ns compiled / pure": ns.text() if ns else "–",
                         "instructions compiled / pure": count.text() if count else "–"})  # fmt: skip
    return _frame(rows)


def _in_process_rows(run: StoryRun) -> Any:
    """Median ns per GET of each in-process arm on each build."""
    rows = []
    for mode, builds in (run.extra.get("in_process") or {}).items():
        for arm in IN_PROCESS_ARMS:
            row: dict[str, Any] = {"mode": mode, "arm": arm}
            for build in BUILDS:
                values = builds.get(build, {}).get(arm) or []
                row[f"{build} ns/GET"] = f"{statistics.median(values):,.0f}" if values else "–"
            rows.append(row)
    return _frame(rows)


def _fraction_rows(run: StoryRun) -> Any:
    """Every client of the run as a fraction of the C client's two arms."""
    return _frame(list(run.extra.get("fractions") or []))


STORY = Story(
    "US-018", "compiled", "Compiling the hot path: mypyc against pure CPython",
    """The PRD's last answers were compiler-level; Python's counterpart is a compiler too. `rcopt build`
compiles the pure core, the stages and the multiplexer with mypyc (they are mypy-strict already) and keeps
the extension modules beside the pure package; `RCOPT_BUILD` or an `@compiled` bench arm picks them.
The clients' module (`client/`) stays pure: mypyc 2.4 mis-forwards its `**options` to a compiled
constructor, and the preset's shaped route is generated at run time, so it is Python in either build.
Measured here, pure against compiled: each stage's variants (pyperf ns, cachegrind instructions), the
whole route in-process (ns per GET, builds interleaved in fresh processes, with the uncompiled bare arm as
a control), and against the servers in both modes at several concurrencies, the preset and its composed
route in each build, with an A/A twin, the bare arm, the peers and the C client.""",
    run,
    criteria=(
        Criterion("Compiled build, cluster: at least 1.5x the bare arm's throughput",
                  metric("over_bare", "throughput"), ">=", 1.5, TARGET, THROUGHPUT_AA, headline=True,
                  before=metric("pure_over_bare", "throughput"), needs=NOT_BUILT),
        Criterion("Compiled build, cluster: at least 0.45 of redis-benchmark pipelined as deep as our writes",
                  metric("cclient", "pipelined"), ">=", 0.45, TARGET, THROUGHPUT_AA,
                  needs="a run beyond smoke with redis-benchmark and the compiled build"),
        Criterion("Compiling pays against the servers: cluster throughput, compiled / pure",
                  metric("route", "throughput", "cluster"), ">=", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, needs=NOT_BUILT, equivalence=NEGLIGIBLE),
        Criterion("Compiling pays against the servers: client CPU per op, compiled / pure",
                  metric("route", "cpu", "cluster"), "<=", 1, TARGET, CPU_AA, before=CPU_AA, headline=True,
                  needs=NOT_BUILT, equivalence=NEGLIGIBLE),
        exact_criterion("Compiling pays per GET of the whole route: instructions in-process, compiled / pure",
                        metric("whole", "optimized", "instructions"), "<", 1, TARGET),
        Criterion("Compiling pays in-process: ns per GET of the preset, compiled / pure",
                  metric("inprocess", "shaped", "cluster"), "<", 1, TARGET, metric("inprocess", "aa", "cluster"),
                  before=metric("inprocess", "aa", "cluster"), needs=NOT_BUILT),
    ),
    recorded=(
        *(Recorded(f"in-process ns per GET, {arm}, {mode}: compiled / pure", metric("inprocess", arm, mode),
                   "{:.2f}", needs=NOT_BUILT)
          for mode in MODES for arm in ("shaped", "composed", "bare")
          if (arm, mode) != ("shaped", "cluster")),
        Recorded("standalone throughput, compiled / pure", metric("route", "throughput", "standalone"), "{:.2f}",
                 needs=NOT_BUILT),
        Recorded("composed route: instructions per GET in-process, compiled / pure",
                 metric("whole", "composed", "instructions"), "{:.3f}", needs="cachegrind"),
        *(Recorded(f"instructions per GET in-process, {arm}, {build} build", metric("whole", arm, build),
                   "{:,.0f}", needs="cachegrind") for arm in ROUTES for build in BUILDS),
        *(Recorded(f"composed route throughput, {mode}: compiled / pure", metric("composed", "throughput", mode),
                   "{:.2f}", needs=NOT_BUILT) for mode in MODES),
        *(Recorded(f"cluster throughput at C={c}, compiled / pure", metric("route", "throughput", f"c{c}"),
                   "{:.2f}", needs=f"levels including {c}") for c in (1, 16, 64, 256)),
        Recorded("pure build / bare arm, cluster throughput", metric("pure_over_bare", "throughput"), "{:.2f}"),
        *(Recorded(f"compiled build / {p}, cluster throughput", metric("over", p), "{:.2f}",
                   needs=f"the peer {p} (a smoke run leaves the peers out)") for p in PEERS),
        Recorded("compiled build / redis-benchmark unpipelined, cluster throughput", metric("cclient", "plain"),
                 "{:.2f}", needs="a run beyond smoke with redis-benchmark and the compiled build"),
        *(Recorded(f"{stage}.{variant}: {what}, compiled / pure", metric("stage", stage, variant, figure), "{:.2f}",
                   needs="cachegrind" if figure == "instructions" else f"{NOT_BUILT} and stage_ns=True")
          for stage, pairs in STAGE_CASES.items() for variant, _ in pairs
          for figure, what in (("ns", "ns per call"), ("instructions", "instructions per call"))),
    ),
    parameters=(*(p for p in BENCH if p != "concurrency"), "cachegrind"),
    own=(LEVELS, ROUNDS, STAGE_NS),
    tables={"stages": _stage_rows, "in_process": _in_process_rows, "c_client": _fraction_rows},
    sections=(
        Section("## Per stage\n\nEach stage's preset variant and baseline variant, the same micro-benchmark case "
                "run on each build: pyperf ns per call and cachegrind instructions per call, compiled / pure.",
                ('nb.story_table(run, "stages")',)),
        Section("## In-process: ns per GET\n\nAgainst a fake transport (no servers), a fresh process per build "
                "and round, the builds interleaved. The bare arm (bench/bare.py) is never compiled: its "
                "ratio is the control for what changing process costs.",
                ('nb.story_table(run, "in_process")',)),
        Section("## The C client as the limit\n\nEvery client of the run as a fraction of `redis-benchmark`, "
                "without pipelining and pipelined as deep as the compiled build's own writes.",
                ('nb.story_table(run, "c_client")',)),
    ),
    cells=without_profiles,  # a compiled function has no Python frames to profile
    paragraph=paragraph,
    headlines={"optimized_over_bare": metric("pure_over_bare", "throughput")},
)  # fmt: skip
