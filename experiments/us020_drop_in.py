"""US-020: what the redis-py drop-in costs: how much of the native client's lead over
redis-py survives redis-py's command methods, encoder and reply callbacks."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import headline_level
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, TARGET, THROUGHPUT_AA, Story, StoryRun

DROP_IN, NATIVE = "compat", "optimized"
PEERS = ("redis-py", "coredis", "valkey-glide")  # the default run's peers, all in every comparison
LEAD = 5.0  # the drop-in must keep a redis-py user at least this far ahead of redis-py


def metric(over: str, figure: str = "throughput") -> str:
    """The drop-in's `figure` ('throughput' or 'cpu') over `over`'s (a peer, or the native API)."""
    return f"drop_in.over_{over.replace('-', '_')}.{figure}"


def run(story: Story, params: Parameters) -> StoryRun:
    drop_in, native = ClientConfig.parse(DROP_IN), ClientConfig.parse(NATIVE)
    twin = engine.twin(drop_in)
    peers = [ClientConfig.parse(peer) for peer in PEERS]
    record = engine.bench(params, [drop_in, twin, native, *peers], story.id)
    where: dict[str, Any] = {"concurrency": headline_level(params.concurrency)}
    measured = engine.aa_control(record, twin.label, drop_in.label, **where)
    for other in (native, *peers):
        throughput, cpu = engine.ratio_pair(record, drop_in.label, other.label, **where)
        measured |= {metric(other.label): throughput, metric(other.label, "cpu"): cpu}
    roles = {"drop-in": drop_in.label, AA: twin.label, "native": native.label}
    return engine.save_run(story, params, record, measured, extra={"roles": roles})


def paragraph(run: StoryRun) -> str:
    """The answer first: the drop-in's multiple of redis-py and its share of the native
    API, each with its interval; then the criteria."""
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    over_redis_py, of_native = run.measured.get(metric("redis-py")), run.measured.get(metric(NATIVE))
    cpu_of_native = run.measured.get(metric(NATIVE, "cpu"))
    if over_redis_py is None or of_native is None:
        lines.append("Not answered: an arm of the comparison was not measured.")
    else:
        lines.append(
            f"An application that keeps redis-py's API and changes one import gets {over_redis_py.text()}x "
            f"redis-py's cluster GET throughput; the drop-in delivers {of_native.text()} of the native API's "
            + (f"at {cpu_of_native.text()} times its client CPU per operation" if cpu_of_native else "")
            + ": the rest is redis-py's side of the seam (its encoder over every argument, its command "
            "method and response callback, one more coroutine per command)."
        )
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


STORY = Story(
    "US-020", "drop_in", "The redis-py drop-in: how much of the lead survives redis-py's API",
    """`rediscluster_opt.compat.RedisCluster` runs redis-py's own command methods and reply callbacks over
the multiplexed client, so an application written for redis-py's asyncio `RedisCluster` changes one import.
This story measures what that costs on the headline workload (cluster GETs), interleaved in one run: the
drop-in, its A/A twin, the native API of the optimized preset, and the peers (redis-py, which it replaces,
coredis and valkey-glide). The criteria ask that the drop-in keep a redis-py user at least
five times ahead of redis-py, in throughput and in client CPU per operation; its share of the native API
is recorded beside them.""",
    run,
    criteria=(
        Criterion(f"The drop-in keeps the lead: throughput, drop-in / redis-py >= {LEAD:g}", metric("redis-py"),
                  ">=", LEAD, TARGET, THROUGHPUT_AA, headline=True, before=THROUGHPUT_AA),
        Criterion(f"The drop-in keeps the lead: client CPU per op, drop-in / redis-py <= 1/{LEAD:g}",
                  metric("redis-py", "cpu"), "<=", 1 / LEAD, TARGET, CPU_AA, headline=True, before=CPU_AA),
    ),
    recorded=(
        Recorded("drop-in / native API (optimized): throughput", metric(NATIVE), "{:.2f}"),
        Recorded("drop-in / native API (optimized): client CPU per op", metric(NATIVE, "cpu"), "{:.2f}"),
        *(Recorded(f"drop-in / {peer}: {what}", metric(peer, figure), "{:.2f}")
          for peer in PEERS[1:] for figure, what in (("throughput", "throughput"), ("cpu", "client CPU per op"))),
    ),
    parameters=BENCH,
    headlines={"dropin_over_native_api": metric(NATIVE)},
    claims={"A redis-py user who changes one import keeps at least 5x redis-py's throughput": metric("redis-py")},
    cells=without_profiles,  # clients compared, no stage changed: profiles are US-008's and US-018's
    paragraph=paragraph,
)  # fmt: skip
