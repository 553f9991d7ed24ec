"""US-014: the topology refresh interval. The PRD asks whether its refresh interval "is too
conservative"; here what periodic refresh costs in throughput, and what a longer interval
costs in time to heal a slot that moved without a MOVED reply telling the client."""

from __future__ import annotations

import dataclasses
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import headline_level
from rediscluster_opt.lab.parameters import BENCH, Parameters, positive_integer, positive_numbers
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, NEGLIGIBLE, TARGET, THROUGHPUT_AA, Own, Story, StoryRun
from rediscluster_opt.results import Interval, interval

from .heal import heal_times

DEFAULT_S = 10.0  # ClusterClient's refresh_interval as it ships
OFTEN_S = 0.25  # the shortest interval the cost is measured at: as often as min_refresh_interval allows
HEAL_INTERVALS = Own(
    "heal_intervals",
    {"default": (0.25, 1.0, 10.0), "quick": (0.25,)},
    positive_numbers,
    "refresh intervals (s) whose time to heal a silent move is measured",
)
HEAL_REPEATS = Own(
    "heal_repeats", {"default": 7, "quick": 3}, positive_integer, "silent moves timed per interval"
)


def metric(figure: str, seconds: float | None = None) -> str:
    """'throughput' or 'cpu' of refreshing every `seconds` (None: never) over the default
    interval; 'heal' the seconds to heal a silent move at `seconds`."""
    every = "never" if seconds is None else f"{seconds:g}s"
    return f"refresh.{every}.{figure}"


SERVER_SHARE = "refresh.0.25s.server_share"  # servers' CPU (in CPUs) refreshing every 0.25 s
SERVER_US, CLIENT_US = "refresh.server_us", "refresh.client_us"  # CPU per refresh, µs
REFRESH_BLOCKS = Own("refresh_blocks", {"default": 5, "quick": 1}, positive_integer,
                     "blocks of back-to-back refreshes whose servers' CPU is read")  # fmt: skip
PER_BLOCK = {"default": 1000, "quick": 50}  # refreshes per block: /proc counts CPU in 10 ms ticks


def refresh_cost(params: Parameters) -> dict[str, Any]:
    """What one refresh costs, read off the CPU counters rather than the noisy throughput:
    blocks of back-to-back refreshes, the servers' CPU (/proc) and the client's (getrusage)
    per refresh in each block."""
    import resource

    from rediscluster_opt.bench.cpu import cpu_seconds_of
    from rediscluster_opt.bench.sync import run_sync
    from rediscluster_opt.bench.target import server_pids
    from rediscluster_opt.client import ClusterClient

    target = params.target
    per_block = PER_BLOCK["quick" if params.smoke else "default"]

    def own_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    async def measure() -> dict[str, Any]:
        pids = server_pids(target, "cluster")
        client = await ClusterClient.connect(target.seeds, refresh_interval=None, **target.client_options())
        servers, mine = [], []
        try:
            for _ in range(params.own[REFRESH_BLOCKS.name]):
                server_before, client_before = cpu_seconds_of(pids), own_cpu()
                for _ in range(per_block):
                    await client.refresh_topology()
                server_after, client_after = cpu_seconds_of(pids), own_cpu()
                if server_before is not None and server_after is not None:
                    servers.append((server_after - server_before) / per_block * 1e6)
                mine.append((client_after - client_before) / per_block * 1e6)
        finally:
            await client.close()
        return {
            "server_us": servers,
            "client_us": mine,
            "refreshes_per_block": per_block,
            "servers": len(pids),
        }

    found: dict[str, Any] = run_sync(measure)
    return found


def arms() -> dict[float | None, ClientConfig]:
    """Refresh interval -> configuration: the optimized preset with its own interval
    (DEFAULT_S), more often, and never (only on events)."""
    default = ClientConfig.parse("optimized")
    changed = {
        s: dataclasses.replace(default, cluster_options={"refresh_interval": s}) for s in (1.0, OFTEN_S, None)
    }
    return {DEFAULT_S: default, **changed}


def run(story: Story, params: Parameters) -> StoryRun:
    configs = arms()
    default = configs[DEFAULT_S]
    twin = engine.twin(default)
    others = [c for s, c in configs.items() if s != DEFAULT_S]
    record = engine.bench(params, [default, twin, *others], story.id)
    where: dict[str, Any] = {"concurrency": headline_level(params.concurrency)}
    measured = engine.aa_control(record, twin.label, default.label, **where)
    for seconds, config in configs.items():
        if seconds != DEFAULT_S:
            throughput, cpu = engine.ratio_pair(record, config.label, default.label, **where)
            measured |= {metric("throughput", seconds): throughput, metric("cpu", seconds): cpu}
    repeats: int = params.own[HEAL_REPEATS.name]
    heals = [
        heal_times(params.target, s, repeats, seed=i) for i, s in enumerate(params.own[HEAL_INTERVALS.name])
    ]
    for heal in heals:
        found = heal["summary"]
        measured[metric("heal", heal["refresh_interval"])] = Interval.from_dict(found) if found else None
    cost = refresh_cost(params)
    measured[SERVER_US] = interval(cost["server_us"])
    measured[CLIENT_US] = interval(cost["client_us"])
    measured[SERVER_SHARE] = interval([us / 1e6 / OFTEN_S for us in cost["server_us"]])
    roles = {"optimized": default.label, AA: twin.label}
    return engine.save_run(
        story, params, record, measured, extra={"roles": roles, "heal": heals, "cost": cost}
    )


def paragraph(run: StoryRun) -> str:
    """The answer first: what refreshing more often costs, what it buys in time to heal;
    then the criteria as every story lists them."""
    rows = {r["metric"]: r for r in run.acceptance}
    cost = rows.get(metric("throughput", OFTEN_S))
    heal_often, heal_default = (
        run.measured.get(metric("heal", OFTEN_S)),
        run.measured.get(metric("heal", DEFAULT_S)),
    )
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    if cost is not None and cost["effect"]:
        costs = {
            "met": "costs",
            "NOT met": "costs nothing",
            "equivalent": f"costs nothing that matters (no effect beyond {cost['equivalence']})",
            "inconclusive": "shows no cost beyond the noise, though one is not excluded",
        }.get(cost["verdict"], "is not settled")
        lines.append(
            f"Refreshing every {OFTEN_S:g} s instead of {DEFAULT_S:g} s {costs}: throughput {cost['measured']} of "
            f"the default's ({cost['verdict']}, A/A {cost['aa']})."
        )
    if heal_often is not None:
        slow = f", against {heal_default.text('{:.2f}')} s at {DEFAULT_S:g} s" if heal_default else ""
        lines.append(
            f"A slot that moved with no MOVED reply to tell the client heals in a median "
            f"{heal_often.text('{:.3f}')} s at {OFTEN_S:g} s{slow} (a uniform wait of up to one interval)."
        )
    lines.append(
        "`min_refresh_interval` only spaces refreshes that events ask for (MOVED, a lost node); a silent move "
        "asks for none, so it does not bound this time."
    )
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _costs(figure: str, seconds: float | None, headline: bool = False) -> Criterion:
    higher = figure == "throughput"
    every = "never" if seconds is None else f"every {seconds:g} s"
    text = f"Refreshing {every} costs: {'throughput' if higher else 'client CPU per op'}, {every} / every {DEFAULT_S:g} s"
    control = THROUGHPUT_AA if higher else CPU_AA
    return Criterion(text, metric(figure, seconds), "<" if higher else ">", 1, TARGET, control, before=control,
                     headline=headline, equivalence=NEGLIGIBLE)  # fmt: skip


STORY = Story(
    "US-014", "refresh_interval", "The topology refresh interval: its cost, and the time to heal a silent move",
    f"""The PRD's open question "is the topology refresh interval too conservative?" The client refreshes its
map every `refresh_interval` ({DEFAULT_S:g} s) and on events (a MOVED reply, a lost node), events at most once
per `min_refresh_interval` (0.25 s). A MOVED reply heals a moved slot at once; a slot no command touches, or
whose reads a replica serves, moves without one, and only the periodic refresh heals it. Two measurements:
the cost, as the optimized preset refreshing every 1 s, every {OFTEN_S:g} s and never, interleaved with the
preset and its A/A twin; and the time to heal, a silent move timed at each interval (the client's view made
stale as a move would leave it, with no refresh asked for, at a random point of the refresh cycle).""",
    run,
    criteria=(
        _costs("throughput", OFTEN_S, headline=True),
        _costs("cpu", OFTEN_S, headline=True),
        _costs("throughput", 1.0),
        _costs("throughput", None),
        Criterion(f"Refreshing every {OFTEN_S:g} s costs the servers under 1 % of one CPU (CPU counters)", SERVER_SHARE,
                  "<", 0.01, TARGET, fmt="{:.4f}", unit="CPUs", needs="the target's servers on this machine"),
    ),
    recorded=(
        *(Recorded(f"time to heal a silent move, refreshing every {s:g} s (seconds)", metric("heal", s), "{:.3f}",
                   needs=f"heal_intervals including {s:g}")
          for s in (0.25, 1.0, 10.0)),
        Recorded("client CPU per op, every 1 s / every 10 s", metric("cpu", 1.0), "{:.2f}"),
        Recorded("client CPU per op, never / every 10 s", metric("cpu", None), "{:.2f}"),
        Recorded("servers' CPU per refresh, µs (every node it asks)", SERVER_US, "{:.0f}",
                 needs="the target's servers on this machine"),
        Recorded("client CPU per refresh, µs", CLIENT_US, "{:.0f}"),
    ),
    parameters=BENCH,
    own=(HEAL_INTERVALS, HEAL_REPEATS, REFRESH_BLOCKS),
    cells=without_profiles,  # the arms run the same route: no profiles
    paragraph=paragraph,
    exclusive=True,  # it moves slots behind the clients' backs
)  # fmt: skip
