"""US-006: the reader, batch parsing and batch resolve (a 2x2 of parser and delivery)."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.compare import compare_stages, previous_stages
from rediscluster_opt.lab.criteria import Criterion
from rediscluster_opt.lab.engine import by_case, cprofiles, ratio_of
from rediscluster_opt.lab.instruments import perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.story import (
    NEGLIGIBLE,
    PRD,
    TARGET,
    THROUGHPUT_AA,
    Story,
    StoryRun,
    exact_criterion,
    gain_criteria,
    share_criterion,
)
from rediscluster_opt.results import Interval, interval

_S = "rediscluster_opt.stages."
REPLIES_PER_READ, DEQUEUES = "io.replies_per_read", "profile.dequeues_per_reply"
REPLIES_PER_READ_BEFORE, DEQUEUES_BEFORE = "io.replies_per_read.before", "profile.dequeues_per_reply.before"
HIREDIS_VS_PYTHON, BATCH, HIREDIS = "micro.hiredis_vs_python", "throughput.batch", "throughput.hiredis"
HIREDIS_200B = perfcases.case_name("parser", "hiredis", "bulk200")
PYTHON_200B = perfcases.case_name("parser", "python", "bulk200")


def _dequeues_per_reply(profile: dict[str, Any], label: str) -> Interval | None:
    """Calls that take replies off the pending queue, per completed command, from the
    cProfile call counts: 1 when each reply is dequeued on its own, less when batched.
    A count, not a timing: the calls and the commands of the profiled trials summed, one
    exact figure (an interval over two trials would read as two noisy samples)."""
    calls = ops = 0
    for trial in cprofiles(profile, label):
        if trial.get("ops"):
            ops += trial["ops"]
            calls += sum(
                r["calls"]
                for r in trial["profile"]["top"]
                if r["function"] in ("deliver_one", "deliver_many")
            )
    return Interval.exact(calls / ops) if ops else None


def run(story: Story, params: Parameters) -> StoryRun:
    before = previous_stages(story)
    mixed = [
        ClientConfig("ours", before.replace(parser=p, delivery=r).as_dict(), name=f"{p} + {r}")
        for p, r in (("python", "batch"), ("hiredis", "per_reply"))
    ]
    found = compare_stages(story, params, mixed, [c.name for c in perfcases.cases_for("parser")])
    instructions = by_case(found.micro["instructions"]["rows"], "instructions_per_call")

    def replies_per_read(label: str) -> Interval | None:
        return interval([1 / v for v in engine.io_values(found.record, label, "reads_per_command") if v])

    found.measured |= {
        REPLIES_PER_READ: replies_per_read(found.after),
        REPLIES_PER_READ_BEFORE: replies_per_read(found.before),
        DEQUEUES: _dequeues_per_reply(found.profile, found.after),
        DEQUEUES_BEFORE: _dequeues_per_reply(found.profile, found.before),
        HIREDIS_VS_PYTHON: ratio_of(instructions, HIREDIS_200B, PYTHON_200B),
        BATCH: found.ratio(found.after, "hiredis + per_reply"),
        HIREDIS: found.ratio(found.after, "python + batch"),
    }
    extra = {"roles": found.names, "micro": found.micro}
    return engine.save_run(
        story, params, found.record, found.measured, extra=extra, linked={"profile": found.profile}
    )


STORY = Story(
    "US-006", "reader", "Reader: batch parsing and batch resolve",
    """Reader: the pure-Python RESP parser vs hiredis, and resolving each reply as it is parsed vs draining
every complete reply of a read and resolving them in one batch (a 2x2; its corners are the cumulative
before and after).""",
    run,
    ("parser", "delivery"),
    (_S + "delivery.PerReplyDelivery.data_received", _S + "delivery.BatchDelivery.data_received",
     _S + "submit.PooledFutureSubmit.deliver_many", _S + "submit.PooledFutureSubmit.deliver_one",
     "rediscluster_opt.core.resp.PythonReader.gets"),
    ("data_received", "gets", "feed", "deliver_one", "deliver_many"),
    criteria=(
        Criterion("several replies parsed per socket read", REPLIES_PER_READ, ">", 1, PRD, fmt="{:.1f}",
                  before=REPLIES_PER_READ_BEFORE, unit="replies per read"),
        Criterion("batch dequeue: dequeue calls per reply", DEQUEUES, "<", 1, PRD, fmt="{:.3f}",
                  before=DEQUEUES_BEFORE, unit="calls per reply"),
        exact_criterion("instructions per 200 B reply parsed, hiredis / python", HIREDIS_VS_PYTHON, "<", 1, TARGET),
        Criterion("batch resolve pays: hiredis+batch / hiredis+per_reply", BATCH, ">=", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, equivalence=NEGLIGIBLE),
        Criterion("hiredis pays: hiredis+batch / python+batch", HIREDIS, ">=", 1, TARGET, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, equivalence=NEGLIGIBLE),
        share_criterion("the reader path"),
        *gain_criteria(),
    ),
    micro_tables=("wall", "instructions"),
    parameters=(*BENCH, "cachegrind"),
)  # fmt: skip
