"""US-012: the slot map's container. The PRD asks whether "an unboxed or small array would
beat the vector"; here: the flat list against a tuple, a dict, and node indexes in an
unboxed `array('H')` or in `bytes` beside a node list."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import by_case, headline_level, ratio_of, wall_ns
from rediscluster_opt.lab.instruments import perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, NEGLIGIBLE, TARGET, THROUGHPUT_AA, Story, StoryRun
from rediscluster_opt.results import Interval

LIST = "flat"  # the optimized preset's container, the one the others are measured against
CONTAINERS = {
    "tuple": "a tuple",
    "dict": "a dict of the served slots",
    "array": "node indexes in an unboxed array('H')",
    "bytes": "node indexes in bytes",
}
LAST = "s16383"  # the case every container is compared at (the list's cost does not depend on it)


def metric(container: str, figure: str) -> str:
    """`figure` of `container` over the list's: 'instructions' and 'ns' per lookup at the
    last slot, 'throughput' and 'cpu' of the whole route."""
    return f"containers.{container}.{figure}"


def run(story: Story, params: Parameters) -> StoryRun:
    cases = [c.name for c in perfcases.cases_for("slot_map") if c.variant != "ranges"]
    micro = engine.micro_figures(params, cases)
    wall = {r["case"]: r for r in micro["wall"]}
    instructions = by_case(micro["instructions"]["rows"], "instructions_per_call")
    default = ClientConfig.parse("optimized")
    twin = engine.twin(default)
    arms = {c: ClientConfig.parse(f"optimized:slot_map={c}") for c in CONTAINERS}
    record = engine.bench(params, [default, twin, *arms.values()], story.id)
    where: dict[str, Any] = {"concurrency": headline_level(params.concurrency)}
    list_case = perfcases.case_name("slot_map", LIST, LAST)
    measured = engine.aa_control(record, twin.label, default.label, **where)
    for container, config in arms.items():
        case = perfcases.case_name("slot_map", container, LAST)
        ns, list_ns = wall_ns(wall, case), wall_ns(wall, list_case)
        throughput, cpu = engine.ratio_pair(record, config.label, default.label, **where)
        measured |= {
            metric(container, "instructions"): ratio_of(instructions, case, list_case),
            metric(container, "ns"): Interval.exact(ns.median / list_ns.median) if ns and list_ns else None,
            metric(container, "throughput"): throughput,
            metric(container, "cpu"): cpu,
        }
    roles = {"optimized": default.label, AA: twin.label}
    return engine.save_run(story, params, record, measured, extra={"roles": roles, "micro": micro})


def paragraph(run: StoryRun) -> str:
    """The answer first: does an unboxed array (or bytes) beat the list, per lookup and
    for the whole route; then the criteria as every story lists them."""
    rows = {r["metric"]: r for r in run.acceptance}
    parts = []
    for container in ("array", "bytes"):
        shown = [
            f"{label} {row['measured']} ({row['verdict']})"
            for label, figure in (
                ("instructions per lookup", "instructions"),
                ("route throughput", "throughput"),
            )
            if (row := rows.get(metric(container, figure))) is not None and row["effect"]
        ]
        if shown:
            what = CONTAINERS[container]
            parts.append(f"{what[0].upper()}{what[1:]} over the list: " + ", ".join(shown))
    beats = [r["criterion"] for r in run.acceptance if r["verdict"] == "met"]
    answer = (
        "Yes, for: " + "; ".join(beats) + "."
        if beats
        else "No: no container beats the list beyond its noise here, so the optimized preset keeps the list."
    )
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)}).", answer, *(p + "." for p in parts)]
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _beats(container: str) -> tuple[Criterion, ...]:
    what = CONTAINERS[container]
    return (
        Criterion(f"{what} beats the list: instructions per lookup (last slot), {container} / list",
                  metric(container, "instructions"), "<", 1, TARGET, fmt="{:.3g}", needs="cachegrind"),
        Criterion(f"{what} beats the list in the whole route: throughput, {container} / list",
                  metric(container, "throughput"), ">=", 1, TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA,
                  headline=container == "array", equivalence=NEGLIGIBLE),
        Criterion(f"{what} beats the list in the whole route: client CPU per op, {container} / list",
                  metric(container, "cpu"), "<=", 1, TARGET, CPU_AA, before=CPU_AA, headline=container == "array",
                  equivalence=NEGLIGIBLE),
    )  # fmt: skip


STORY = Story(
    "US-012", "slot_containers", "The slot map's container: list, tuple, dict, array, bytes",
    """The PRD's open question "would an unboxed or small array beat the vector?" in Python's terms. The
optimized slot map is a flat 16384-entry list of addresses: a lookup is an attribute read and an index.
The candidates: a tuple, a dict of the served slots, and node indexes in an unboxed `array('H')` (2 bytes
per slot) or in `bytes` (1 byte, at most 255 masters) beside a node list, a second index per lookup. Each
is measured per lookup (pyperf ns, cachegrind instructions) and in the whole route (the optimized preset
with only the slot map changed, interleaved with an A/A twin of the preset).""",
    run,
    criteria=(*_beats("array"), *_beats("bytes")),
    recorded=(
        *(Recorded(f"{CONTAINERS[c]}: ns per lookup (last slot), {c} / list", metric(c, "ns"), "{:.2f}")
          for c in CONTAINERS),
        *(Recorded(f"{CONTAINERS[c]}: {what}, {c} / list", metric(c, figure), "{:.2f}",
                   needs="cachegrind" if figure == "instructions" else "")
          for c in ("tuple", "dict")
          for what, figure in (("instructions per lookup", "instructions"), ("route throughput", "throughput"),
                               ("client CPU per op", "cpu"))),
    ),
    micro_tables=("wall", "instructions"),
    parameters=(*BENCH, "cachegrind"),
    cells=without_profiles,  # the same route with another container: no profiles
    paragraph=paragraph,
)  # fmt: skip
