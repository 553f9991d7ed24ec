"""US-017: explicit and implicit batching. Pipelines of 1 to 1000 GETs (`client.pipeline()`)
against the multiplexer's own coalescing of single commands, at the same number of commands
in flight, with redis-py's cluster pipeline and valkey-glide's batch beside them."""

from __future__ import annotations

import dataclasses
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.parameters import BENCH, Parameters, integers, positive_integer
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, TARGET, THROUGHPUT_AA, Own, Story, StoryRun
from rediscluster_opt.results import paired_ratio

PEERS = ("redis-py", "valkey-glide")
PEER_SIZE = 100  # the pipeline size the peers run at (the target's)
BEYOND_SMOKE = "the peer redis-py (a smoke run leaves the peers out)"
SIZES = Own("pipeline_sizes", {"default": (1, 10, 100, 1000), "quick": (10, 100)}, integers,
            "commands per explicit pipeline")  # fmt: skip
IN_FLIGHT = Own("in_flight", {"default": 1000, "quick": 100}, positive_integer,
                "commands in flight in every arm: single-command tasks, or in_flight / size pipelines")  # fmt: skip


WRITES_AA = "batching.writes.aa"  # the implicit arm's twin over it, in writes per command


def metric(client: str, size: int, figure: str) -> str:
    """Ours: `figure` ('throughput' or 'cpu') of pipelines of `size` over implicit
    batching; a peer: ours over the peer at that size ('over', throughput)."""
    return f"batching.{client}.p{size}.{figure}"


def arms(sizes: tuple[int, ...], peers: bool) -> dict[tuple[str, int], ClientConfig]:
    """(client, size) -> configuration; ('ours', 0) is implicit batching, the preset
    sending single commands (a pipeline of 1 is ('ours', 1))."""
    implicit = ClientConfig.parse("optimized")
    out = {("ours", 0): implicit, **{("ours", n): dataclasses.replace(implicit, batch=n) for n in sizes}}
    if peers:
        out |= {(peer, PEER_SIZE): ClientConfig(peer, batch=PEER_SIZE) for peer in PEERS}
    return out


def run(story: Story, params: Parameters) -> StoryRun:
    sizes: tuple[int, ...] = tuple(n for n in params.own[SIZES.name] if n <= params.own[IN_FLIGHT.name])
    level: int = params.own[IN_FLIGHT.name]
    configs = arms(sizes, peers=not params.smoke)
    implicit = configs[("ours", 0)]
    twin = engine.twin(implicit)
    record = engine.bench(params, [implicit, twin, *(c for k, c in configs.items() if k != ("ours", 0))], story.id,
                          concurrency=[level])  # fmt: skip
    where: dict[str, Any] = {"concurrency": level}
    measured = engine.aa_control(record, twin.label, implicit.label, **where)
    # socket writes per command, counted by the client: an A/A of its own
    measured[WRITES_AA] = paired_ratio(record, twin.label, implicit.label, "writes_per_command", **where)
    for (client, size), config in configs.items():
        if client == "ours" and size:
            throughput, cpu = engine.ratio_pair(record, config.label, implicit.label, **where)
            measured |= {metric("ours", size, "throughput"): throughput, metric("ours", size, "cpu"): cpu}
            measured[metric("ours", size, "writes")] = paired_ratio(
                record, config.label, implicit.label, "writes_per_command", **where
            )
        elif client != "ours" and ("ours", size) in configs:
            measured[metric(client, size, "over")] = paired_ratio(record, configs[("ours", size)].label,
                                                                  config.label, **where)  # fmt: skip
    roles = {"optimized": implicit.label, AA: twin.label}
    return engine.save_run(story, params, record, measured, extra={"roles": roles, "in_flight": level})


def paragraph(run: StoryRun) -> str:
    """The answer first: pipelines of 100 against implicit batching and the peers' own
    pipelines, then every size, then the criteria."""
    rows = {r["metric"]: r for r in run.acceptance}
    level = run.extra.get("in_flight")
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    lead = rows.get(metric("ours", PEER_SIZE, "throughput"))
    if lead and lead["effect"]:
        lines.append(
            f"Pipelines of {PEER_SIZE} GETs give {lead['measured']} of the throughput of the multiplexer's implicit "
            f"batching at the same {level} commands in flight ({lead['verdict']}, A/A {lead['aa']})."
        )
    peers = [f"{row['measured']}x {peer}'s" for peer in PEERS
             if (row := rows.get(metric(peer, PEER_SIZE, "over"))) is not None and row["effect"]]  # fmt: skip
    if peers:
        lines.append(f"Against the peers' own pipelines of {PEER_SIZE}: ours is " + " and ".join(peers) + ".")
    sizes = [f"{n}: {found.text()}" for n in (1, 10, 100, 1000)
             if (found := run.measured.get(metric("ours", n, "throughput"))) is not None]  # fmt: skip
    if sizes:
        lines.append("Throughput over implicit batching by pipeline size, " + "; ".join(sizes) + ".")
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


STORY = Story(
    "US-017", "batching", "Explicit and implicit batching: pipelines against the multiplexer's coalescing",
    """The multiplexer batches on its own: every command its callers queue in one event-loop tick leaves in
one write per node. `client.pipeline()` is batching asked for: one caller queues N commands and sends them
together, split per node, replies in its order. Here, at the same number of commands in flight: the preset
sending single GETs from that many tasks (implicit batching), and pipelines of 1, 10, 100 and 1000 GETs from
in-flight / size tasks (a pipeline of 1 shows the pipeline's own cost), interleaved with an A/A twin of the
implicit arm; and redis-py's cluster pipeline and valkey-glide's batch (non-atomic) at 100 beside ours.""",
    run,
    criteria=(
        Criterion(f"Pipelines of {PEER_SIZE} keep up with implicit batching: throughput, P{PEER_SIZE} / implicit",
                  metric("ours", PEER_SIZE, "throughput"), ">=", 1, TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA,
                  headline=True, needs=f"pipeline_sizes including {PEER_SIZE}"),
        Criterion(f"Pipelines of {PEER_SIZE} write no more often than implicit batching: socket writes per command, "
                  f"P{PEER_SIZE} / implicit", metric("ours", PEER_SIZE, "writes"), "<=", 1, TARGET, WRITES_AA,
                  fmt="{:.3f}", unit="writes", needs=f"pipeline_sizes including {PEER_SIZE}"),
        Criterion(f"Pipelines of {PEER_SIZE}: at least 3x redis-py's cluster pipeline, throughput",
                  metric("redis-py", PEER_SIZE, "over"), ">=", 3, TARGET, THROUGHPUT_AA, needs=BEYOND_SMOKE),
    ),
    recorded=(
        Recorded(f"ours / valkey-glide's batch of {PEER_SIZE}, throughput", metric("valkey-glide", PEER_SIZE, "over"),
                 "{:.2f}", needs="the peer valkey-glide (a smoke run leaves the peers out)"),
        *(Recorded(f"pipelines of {n} / implicit, {what}", metric("ours", n, figure), "{:.2f}",
                   needs=f"pipeline_sizes including {n}")
          for n in (1, 10, 100, 1000)
          for figure, what in (("throughput", "throughput"), ("cpu", "client CPU per op"), ("writes", "writes per command"))
          if (n, figure) not in ((PEER_SIZE, "throughput"), (PEER_SIZE, "writes"))),
    ),
    parameters=tuple(p for p in BENCH if p != "concurrency"),  # in_flight instead
    own=(SIZES, IN_FLIGHT),
    cells=without_profiles,  # a profile of the same route would repeat US-009's: none
    paragraph=paragraph,
)  # fmt: skip
