"""US-021: the native stage variants (Cython) against the floors: the event loop alone, the
bare multiplexer and the C client, in one interleaved run with the pure preset and the peers."""

from __future__ import annotations

from typing import Any

from rediscluster_opt import native
from rediscluster_opt.bench.adapters import C_CLIENT, ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import by_case, exact, headline_level
from rediscluster_opt.lab.instruments import micro, perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, TARGET, THROUGHPUT_AA, Story, StoryRun, exact_criterion
from rediscluster_opt.stages import NATIVE

MODES = ("cluster", "standalone")
PEERS = ("redis-py", "valkey-glide")  # the default run's peers, in every comparison
BARE, LOOP = "calibration:bare", "calibration:loop"
PIPELINE = 16  # the C client pipelined this deep: the limit
OVER_BARE = 1.5  # the native variants' target over the bare multiplexer's throughput
NOT_BUILT = "the native stage variants (rcopt build: Cython and a C compiler)"
C_LIMIT = "a run beyond smoke with redis-benchmark and the native variants"
BEYOND_SMOKE = "a run beyond smoke (standalone and the peers) with the native variants"


def metric(arm: str, over: str, figure: str = "throughput", mode: str = "cluster") -> str:
    """`arm` ('native' or 'pure') over `over` ('pure', 'bare', 'loop', 'c_plain',
    'c_pipelined' or a peer), in `figure` ('throughput' or 'cpu') and `mode`."""
    return f"{arm}.over_{over.replace('-', '_')}.{figure}.{mode}"


# Instructions per GET in-process (cachegrind, deterministic; asyncio's own loop, against fake
# nodes that answer on the next loop tick: lab.instruments.perfcases): the event loop alone, the
# bare multiplexer, the pure and the native preset, and the pure preset with one native variant
# each (what each takes off).
GET_CASES = {
    "loop": perfcases.case_name("floor", "loop", "get"),
    "bare": perfcases.case_name("floor", "bare", "get"),
    "pure": perfcases.case_name("route", "optimized", "get"),
    **(
        {"native": perfcases.case_name("route", "native", "get")}
        | {stage: perfcases.case_name("route", f"{stage}=native", "get") for stage in NATIVE}
        if native.load() is not None
        else {}
    ),
}
PRESETS = {"pure": "optimized", "native": "native"}
# A GET's instructions by part, from cases that each add one part to the last: the loop alone;
# + the fake node's round trip; + one connection's stages (the GET sent already encoded); + the
# route (the whole GET). Parsing and routing are their stage cases alone, less the harness's
# call (perfcases' floor.call), so routing is what the stages cost as calls: a route that
# inlines them pays less, and its command method's figure is that much lower.
PARTS = {
    "loop": "the event loop and the task's wake-up (no client can take it off)",
    "fake_node": "the fake node's round trip (the harness's; a real server's is not the client's)",
    "connection": "writing and resolving: the submit, writer and delivery stages",
    "parsing": "parsing: the parser stage",
    "routing": "routing: slot hash, slot map and node pick",
    "command": "the command method and its encoding (the route less routing)",
}


def instructions(part: str) -> str:
    """Instructions per GET in-process of `part` (a GET_CASES key, or 'split.<preset>.<part>')."""
    return f"instructions.{part}"


def _split_cases(preset: str) -> dict[str, str]:
    """The cases a preset's split reads, by role."""
    stages = perfcases.route_stages(preset)
    found = {
        "loop": GET_CASES["loop"],
        "node": perfcases.case_name("floor", "node", "get"),
        "call": perfcases.case_name("floor", "call", "builtin"),
        "connection": perfcases.case_name("connection", preset, "get"),
        "route": perfcases.case_name("route", preset, "get"),
    }
    for stage, param in (
        ("slot_hash", "k16"),
        ("slot_map", "s8000"),
        ("node_select", "x1"),
        ("parser", "bulk200"),
    ):
        found[stage] = perfcases.case_name(stage, getattr(stages, stage), param)
    return found


def split(counts: dict[str, float], cases: dict[str, str]) -> dict[str, float] | None:
    """A GET's instructions by part (PARTS), adding up to the whole GET's; None when a
    case was not counted."""
    got = {role: counts.get(name) for role, name in cases.items()}
    if any(value is None for value in got.values()):
        return None
    n = {role: float(value) for role, value in got.items() if value is not None}

    def alone(*stages: str) -> float:
        return sum(n[stage] - n["call"] for stage in stages)

    routing, parsing = alone("slot_hash", "slot_map", "node_select"), alone("parser")
    return {
        "loop": n["loop"],
        "fake_node": n["node"] - n["loop"],
        "connection": n["connection"] - n["node"] - parsing,
        "parsing": parsing,
        "routing": routing,
        "command": n["route"] - n["connection"] - routing,
    }


def _instructions(params: Parameters) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the cachegrind rows, the figures): per GET of each case, native / pure, what each
    native stage alone takes off the pure preset's count, and each preset's split by part;
    each figure None (named, unmeasured) when cachegrind is off or the native variants are
    not built."""
    built = [arm for arm in PRESETS if arm in GET_CASES]
    splits = {arm: _split_cases(PRESETS[arm]) for arm in built}
    names = sorted({*GET_CASES.values(), *(name for cases in splits.values() for name in cases.values())})
    found: dict[str, Any] = (
        micro.stage_and_get_counts(names, params.smoke)
        if params.cachegrind
        else {"rows": [], "skipped": "switched off for this run (cachegrind=False)"}
    )
    counts = by_case(found["rows"], "instructions_per_call")
    per_get = {
        part: counts.get(GET_CASES.get(part, "")) for part in ("loop", "bare", "pure", "native", *NATIVE)
    }
    pure, ours = per_get["pure"], per_get["native"]
    figures: dict[str, Any] = {
        instructions(part): exact(per_get[part]) for part in ("loop", "bare", "pure", "native")
    }
    figures[instructions("native_over_pure")] = exact(ours / pure if ours and pure else None)
    for stage in NATIVE:
        saved = per_get[stage]
        figures[instructions(f"saved.{stage}")] = exact(pure - saved if pure and saved else None)
    for arm in PRESETS:
        parts = split(counts, splits[arm]) if arm in splits else None
        for part in PARTS:
            figures[instructions(f"split.{arm}.{part}")] = exact(parts[part] if parts else None)
    return found, figures


def _arms(params: Parameters) -> dict[str, ClientConfig]:
    """Every arm by role; the native one only where it is built, the C client and the peers
    beyond a smoke run."""
    pure = ClientConfig.parse("optimized")
    arms = {"pure": pure, "aa": engine.twin(pure), "bare": ClientConfig.parse(BARE),
            "loop": ClientConfig.parse(LOOP)}  # fmt: skip
    if native.load() is not None:
        arms["native"] = ClientConfig.parse("native")
    if not params.smoke:
        plain = ClientConfig.parse(C_CLIENT)
        if plain.available():
            arms |= {"c_plain": plain, "c_pipelined": ClientConfig.parse(f"{C_CLIENT}:pipeline={PIPELINE}")}
        arms |= {peer: ClientConfig.parse(peer) for peer in PEERS}
    return arms


def run(story: Story, params: Parameters) -> StoryRun:
    arms = _arms(params)
    level = headline_level(params.concurrency)
    cluster_only = [arms[role].label for role in arms if role not in ("pure", "native", "bare")]
    modes = ("cluster",) if params.smoke else MODES
    record = engine.bench(params, list(arms.values()), story.id, modes=modes, cluster_only=cluster_only)
    where: dict[str, Any] = {"concurrency": level}
    measured = engine.aa_control(record, arms["aa"].label, arms["pure"].label, mode="cluster", **where)
    for arm in ("native", "pure"):
        if arm not in arms:
            continue
        for over in ("pure", "bare", "loop", "c_plain", "c_pipelined", *PEERS):
            if over == arm or over not in arms:
                continue
            for mode in modes if over in ("pure", "bare") else ("cluster",):
                throughput, cpu = engine.ratio_pair(
                    record, arms[arm].label, arms[over].label, mode=mode, **where
                )
                measured |= {
                    metric(arm, over, "throughput", mode): throughput,
                    metric(arm, over, "cpu", mode): cpu,
                }
    skipped = (
        {} if "native" in arms else {metric("native", "pure"): f"not built here: {NOT_BUILT} is missing"}
    )
    counted, figures = _instructions(params)
    measured |= figures
    roles = {"optimized": arms["pure"].label, AA: arms["aa"].label}
    extra = {
        "roles": roles,
        # The build's key (a hash of its sources), not its folder: a record names no machine's paths.
        "native_build": native.build_dir().name if "native" in arms else None,
        "instructions": counted,
    }
    return engine.save_run(story, params, record, measured, extra=extra, skipped=skipped)


def paragraph(run: StoryRun) -> str:
    """Where the native variants stand between the pure preset and the floors, then the criteria."""
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    found = run.measured.get
    of_pure, of_bare, of_loop = (found(metric("native", over)) for over in ("pure", "bare", "loop"))
    pure_of_loop = found(metric("pure", "loop"))
    if of_pure is None or of_bare is None:
        lines.append(f"Not answered: the native variants were not measured ({NOT_BUILT}).")
    else:
        lines.append(
            f"The native variants give {of_pure.text()}x the pure preset's cluster GET throughput and "
            f"{of_bare.text()}x the bare multiplexer's."
        )
        if of_loop is not None and pure_of_loop is not None:
            lines.append(
                f"The event loop alone (a future resolved with no I/O) bounds every asyncio client: the native "
                f"variants reach {of_loop.text()} of its throughput and the pure preset {pure_of_loop.text()}; "
                "what separates them from it is the socket, the parser, the route and the caller's coroutine."
            )
    lines += _split_lines(found)
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _split_lines(found: Any) -> list[str]:
    """Where a GET's instructions go in-process, and so which part is the floor and by how much."""
    loop, bare, pure, ours = (found(instructions(part)) for part in ("loop", "bare", "pure", "native"))
    if loop is None or pure is None:
        return []
    lines = [f"In-process on asyncio's own loop, counted by cachegrind, a GET takes {pure.median:,.0f} instructions "
             f"on the pure preset" + (f" and {ours.median:,.0f} on the native one" if ours is not None else "")
             + f"; {loop.median:,.0f} of them are the event loop's and the task's wake-up alone, which no "
             "client can take off."]  # fmt: skip
    arm = "native" if ours is not None else "pure"
    parts = {part: found(instructions(f"split.{arm}.{part}")) for part in PARTS}
    if all(value is not None for value in parts.values()):
        own = sum(parts[part].median for part in PARTS if part not in ("loop", "fake_node"))
        named = ", ".join(f"{PARTS[part].split(':')[0]} {parts[part].median:,.0f}"
                          for part in ("connection", "parsing", "routing", "command"))  # fmt: skip
        lines.append(
            f"Of the {arm} preset's, the fake node's round trip takes {parts['fake_node'].median:,.0f} and the "
            f"client's own parts {own:,.0f} ({named})."
        )
        if bare is not None:
            floor = loop.median + parts["fake_node"].median  # a client that cost nothing of its own
            bare_own = bare.median - floor
            room = bare.median / OVER_BARE - floor
            lines.append(
                f"The bare multiplexer's GET takes {bare.median:,.0f} in all, {bare_own:,.0f} of its own; the loop "
                f"is {loop.median / bare.median:.0%} of it. A client that cost nothing would take {floor:,.0f}, at "
                f"most {bare.median / floor:.2f}x the bare GET's rate, and {OVER_BARE:g}x would leave it {room:,.0f} "
                f"instructions of its own, where the bare multiplexer needs {bare_own:,.0f}: on asyncio's loop "
                "the target is out of reach for any client, and the floor is the event loop's. The benchmark's "
                "uvloop costs less per wake-up, so there the throughput ratios above decide."
            )
    return lines


STORY = Story(
    "US-021", "native", "The native stage variants against the floors",
    """The submit, writer, delivery, slot-hash and dispatch stages have variants written in Cython
(`rediscluster_opt/native/hotpath.pyx`): the pending commands in a ring of C structs, queued and
resolved by C calls between the native stages, and the command methods (the keyed route and GET, SET,
INCR... with their RESP prefixes built once) as Cython coroutines. This story sets them, as the `native`
preset (the optimized preset with the five native variants), against the pure preset with its A/A twin and against three floors
measured in the same interleaved run: `calibration:loop`, the event loop alone (64 tasks each awaiting a
future the loop resolves with no I/O: the least any asyncio client can cost per operation), `calibration:bare`
(70 lines of multiplexer over hiredis, no guarantees) and `redis-benchmark`, the C client, unpipelined and
pipelined 16 deep; with the peers beside them. Cluster and standalone GETs, throughput and client CPU per
operation; and, counted by cachegrind in-process, the instructions of a GET: the event loop alone, the bare
multiplexer, each preset, what each native stage takes off the pure preset, and each preset's GET split by
part (the loop, the fake node, writing and resolving, parsing, routing, the command method), from cases that
each add one part to the last, so the cost that remains has names and the floor has a size.""",
    run,
    criteria=(
        Criterion(f"Native variants, cluster: at least {OVER_BARE:g}x the bare arm's throughput",
                  metric("native", "bare"), ">=", OVER_BARE, TARGET, THROUGHPUT_AA, headline=True,
                  before=metric("pure", "bare"), needs=NOT_BUILT),
        Criterion(f"Native variants, cluster: at least 0.45 of redis-benchmark pipelined {PIPELINE} deep",
                  metric("native", "c_pipelined"), ">=", 0.45, TARGET, THROUGHPUT_AA,
                  before=metric("pure", "c_pipelined"), needs=C_LIMIT),
        Criterion("The pure preset, cluster: at least 0.90 of the bare arm's throughput",
                  metric("pure", "bare"), ">=", 0.90, TARGET, THROUGHPUT_AA),
        Criterion("The native variants pay: cluster throughput, native / pure", metric("native", "pure"),
                  ">=", 1, TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA, needs=NOT_BUILT),
        Criterion("The native variants pay: client CPU per op, native / pure", metric("native", "pure", "cpu"),
                  "<=", 1, TARGET, CPU_AA, before=CPU_AA, headline=True, needs=NOT_BUILT),
        exact_criterion("The native variants pay per GET in-process: instructions, native / pure",
                        instructions("native_over_pure"), "<", 1, TARGET, needs=NOT_BUILT),
    ),
    recorded=(
        *(Recorded(f"instructions per GET in-process: {what}", instructions(part), "{:,.0f}",
                   needs="cachegrind" + ("" if part in ("loop", "bare", "pure") else f", {NOT_BUILT}"))
          for part, what in (("loop", "the event loop alone (a future it resolves)"),
                             ("bare", "the bare multiplexer"), ("pure", "the pure preset"),
                             ("native", "the native preset"))),
        *(Recorded(f"instructions per GET in-process, {arm} preset: {what}", instructions(f"split.{arm}.{part}"),
                   "{:,.0f}", needs="cachegrind" + ("" if arm == "pure" else f", {NOT_BUILT}"))
          for arm in PRESETS for part, what in PARTS.items()),
        *(Recorded(f"instructions per GET the native {stage} stage takes off the pure preset",
                   instructions(f"saved.{stage}"), "{:,.0f}", needs=f"cachegrind, {NOT_BUILT}") for stage in NATIVE),
        Recorded("native / pure, standalone throughput", metric("native", "pure", mode="standalone"), "{:.2f}",
                 needs=BEYOND_SMOKE),
        Recorded("native / bare, client CPU per op", metric("native", "bare", "cpu"), "{:.2f}", needs=NOT_BUILT),
        Recorded("native / event loop alone, throughput", metric("native", "loop"), "{:.2f}", needs=NOT_BUILT),
        Recorded("pure / event loop alone, throughput", metric("pure", "loop"), "{:.2f}"),
        Recorded("native / event loop alone, client CPU per op", metric("native", "loop", "cpu"), "{:.2f}",
                 needs=NOT_BUILT),
        Recorded("native / redis-benchmark unpipelined, throughput", metric("native", "c_plain"), "{:.2f}",
                 needs=C_LIMIT),
        *(Recorded(f"native / {peer}, throughput", metric("native", peer), "{:.2f}", needs=BEYOND_SMOKE)
          for peer in PEERS),
    ),
    parameters=(*BENCH, "cachegrind"),
    headlines={"native_over_optimized": metric("native", "pure"), "native_over_bare": metric("native", "bare")},
    claims={
        "The native (Cython) variants take client CPU per GET off the pure preset": metric("native", "pure", "cpu"),
        f"The native variants reach {OVER_BARE:g}x the bare multiplexer's throughput": metric("native", "bare"),
    },
    cells=without_profiles,  # arms compared against floors; the native variants have no Python frames to profile
    paragraph=paragraph,
)  # fmt: skip
