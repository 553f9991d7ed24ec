"""US-005: writer batching, one write per command vs one flush per loop tick."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.compare import compare_stages, cumulative_stages
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation import plots
from rediscluster_opt.lab.presentation.frame import trials_frame
from rediscluster_opt.lab.story import (
    NEGLIGIBLE,
    PRD,
    TARGET,
    THROUGHPUT_AA,
    Story,
    StoryRun,
    gain_criteria,
    share_criterion,
)
from rediscluster_opt.results import interval

_S = "rediscluster_opt.stages."
WRITES, VECTORED, COMMANDS_PER_WRITE = "writes.gain", "throughput.vectored", "io.commands_per_write"


def run(story: Story, params: Parameters) -> StoryRun:
    writelines = ClientConfig(
        "ours",
        cumulative_stages(story).replace(writer="writelines").as_dict(),
        name="cumulative after, writer=writelines",
    )
    found = compare_stages(story, params, [writelines])
    per_write = [1 / v for v in engine.io_values(found.record, found.after, "writes_per_command") if v]
    found.measured |= {
        WRITES: found.ratio(found.after, found.before, "writes_per_command"),
        VECTORED: found.ratio(writelines.label, found.after),
        COMMANDS_PER_WRITE: interval(per_write),
    }
    return engine.save_run(
        story,
        params,
        found.record,
        found.measured,
        extra={"roles": found.names},
        linked={"profile": found.profile},
    )


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    fig = writes_per_command(
        trials_frame([run.record]),
        nb.categories(run),
        title=f"{run.story.id}: socket writes per command ({nb.workload_text(run)})",
    )
    return [nb.save_figure(fig, params, run, "writes_per_command")]


def writes_per_command(trials: Any, roles: dict[str, str], *, title: str = "") -> Any:
    return plots.bars_by_role(
        trials, roles, metrics=("writes_per_command",), title=title or "Socket writes per command"
    )


STORY = Story(
    "US-005", "writer", "Writer batching",
    """Writer batching: one `transport.write` per command vs a queue flushed once per event-loop tick, with
`b"".join` vs `transport.writelines` (vectored I/O, which the PRD asks for). Socket writes per command
and commands per write come from the client's own counters.""",
    run,
    ("writer",),
    (_S + "writer.DirectWriter.send", _S + "writer.JoinWriter.send", _S + "writer.JoinWriter.flush",
     _S + "writer.WritelinesWriter._emit"),
    ("send", "_flush", "_emit", "write", "writelines"),
    criteria=(
        Criterion("socket writes per command, batched / per-command writer", WRITES, "<", 1, TARGET, fmt="{:.3f}"),
        Criterion("vectored I/O pays: throughput writelines / join", VECTORED, ">=", 1, PRD, THROUGHPUT_AA,
                  before=THROUGHPUT_AA, equivalence=NEGLIGIBLE),
        share_criterion("the writer and send path"),
        *gain_criteria(),
    ),
    recorded=(Recorded("commands per socket write, batched writer", COMMANDS_PER_WRITE, "{:.1f}"),),
    parameters=BENCH,
    figures=figures,
)  # fmt: skip
