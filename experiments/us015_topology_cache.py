"""US-015: a per-thread topology cache. The PRD asks whether one would "avoid even the
shared read on every command"; here the ways a route could reach the slot table, per
read, and what the best of them could save of a whole command's cost."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import by_case, headline_level, ratio_of, wall_ns
from rediscluster_opt.lab.instruments.perfcases import TABLE_READS, case_name
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, NEGLIGIBLE, TARGET, Story, StoryRun
from rediscluster_opt.results import Interval

NOW = "attribute"  # what the fused route does: `slot_map._table[slot]`, slot_map in a closure cell
WAYS = {
    "closure": "the table as a closure constant",
    "bound_local": "the table as a bound default argument",
    "contextvar": "a context variable",
    "thread_local": "a thread-local's attribute",
}
# What each would ask of the client beyond the read (the paragraph says it).
UPKEEP = (
    "A closure constant or a bound argument must be rebuilt into the route on every refresh and MOVED "
    "(the route's source is compiled once per client today); a context variable set after the tasks start "
    "is not seen by them (each asyncio task copies the context when it is made), and a thread-local "
    "caches per thread what is already one event loop's."
)


def metric(way: str, figure: str) -> str:
    """'instructions' and 'ns' per read of `way` over the attribute read; 'saved' the ns
    per read it saves, over the optimized preset's client CPU per op."""
    return f"table_read.{way}.{figure}"


BEST_SAVED = "table_read.best.saved"  # the most any way saves of a command's client CPU


def case(way: str) -> str:
    return case_name("table_read", way, "s16383")


def run(story: Story, params: Parameters) -> StoryRun:
    micro = engine.micro_figures(params, [case(w) for w in TABLE_READS])
    wall = {r["case"]: r for r in micro["wall"]}
    instructions = by_case(micro["instructions"]["rows"], "instructions_per_call")
    default = ClientConfig.parse("optimized")
    twin = engine.twin(default)
    record = engine.bench(params, [default, twin], story.id)
    where: dict[str, Any] = {"concurrency": headline_level(params.concurrency)}
    measured = engine.aa_control(record, twin.label, default.label, **where)
    cpu_ns = _cpu_ns_per_op(record, default.label, where["concurrency"])
    now = wall_ns(wall, case(NOW))
    for way in WAYS:
        ns = wall_ns(wall, case(way))
        measured[metric(way, "instructions")] = ratio_of(instructions, case(way), case(NOW))
        measured[metric(way, "ns")] = Interval.exact(ns.median / now.median) if ns and now else None
        saved = (now.median - ns.median) / cpu_ns if ns and now and cpu_ns else None
        measured[metric(way, "saved")] = engine.exact(saved)
    savings = [m.median for way in WAYS if (m := measured[metric(way, "saved")]) is not None]
    measured[BEST_SAVED] = engine.exact(max(savings) if savings else None)
    roles = {"optimized": default.label, AA: twin.label}
    return engine.save_run(story, params, record, measured, extra={"roles": roles, "micro": micro})


def _cpu_ns_per_op(record: dict[str, Any], label: str, concurrency: int) -> float | None:
    """The preset's median client CPU per op in ns, from the run's summary rows."""
    for row in record["summary"]["rows"]:
        if row["config"] == label and row["mode"] == "cluster" and row["concurrency"] == concurrency:
            found = (row.get("cpu_us_per_op") or {}).get("median")
            return found * 1000 if found else None
    return None


def paragraph(run: StoryRun) -> str:
    """The answer first: the best way's saving per command, as a share of the command's
    client CPU beside the CPU A/A; then the upkeep each way asks, and the criteria."""
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    saved = {w: run.measured.get(metric(w, "saved")) for w in WAYS}
    known = {w: s.median for w, s in saved.items() if s is not None}
    if not known:
        lines.append("Not answered: the per-read times or the preset's CPU per op were not measured.")
    else:
        best = max(known, key=lambda w: known[w])
        aa, noise = run.measured.get(CPU_AA), _noise(run)
        lines.append(
            f"{'No' if known[best] < noise else 'Yes'}: the cheapest way, {WAYS[best]}, saves "
            f"{known[best]:.2%} of a command's client CPU against the attribute read the route does now, "
            f"while this run's CPU A/A ({aa.text() if aa else 'not measured'}) cannot tell apart less than "
            f"{noise:.2%}."
        )
    lines.append(UPKEEP)
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _noise(run: StoryRun) -> float:
    """Half the width of the CPU A/A's interval: a saving below it cannot be seen in a run."""
    aa = run.measured.get(CPU_AA)
    return (aa.high - aa.low) / 2 if aa is not None else float("inf")


STORY = Story(
    "US-015", "topology_cache", "A per-thread topology cache: the ways a route could reach the slot table",
    """The PRD's open question "a per-thread topology cache to avoid even the shared read on every command?"
The fused route reads the slot table as an attribute of the slot-map stage it holds (`slot_map._table[slot]`),
so a refresh or a MOVED reply that replaces the table is seen by the next command. The candidates keep the
table closer: as a closure constant or a bound default argument of the route (a local read), in a context
variable, or in a thread-local. Each read is measured on its own (pyperf ns, cachegrind instructions), and
what the cheapest could save is set against the optimized preset's client CPU per command, measured in the
same run beside its A/A twin.""",
    run,
    criteria=(
        # The question is whether a cache is worth its upkeep: the lead reads that answer,
        # not which read is cheapest per read (one is, by a hair: the per-way criteria).
        Criterion(f"A cache is worth having: the cheapest way saves at least {NEGLIGIBLE:.0%} of a command's "
                  "client CPU", BEST_SAVED, ">=", NEGLIGIBLE, TARGET, fmt="{:.2%}", headline=True),
        *(Criterion(f"{what} beats the attribute read: instructions per read, {way} / attribute",
                    metric(way, "instructions"), "<", 1, TARGET, fmt="{:.3g}", needs="cachegrind")
          for way, what in WAYS.items()),
    ),
    recorded=(
        *(Recorded(f"{what}: ns per read / attribute", metric(way, "ns"), "{:.2f}") for way, what in WAYS.items()),
        *(Recorded(f"{what}: ns saved per read / the preset's client CPU per op", metric(way, "saved"), "{:.4f}")
          for way, what in WAYS.items()),
    ),
    micro_tables=("wall", "instructions"),
    parameters=(*BENCH, "cachegrind"),
    cells=without_profiles,  # one route, measured once: no profiles
    paragraph=paragraph,
)  # fmt: skip
