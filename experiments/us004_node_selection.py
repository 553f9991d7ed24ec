"""US-004: node selection in the multiplexer pool, swept across connections per node."""

from __future__ import annotations

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.compare import cumulative_stages, gain_metrics, previous_stages, share_ratio
from rediscluster_opt.lab.criteria import Criterion
from rediscluster_opt.lab.engine import by_case, exact, headline_level, ratio_of
from rediscluster_opt.lab.instruments import perfcases
from rediscluster_opt.lab.parameters import BENCH, Parameters, integers
from rediscluster_opt.lab.story import (
    AA,
    CPU_AA,
    CPU_GAIN,
    PROFILE_SHARE,
    TARGET,
    THROUGHPUT_AA,
    THROUGHPUT_GAIN,
    Own,
    Story,
    StoryRun,
    exact_criterion,
    share_criterion,
)
from rediscluster_opt.results import paired_ratio

_S = "rediscluster_opt.stages."
_ROUTE = "rediscluster_opt.client.client.Client._route"
LOCKS, PICK_VS_LOCKED = "hot.node_select.locks", "micro.pick_vs_locked"
LOCKS_BEFORE = "hot.node_select.locks.locked"
# The connection counts the sweep's own criteria read, after the first (a run may sweep
# fewer): the first count is the headline comparison, so a criterion of its own would
# count it twice.
SWEPT = (2, 4)
LOCKFREE_X4 = perfcases.case_name("node_select", "lockfree", "x4")
LOCKED_X4 = perfcases.case_name("node_select", "locked", "x4")


def per_connections(n: int) -> str:
    """The metric of lock-free / locked throughput at n connections per node."""
    return f"throughput.x{n}"


CONNECTIONS = Own(
    "connections",
    {"default": (1, 2, 4), "quick": (1, 2)},
    integers,
    "connections per node swept (the original's threads x multiplexers)",
)


def run(story: Story, params: Parameters) -> StoryRun:
    connections: tuple[int, ...] = params.own[CONNECTIONS.name]
    before, after = previous_stages(story), cumulative_stages(story)
    configs = [
        ClientConfig("ours", stages.as_dict(), connections_per_node=n, name=f"{name} x{n}")
        for n in connections
        for name, stages in (("locked", before), ("lock-free", after))
    ]
    first = connections[0]
    twin = ClientConfig("ours", before.as_dict(), connections_per_node=first, name=f"locked x{first} ({AA})")
    configs.insert(1, twin)
    record = engine.bench(params, configs, story.id)
    profile = engine.profiles(params, story, [configs[0], configs[2]])
    level = headline_level(params.concurrency)
    names = {"cumulative before": configs[0].label, "cumulative after": configs[2].label, AA: twin.label}
    data = engine.micro_figures(params, [c.name for c in perfcases.cases_for("node_select")])
    instructions = by_case(data["instructions"]["rows"], "instructions_per_call")
    hot = {r["case"]: r for r in data["hot_path"]}
    measured = {
        **gain_metrics(record, names, level),
        **{
            per_connections(n): paired_ratio(record, f"lock-free x{n}", f"locked x{n}", concurrency=level)
            for n in connections[1:]
        },
        PROFILE_SHARE: share_ratio(profile, names, story.share_functions),
        LOCKS: exact(hot[LOCKFREE_X4]["lock_operations_per_call"]),
        LOCKS_BEFORE: exact(hot[LOCKED_X4]["lock_operations_per_call"]),
        PICK_VS_LOCKED: ratio_of(instructions, LOCKFREE_X4, LOCKED_X4),
    }
    extra = {"roles": names, "micro": data}
    return engine.save_run(story, params, record, measured, extra=extra, linked={"profile": profile})


STORY = Story(
    "US-004", "node_selection", "Node selection in the multiplexer pool",
    """Node selection in the multiplexer pool: a lock and one pool-wide round-robin counter vs lock-free
immutable maps with a per-node cycle and a single-connection fast path, swept across connections per
node (the original's threads x multiplexers sweep). In asyncio there is no thread contention, so only
the bookkeeping itself can differ.""",
    run,
    ("node_select",),
    (_S + "node_select.LockedSelector.pick", _S + "node_select.LockFreeSelector.pick", _ROUTE),
    ("pick",),
    criteria=(
        exact_criterion("lock-free read: lock operations per pick (lockfree)", LOCKS, "<=", 0, before=LOCKS_BEFORE,
                        unit="lock operations"),
        exact_criterion("instructions per pick, 4 connections per node, lockfree / locked", PICK_VS_LOCKED, "<", 1),
        share_criterion("node selection (pick)"),
        *(Criterion(f"throughput lock-free / locked, {n} connection(s) per node", per_connections(n), ">=", 1,
                    TARGET, THROUGHPUT_AA, needs=f"connections including {n}",
                    before=THROUGHPUT_AA) for n in SWEPT),
        Criterion("cluster throughput lock-free / locked, the sweep's first connection count", THROUGHPUT_GAIN,
                  ">=", 1, TARGET, THROUGHPUT_AA, headline=True, before=THROUGHPUT_AA),
        Criterion("client CPU per op lock-free / locked, the sweep's first connection count", CPU_GAIN, "<=", 1,
                  TARGET, CPU_AA, headline=True, before=CPU_AA),
    ),
    micro_tables=("wall", "instructions", "hot_path"),
    parameters=(*BENCH, "cachegrind"),
    own=(CONNECTIONS,),
)  # fmt: skip
