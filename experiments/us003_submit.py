"""US-003: per-command submit (encoding, allocation, timeouts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.compare import compare_stages, cumulative_stages
from rediscluster_opt.lab.criteria import Criterion
from rediscluster_opt.lab.engine import by_case, ratio_of
from rediscluster_opt.lab.instruments import micro, perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation import plots
from rediscluster_opt.lab.story import (
    NEGLIGIBLE,
    TARGET,
    THROUGHPUT_AA,
    Story,
    StoryRun,
    exact_criterion,
    gain_criteria,
    share_criterion,
)
from rediscluster_opt.results import Interval

_S = "rediscluster_opt.stages."
ALLOC, SUBMIT_VS_EVENT, POOL = "alloc.pooled_vs_event", "micro.submit_vs_event", "throughput.pool"
POOLED_CYCLE = perfcases.case_name("submit", "pooled", "cycle")
EVENT_CYCLE = perfcases.case_name("submit", "event", "cycle")


def run(story: Story, params: Parameters) -> StoryRun:
    future = ClientConfig(
        "ours",
        cumulative_stages(story).replace(submit="future").as_dict(),
        name="cumulative after, submit=future (no pool)",
    )
    cases = [c.name for s in ("encoder", "submit") for c in perfcases.cases_for(s)]
    found = compare_stages(story, params, [future], cases)
    found.micro["allocations"] = micro.allocations_per_pending_command(pending=500 if params.smoke else 2000)
    blocks = {r["variant"]: r["blocks_per_command"] for r in found.micro["allocations"]}
    instructions = by_case(found.micro["instructions"]["rows"], "instructions_per_call")
    found.measured |= {
        ALLOC: Interval.exact(blocks["pooled"] / blocks["event"]) if blocks["event"] else None,
        SUBMIT_VS_EVENT: ratio_of(instructions, POOLED_CYCLE, EVENT_CYCLE),
        POOL: found.ratio(found.after, future.label),
    }
    extra = {"roles": found.names, "micro": found.micro}
    return engine.save_run(
        story, params, found.record, found.measured, extra=extra, linked={"profile": found.profile}
    )


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    allocations = run.extra.get("micro", {}).get("allocations")
    if not allocations:
        return []
    fig = blocks_per_command(allocations, title=f"{run.story.id}: memory per pending command")
    return [nb.save_figure(fig, params, run, "blocks_per_command")]


def blocks_per_command(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    fig, axes = plots.figure(1, 1, width=6, height=3.5)
    ax = axes[0][0]
    roles = plots.variant_roles("submit")
    colours = [plots.ROLE_COLOURS[roles.get(r["variant"], "variant")] for r in rows]
    ax.bar(
        [r["variant"] for r in rows],
        [r["blocks_per_command"] for r in rows],
        color=colours,
        edgecolor=plots.MARK,
    )
    for i, r in enumerate(rows):
        ax.annotate(
            f"{r['blocks_per_command']:.1f} ({r['bytes_per_command']:.0f} B)",
            (i, r["blocks_per_command"]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("memory blocks held per pending command")
    ax.set_title(title or "What a waiting command holds (tracemalloc)")
    return fig


STORY = Story(
    "US-003", "submit", "Per-command submit: encoding, allocation, timeouts",
    """Per-command submit: RESP encoding (Python vs `hiredis.pack_command`), and how a caller waits (an
Event + `asyncio.wait_for` per command vs a bare future with one deadline sweep per connection, with
or without recycled pending records). The PRD's SlotPool idea is measured here; in CPython the free
lists of the runtime may already make pooling moot, and the experiment says so if it does.""",
    run,
    ("encoder", "submit"),
    (_S + "encoder.encode_hiredis", "rediscluster_opt.core.resp.encode_command", _S + "submit.EventSubmit.call",
     _S + "submit.PooledFutureSubmit.call", _S + "submit.PooledFutureSubmit.deliver_many",
     _S + "submit.EventSubmit.deliver_one"),
    ("call", "encode_command", "encode_hiredis", "encode_python", "wait_for", "deliver_one", "deliver_many"),
    criteria=(
        exact_criterion("memory blocks per pending command, pooled / event (alloc reduced)", ALLOC, "<", 1),
        exact_criterion("instructions per submit cycle, pooled / event", SUBMIT_VS_EVENT, "<", 1, TARGET),
        Criterion("recycled records pay: throughput pooled / plain futures", POOL, ">=", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, equivalence=NEGLIGIBLE),
        share_criterion("encoding and submitting"),
        *gain_criteria(),
    ),
    micro_tables=("wall", "instructions", "allocations"),
    parameters=(*BENCH, "cachegrind"),
    figures=figures,
)  # fmt: skip
