"""US-013: the response-slot pool at higher concurrency. The PRD asks whether its SlotPool
"should be sized or striped differently"; here the pooled submit's free list, against no
pool and against a free list capped below what is in flight, at several concurrencies."""

from __future__ import annotations

import dataclasses
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.instruments import micro
from rediscluster_opt.lab.instruments.perfcases import case_name
from rediscluster_opt.lab.parameters import BENCH, Parameters, integers
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    NEGLIGIBLE,
    TARGET,
    THROUGHPUT_AA,
    Own,
    Story,
    StoryRun,
    exact_criterion,
)
from rediscluster_opt.stages.submit import PooledFutureSubmit

SMALL_CAP = 8  # records kept: well below what is in flight per node at every level swept
LEVELS = Own(
    "pool_levels",
    {"default": (64, 256), "full": (16, 64, 256, 1024), "quick": (32,)},
    integers,
    "concurrencies swept; the verdicts are read at the highest",
)
STRIPING = (
    "Striping has no Python analog here: a client, its connections and their pools belong to one "
    "event loop, whose callbacks never run at once, so no two callers contend for a free list; a "
    "program with several loops has a client, and a pool, per loop."
)


def metric(arm: str, figure: str, level: int | None = None) -> str:
    """`figure` ('throughput' or 'cpu') of an arm over the default pool: 'none' is no pool
    (the per-command tuple), 'small' a free list capped at SMALL_CAP; at `level`, or at the
    highest level swept when None."""
    return f"pool.{arm}.{figure}" + ("" if level is None else f".c{level}")


def arms() -> dict[str, ClientConfig]:
    """The default pool (the optimized preset), no pool, and the small cap."""
    pooled = ClientConfig.parse("optimized:submit=pooled")
    return {
        "pooled": pooled,
        "none": ClientConfig.parse("optimized:submit=future"),
        "small": dataclasses.replace(pooled, free_cap=SMALL_CAP),
    }


def run(story: Story, params: Parameters) -> StoryRun:
    levels: tuple[int, ...] = params.own[LEVELS.name]
    configs = arms()
    default = configs["pooled"]
    twin = engine.twin(default)
    record = engine.bench(params, [default, twin, configs["none"], configs["small"]], story.id,
                          concurrency=list(levels))  # fmt: skip
    top: dict[str, Any] = {"concurrency": max(levels)}
    measured = engine.aa_control(record, twin.label, default.label, **top)
    for arm in ("none", "small"):
        for level in (None, *levels):
            where = top if level is None else {"concurrency": level}
            throughput, cpu = engine.ratio_pair(record, configs[arm].label, default.label, **where)
            measured |= {metric(arm, "throughput", level): throughput, metric(arm, "cpu", level): cpu}
    counts = _counts(params)
    measured |= counts.pop("measured")
    roles = {"optimized": default.label, AA: twin.label}
    extra = {
        "roles": roles,
        "levels": list(levels),
        "free_cap": PooledFutureSubmit.FREE_CAP,
        "counts": counts,
    }
    return engine.save_run(story, params, record, measured, extra=extra)


CYCLES = {
    arm: case_name("submit", variant, "cycle") for arm, variant in (("pooled", "pooled"), ("none", "future"))
}


def _counts(params: Parameters) -> dict[str, Any]:
    """The exact figures beside the noisy ones: memory blocks a waiting command holds
    (tracemalloc) and instructions per submit-and-deliver cycle (cachegrind), no pool over
    the pool."""
    held = {
        r["variant"]: r for r in micro.allocations_per_pending_command(pending=500 if params.smoke else 2000)
    }
    instructions: dict[str, Any] = (
        micro.instruction_counts(list(CYCLES.values()), calls=2_000 if params.smoke else 20_000)
        if params.cachegrind
        else {"rows": [], "skipped": "switched off for this run (cachegrind=False)"}
    )
    per_cycle = engine.by_case(instructions["rows"], "instructions_per_call")
    pooled_blocks = held["pooled"]["blocks_per_command"]
    return {
        "held": held,
        "instructions": instructions,
        "measured": {
            metric("none", "blocks"): engine.exact(
                held["future"]["blocks_per_command"] / pooled_blocks if pooled_blocks else None
            ),
            metric("none", "instructions"): engine.ratio_of(per_cycle, CYCLES["none"], CYCLES["pooled"]),
        },
    }


def paragraph(run: StoryRun) -> str:
    """The answer first (keep, resize or drop the pool, with the figure at the highest
    concurrency), then the small cap's cost, striping, and the criteria."""
    rows = {r["metric"]: r for r in run.acceptance}
    levels = run.record["extra"].get("levels") or []
    at = f"C={max(levels)}" if levels else "the highest concurrency"
    pays, small = rows.get(metric("none", "throughput")), rows.get(metric("small", "throughput"))
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    if pays is None or not pays["effect"]:
        lines.append("Not answered: the pooled and unpooled arms were not both measured.")
    else:
        # The criterion reads "no pool is slower": met means the pool pays.
        keep = {
            "met": "Keep the pool",
            "NOT met": "The pool does not pay",
            "equivalent": f"The pool makes no difference that matters (within {pays['equivalence']})",
        }.get(pays["verdict"], "Not settled")
        lines.append(
            f"{keep}: at {at}, no pool gives {pays['measured']} of the pool's throughput ({pays['verdict']}, "
            f"A/A {pays['aa']})."
        )
    if small is not None and small["effect"]:
        cap = run.record["extra"].get("free_cap", PooledFutureSubmit.FREE_CAP)
        lines.append(
            f"Size: a free list kept to {SMALL_CAP} records gives {small['measured']} of the default's "
            f"({small['verdict']}); a connection never holds more records than it has commands in flight "
            f"(about C / masters), so the default cap of {cap} binds only past that many per node."
        )
    lines.append(STRIPING)
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


STORY = Story(
    "US-013", "response_pool", "The response-slot pool at higher concurrency: size and striping",
    f"""The PRD's open question "should the response-slot pool be sized or striped differently for higher
concurrency?" Our pool is the pooled submit's free list of pending records: a command takes a record
from it (or makes one), a reply gives it back, and the list keeps at most `FREE_CAP` (1024) between
bursts. Three arms, interleaved with an A/A twin of the default at each concurrency swept: the default
pool, no pool (a tuple per command, the `future` submit), and a free list kept to {SMALL_CAP} records,
far below what is in flight, so most commands allocate as with no pool but still pay the pool's
bookkeeping. Striping is the answer to threads contending for one pool; the paragraph says why it has
no analog here.""",
    run,
    criteria=(
        Criterion("The pool pays at the highest concurrency: throughput, no pool / pool", metric("none", "throughput"),
                  "<", 1, TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA, headline=True, equivalence=NEGLIGIBLE),
        Criterion("The pool pays at the highest concurrency: client CPU per op, no pool / pool",
                  metric("none", "cpu"), ">", 1, TARGET, CPU_AA, before=CPU_AA, headline=True,
                  equivalence=NEGLIGIBLE),
        exact_criterion("The pool saves what a waiting command holds: memory blocks, no pool / pool",
                        metric("none", "blocks"), ">", 1, TARGET, unit="ratio"),
        exact_criterion("The pool saves work per command: instructions per submit and deliver, no pool / pool",
                        metric("none", "instructions"), ">", 1, TARGET),
        Criterion(f"Its size matters: throughput, a free list of {SMALL_CAP} records / the default",
                  metric("small", "throughput"), "<", 1, TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA,
                  equivalence=NEGLIGIBLE),
    ),
    recorded=tuple(
        Recorded(f"{what} at C={level}, over the default pool", metric(arm, figure, level), "{:.2f}",
                 needs=f"pool_levels including {level}")
        for arm, name in (("none", "no pool"), ("small", f"a free list of {SMALL_CAP} records"))
        for figure, what_figure in (("throughput", "throughput"), ("cpu", "client CPU per op"))
        for level in (16, 64, 256, 1024)
        for what in (f"{name}: {what_figure}",)
    ),
    parameters=(*(p for p in BENCH if p != "concurrency"), "cachegrind"),  # its own levels instead
    own=(LEVELS,),
    cells=without_profiles,  # the arms run the same route with another submit: no profiles
    paragraph=paragraph,
)  # fmt: skip
