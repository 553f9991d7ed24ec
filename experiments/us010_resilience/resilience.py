"""Production faults, each run for our client and its peers in turn (the resilience story).

Every (fault, client, repeat) is one trial in its own process (`fault_trial`, through
`rediscluster_opt.child`), which opens the client through the bench
adapters (same per-command timeout for every library), starts a checked SET/GET load on
the node the fault hits and on another, injects the fault, keeps the load going, and
returns one trial: outcomes by type, wrong values, a 250 ms timeline, the time to
serve again after the promotion (or restart), and the peak RSS growth. Between trials
the cluster is brought back to health. Failover faults run on a cluster with replicas
that this module starts on its own ports (and stops); the others on the lab's cluster.
"""

from __future__ import annotations

import asyncio
import os
import random
import resource
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from rediscluster_opt.admin import command
from rediscluster_opt.bench import machine
from rediscluster_opt.bench.adapters import ClientConfig, PeerUnavailable, Target, open_adapter
from rediscluster_opt.bench.environment import environment
from rediscluster_opt.bench.runner import reruns_for
from rediscluster_opt.child import ChildFailed, ChildRefused, Refused, run_child
from rediscluster_opt.core.address import split_address
from rediscluster_opt.core.topology import parse_cluster_shards
from rediscluster_opt.localcluster import LocalCluster
from rediscluster_opt.results import new_record, save_record
from rediscluster_opt.results.stats import Interval, interval
from rediscluster_opt.stages import OPTIMIZED
from rediscluster_opt.testing.faults import (
    CheckedLoad,
    keys_on,
    replica_of,
    resident_bytes,
    signal_node,
    wait_for_promotion,
)
from rediscluster_opt.testing.single_execution import SingleExecutionLoad, kill_storm

__all__ = [
    "CLIENTS",
    "FAULTS",
    "FaultPlan",
    "REPLICA_LAYOUT",
    "Fault",
    "Injection",
    "Scene",
    "fault_trial",
    "run_resilience",
]

CLIENTS = ("ours", "redis-py", "valkey-glide")
COMMAND_TIMEOUT = 1.0  # seconds, for every client: how long a hung node holds a caller
WORKERS = 16  # per load (one on the faulty node, one elsewhere)
REPLICA_PORTS, REPLICAS, REPLICA_NODE_TIMEOUT_MS = (7500, 7501, 7502), 1, 1500
REPLICA_LAYOUT: dict[str, Any] = {
    "ports": REPLICA_PORTS,
    "replicas": REPLICAS,
    "node_timeout": REPLICA_NODE_TIMEOUT_MS,
}
FLOOD_VALUE = 100_000  # bytes
RSS_EVERY_S = 0.05  # how often the RSS over time is kept (the peak is sampled every 5 ms)
TRIAL_LIMIT = 180.0  # seconds: a trial still running by then is recorded as failed


@dataclass
class Scene:
    """What an injection acts on and writes to: the cluster, the master the fault hits,
    the client under test (its adapter), the moments that matter (`marks`, monotonic
    seconds: "promotion", "restart", "end"), the trial's spec and the checked load on the
    victim."""

    cluster: LocalCluster
    victim: str
    adapter: Any
    marks: dict[str, float]
    spec: dict[str, Any]
    load: CheckedLoad


# An injection acts on the servers (signals, DEBUG, CLIENT ...) and returns extra fields
# for the trial's record.
Injection = Callable[[Scene], Awaitable[dict[str, Any]]]


# -- one trial, in its own process -----------------------------------------------------
async def _trial(spec: dict[str, Any]) -> dict[str, Any]:
    fault = FAULTS[spec["fault"]]
    cluster = LocalCluster(
        ports=tuple(spec["ports"]),
        replicas=spec["replicas"],
        node_timeout=spec["node_timeout"],
        standalone_port=None,
        data_dir=Path(spec["data_dir"]),
    )
    seeds = tuple(cluster.seeds)
    victim, other, table = _victim_and_other(seeds[0])
    adapter = await open_adapter(  # each library's default connection limits, for its load
        ClientConfig(spec["client"]),
        "cluster",
        Target(seeds=seeds, standalone=None),
        2 * WORKERS,
        command_timeout=COMMAND_TIMEOUT,
    )
    prefix = f"rcopt:res:{os.getpid()}"
    on_victim = CheckedLoad(adapter.set, adapter.get, keys_on(victim, table, 64, f"{prefix}:v"), WORKERS)
    elsewhere = CheckedLoad(adapter.set, adapter.get, keys_on(other, table, 64, f"{prefix}:o"), WORKERS)
    marks: dict[str, float] = {}
    resident = _Resident()
    stop = asyncio.Event()
    loads = [on_victim, elsewhere] if fault.checked_load else []
    tasks = [asyncio.ensure_future(load.run(stop)) for load in loads]
    extra: dict[str, Any] = {}
    try:
        await asyncio.sleep(0.5)
        resident.rebase()
        marks["fault"] = time.monotonic()
        extra = await fault.inject(Scene(cluster, victim, adapter, marks, spec, on_victim))
        await asyncio.sleep(spec["settle"])
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 60)
        stopped = time.monotonic()
        resident.stop()
        await adapter.close()
    start = marks["fault"]
    moment = marks.get(fault.recovery_from)
    outcomes = on_victim.outcomes(start) + elsewhere.outcomes(start)
    return {
        "fault": fault.name,
        "client": spec["client"],
        "victim": victim,
        "outcomes": dict(outcomes),
        "errors_victim": dict(on_victim.errors(start)),
        "errors_elsewhere": dict(elsewhere.errors(start)),
        "wrong": outcomes.get("wrong value", 0),
        "recovery_s": on_victim.recovery_after(moment) if moment is not None else None,
        "marks": {k: v - start for k, v in marks.items()},
        "timeline": {"victim": on_victim.timeline(start - 0.5), "elsewhere": elsewhere.timeline(start - 0.5)},
        **resident.growth(start),
        "elapsed_s": stopped - start,  # from the fault to the end of the load
        **extra,
    }


def _victim_and_other(seed: str) -> tuple[str, str, list[str | None]]:
    """(the master the fault hits: one with a replica where there is one, another master,
    the slot table) as the cluster shows them now."""
    host, port = split_address(seed)
    topology = parse_cluster_shards(command(host, port, "CLUSTER", "SHARDS"))
    masters = sorted(topology.masters)
    victim = next((r.master for r in topology.ranges if r.replicas), masters[0])
    return victim, next(m for m in masters if m != victim), topology.slot_table()


class _Resident:
    """This process's resident memory, sampled every 5 ms from construction until `stop`:
    its peak since `rebase`, and a point every RSS_EVERY_S."""

    def __init__(self) -> None:
        self.baseline = self.peak = resident_bytes()
        self.points: list[tuple[float, int]] = []  # (monotonic time, resident bytes)
        self._task = asyncio.ensure_future(self._sample())

    async def _sample(self) -> None:
        while True:
            now, resident = time.monotonic(), resident_bytes()
            self.peak = max(self.peak, resident)
            if not self.points or now - self.points[-1][0] >= RSS_EVERY_S:
                self.points.append((now, resident))
            await asyncio.sleep(0.005)

    def rebase(self) -> None:
        """Growth counts from here (the load has warmed up)."""
        self.baseline = self.peak = resident_bytes()

    def stop(self) -> None:
        self._task.cancel()

    def growth(self, start: float) -> dict[str, Any]:
        """The record's fields: the peak growth, and the growth over time from `start`."""
        return {
            "peak_rss_growth_mb": (self.peak - self.baseline) / 1e6,
            "rss_growth_mb": [
                (round(t - start, 3), (resident - self.baseline) / 1e6) for t, resident in self.points
            ],
        }


async def _fail_master(sig: signal.Signals, scene: Scene) -> dict[str, Any]:
    """SIGKILL (a crash) or SIGSTOP (a hang) the master; mark its replica's promotion."""
    host, port = split_address(scene.victim)
    replica = replica_of(scene.cluster, scene.victim)
    signal_node(scene.cluster, port, sig)
    scene.marks["promotion"] = await asyncio.to_thread(wait_for_promotion, host, replica, 60)
    return {}


async def _graceful(scene: Scene) -> dict[str, Any]:
    host, _ = split_address(scene.victim)
    replica = replica_of(scene.cluster, scene.victim)
    await asyncio.to_thread(command, host, replica, "CLUSTER", "FAILOVER")
    scene.marks["promotion"] = await asyncio.to_thread(wait_for_promotion, host, replica, 60)
    return {}


async def _kill_restart(scene: Scene) -> dict[str, Any]:
    _, port = split_address(scene.victim)
    signal_node(scene.cluster, port, signal.SIGKILL)
    await asyncio.sleep(1.0)
    await asyncio.to_thread(scene.cluster.start_node, port)
    scene.marks["restart"] = time.monotonic()
    return {}


async def _debug_sleep(scene: Scene) -> dict[str, Any]:
    host, port = split_address(scene.victim)
    await asyncio.to_thread(command, host, port, "DEBUG", "SLEEP", "1", timeout=5)
    scene.marks["end"] = time.monotonic()
    return {}


async def _client_pause(scene: Scene) -> dict[str, Any]:
    host, port = split_address(scene.victim)
    await asyncio.to_thread(command, host, port, "CLIENT", "PAUSE", "1000")
    await asyncio.sleep(1.0)
    scene.marks["end"] = time.monotonic()
    return {}


async def _client_kill(scene: Scene) -> dict[str, Any]:
    for _ in range(5):
        for address in scene.cluster.seeds:
            host, port = split_address(address)
            await asyncio.to_thread(command, host, port, "CLIENT", "KILL", "TYPE", "normal")
        await asyncio.sleep(0.2)
    scene.marks["end"] = time.monotonic()
    return {}


async def _kill_storm(scene: Scene) -> dict[str, Any]:
    """Every connection killed every 50 ms for 2 s, while callers run SADD, HSET, SETBIT,
    SET/DEL, INCR and SET/GET whose single-execution replies they know: a client that
    sends an applied command again and returns the second reply is caught."""
    if scene.adapter.command is None:
        return {"single_execution": None}
    exact = SingleExecutionLoad(scene.adapter.command, f"rcopt:res:{os.getpid()}:exact", workers=8)
    stop, calm = asyncio.Event(), asyncio.Event()
    running = asyncio.ensure_future(exact.run(stop))
    storm = asyncio.ensure_future(kill_storm(scene.cluster.seeds, calm))
    await asyncio.sleep(2.0)
    calm.set()
    killed = await storm
    scene.marks["end"] = time.monotonic()
    stop.set()
    await asyncio.wait_for(running, 60)
    counts = dict(exact.counts)
    return {"single_execution": {"counts": counts, "problems": exact.problems(), "examples": exact.examples,
                                 "killed": killed}}  # fmt: skip


async def _cancel_storm(scene: Scene) -> dict[str, Any]:
    """Callers that give up after a random few microseconds, beside the checked load:
    a reply to a cancelled command must never reach anyone else."""
    cancelled = 0
    keys = scene.load.keys
    deadline = time.monotonic() + 2.0

    async def impatient() -> None:
        nonlocal cancelled
        while time.monotonic() < deadline:
            try:
                await asyncio.wait_for(scene.adapter.get(random.choice(keys)), random.uniform(0, 0.0005))
            except TimeoutError:
                cancelled += 1
            except Exception:  # noqa: BLE001  # an error here is the client's answer, not ours to judge
                pass

    await asyncio.gather(*(impatient() for _ in range(32)))
    scene.marks["end"] = time.monotonic()
    return {"cancelled": cancelled}


async def _write_flood(scene: Scene) -> dict[str, Any]:
    host, port = split_address(scene.victim)
    value = os.urandom(FLOOD_VALUE)
    keys = scene.load.keys[:10]
    sleeping = asyncio.ensure_future(
        asyncio.to_thread(command, host, port, "DEBUG", "SLEEP", "0.5", timeout=10)
    )
    await asyncio.sleep(0.05)
    outcomes = await asyncio.gather(
        *(scene.adapter.set(keys[i % len(keys)], value) for i in range(scene.spec["flood_commands"])),
        return_exceptions=True,
    )
    await sleeping
    scene.marks["end"] = time.monotonic()
    errors = Counter(type(o).__name__ for o in outcomes if isinstance(o, BaseException))
    return {"flood_commands": len(outcomes), "flood_errors": dict(errors)}


@dataclass(frozen=True)
class Fault:
    name: str
    title: str
    inject: Injection
    needs_replicas: bool = False
    recovery_from: str = ""  # "promotion" or "restart": the moment recovery is timed from
    checked_load: bool = True  # False: the fault is the only load (its timeline is the client's RSS)
    settle: float = 0.0  # extra seconds of load after the fault, beyond the run's default


FAULTS = {
    f.name: f
    for f in (
        Fault("kill_replica", "master kill -9, replica promoted", partial(_fail_master, signal.SIGKILL),
              True, "promotion"),
        Fault("sigstop_replica", "master SIGSTOP (hung), replica promoted",
              partial(_fail_master, signal.SIGSTOP), True, "promotion"),
        Fault("graceful_failover", "CLUSTER FAILOVER", _graceful, True, "promotion"),
        # a restarted master answers CLUSTERDOWN until it has rejoined: give it time
        Fault("kill_restart", "master kill -9 without replica, restarted after 1 s", _kill_restart,
              False, "restart", settle=3.0),
        Fault("debug_sleep", "DEBUG SLEEP 1 s on a master", _debug_sleep),
        Fault("client_pause", "CLIENT PAUSE 1 s on a master", _client_pause),
        Fault("client_kill", "CLIENT KILL of every connection, 5 times", _client_kill),
        Fault("kill_storm", "CLIENT KILL every 50 ms for 2 s, under writes whose reply depends on the state",
              _kill_storm),
        Fault("cancel_storm", "callers cancelling commands mid-flight for 2 s", _cancel_storm),
        Fault("write_flood", "concurrent 100 KB SETs to a node that stalls 0.5 s", _write_flood,
              checked_load=False),
    )
}  # fmt: skip


def _restore(cluster: LocalCluster) -> None:
    """Bring the cluster back to health after a trial, whatever it did or how it ended:
    resume every node (SIGCONT is harmless on a running one), restart every killed one,
    and wait until all are back (a failed-over master rejoins as a replica)."""
    for port in cluster.cluster_ports:
        if cluster.pid(port) is None:
            cluster.start_node(port)
        else:
            signal_node(cluster, port, signal.SIGCONT)
    cluster.wait_healthy(90)


# -- the story: every fault x client x repeat -----------------------------------------
@dataclass(frozen=True)
class FaultPlan:
    """What a resilience run does: which faults, how often each runs per client, the
    size of the write flood, and whether it is a smoke run (shorter settling, our client only)."""

    faults: tuple[str, ...]
    repeats: int
    flood_commands: int
    smoke: bool

    @property
    def settle(self) -> float:
        """Seconds the load keeps running after the fault (or the promotion)."""
        return 1.0 if self.smoke else 2.0


def run_resilience(
    params: Any, experiment: str, plan: FaultPlan, *, main_cluster: LocalCluster | None, skipped: str = ""
) -> tuple[dict[str, Any], Path]:
    """Run the trials of `plan` and save their record; returns (record, path). Failover
    faults get a replica cluster of their own, started here and stopped at the end.
    Without `main_cluster` (a target the lab cannot fault) nothing runs and every
    criterion is skipped with the reason `skipped`. `params`: the target and folders."""
    faults = [FAULTS[name] for name in plan.faults] if main_cluster is not None else []
    trials: list[dict[str, Any]] = []
    notes: list[str] = [f"skipped: {skipped}"] if main_cluster is None else []
    replica_cluster = LocalCluster(
        ports=REPLICA_PORTS,
        replicas=REPLICAS,
        node_timeout=REPLICA_NODE_TIMEOUT_MS,
        standalone_port=None,
        data_dir=(main_cluster.data_dir.parent if main_cluster else Path(".rcopt")) / "resilience",
    )
    started = replica_cluster.up() if any(f.needs_replicas for f in faults) else False
    clients = ("ours",) if plan.smoke else CLIENTS  # a smoke run checks the story, not the peers
    superseded: list[dict[str, Any]] = []
    try:
        for repeat in range(plan.repeats):
            for fault in faults:
                cluster = replica_cluster if fault.needs_replicas else main_cluster
                assert cluster is not None  # faults run only with a main cluster
                for client in clients:
                    trial = _quiet_trial(cluster, fault, client, plan, superseded)
                    trial.update(index=len(trials), repeat=repeat, config=client, concurrency=2 * WORKERS)
                    trials.append(trial)
                    run = f"run {repeat + 1}/{plan.repeats}"
                    print(f"{experiment} {run}: {fault.name} / {client}: {_brief(trial)}", flush=True)
                    if trial["status"] == "failed":
                        notes.append(f"{fault.name} / {client}: {trial.get('stderr_tail', '')[-300:]}")
    finally:
        if started:
            replica_cluster.down()
    parameters = {
        "modes": ["cluster"],
        "concurrency": [2 * WORKERS],
        "duration_s": plan.settle,
        "repeats": plan.repeats,
        "faults": [f.name for f in faults],
        "fault_repeats": plan.repeats,
        "flood_commands": plan.flood_commands,
        "flood_value_bytes": FLOOD_VALUE,
        "command_timeout_s": COMMAND_TIMEOUT,
        "workers_per_load": WORKERS,
        "replica_layout": REPLICA_LAYOUT,
        "seeds": list(main_cluster.seeds if main_cluster else params.target.seeds),
        "smoke": plan.smoke,
    }
    configurations = [
        {"client": c, "label": c, "loop": "asyncio", **({"stages": OPTIMIZED} if c == "ours" else {})}
        for c in clients
    ]
    record = new_record(experiment, parameters, configurations, environment(), trials, notes)
    if superseded:
        record["superseded"] = superseded
    figures = measured(trials)
    record["extra"] = {
        "measured": {k: v.as_dict() for k, v in figures.items() if v is not None},
        "unmeasured": sorted(k for k, v in figures.items() if v is None),
        "skipped": dict.fromkeys(CLIENTS, skipped) if main_cluster is None else {},
    }
    return dict(record), save_record(dict(record), params.results_path)


def _quiet_trial(
    cluster: LocalCluster, fault: Fault, client: str, plan: FaultPlan, superseded: list[dict[str, Any]]
) -> dict[str, Any]:
    """One trial, run again (up to `reruns_for` times, after a quiet second; never in a smoke
    run, whose figures are no evidence) while third processes took the machine; the
    contaminated runs go to `superseded`, as the benchmarks' do."""
    reruns = reruns_for(plan.smoke)
    for rerun in range(reruns + 1):
        trial = {**_run_trial(cluster, fault, client, plan), "rerun": rerun}
        if not trial.get("contaminated") or rerun == reruns:
            break
        superseded.append({"index": len(superseded), "config": client, **trial})
        print(f"  {fault.name} / {client}: contaminated, others took {trial['machine']['foreign']:.2f} CPU: "
              "run again", flush=True)  # fmt: skip
        machine.quiet_moment([os.getpid(), *_server_pids(cluster)])
    return trial


def _server_pids(cluster: LocalCluster) -> list[int]:
    return [pid for port in cluster.all_ports if (pid := cluster.pid(port)) is not None]


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run_trial(cluster: LocalCluster, fault: Fault, client: str, plan: FaultPlan) -> dict[str, Any]:
    spec = {
        "fault": fault.name,
        "client": client,
        "ports": list(cluster.ports),
        "replicas": cluster.replicas,
        "node_timeout": cluster.node_timeout,
        "data_dir": str(cluster.data_dir),
        "settle": plan.settle + fault.settle,
        "flood_commands": plan.flood_commands,
    }
    base: dict[str, Any] = {"mode": "cluster", "scenario": fault.name, "valid": True}
    # Whose machine it was, over the trial's process: the client is that child (its CPU
    # read once it is reaped), the servers every node before and after (a fault restarts
    # some: new pids); a node killed mid-trial takes its last CPU with it, which counts
    # as foreign, so the error errs toward calling a trial contaminated.
    servers = _server_pids(cluster)
    before, children_before = machine.read([os.getpid(), *servers]), _children_cpu_s()
    try:
        result = run_child(fault_trial, spec, timeout=TRIAL_LIMIT)
    except ChildRefused as exc:  # the peer is not installed
        return {**base, "status": "failed", "valid": False, "reason": str(exc), "stderr_tail": ""}
    except ChildFailed as exc:  # a client that never finishes (or crashes) is a finding too
        failed = {"status": "failed", "valid": False, "reason": exc.reason, "stderr_tail": exc.output_tail}
        return {**base, **failed}
    finally:
        servers = sorted({*servers, *_server_pids(cluster)})
        after, client_s = machine.read([os.getpid(), *servers]), _children_cpu_s() - children_before
        _restore(cluster)
    figures = machine.window(before, after, client_s, servers=servers)
    base |= {"client_cpu_s": client_s, "machine": figures, "contaminated": machine.contaminated(figures)}
    ok = result["outcomes"].get("ok", 0)
    errors = sum(n for kind, n in result["outcomes"].items() if kind not in ("ok", "wrong value"))
    errors += sum(result.get("flood_errors", {}).values())
    # ops and ops/s count the checked load's successes from the fault on; no latency
    # percentiles here (a fault run is about outcomes, not speed)
    return {
        **base,
        **result,
        "status": "ok",
        "ops": ok,
        "ops_per_s": ok / result["elapsed_s"] if result["elapsed_s"] > 0 else 0.0,
        "latency_us": {},
        "errors": errors,
    }


def _brief(trial: dict[str, Any]) -> str:
    """One progress line per trial."""
    if trial["status"] != "ok":
        return f"failed ({trial['reason']})"
    recovery = trial.get("recovery_s")
    served = f", served again after {recovery:.2f} s" if recovery is not None else ""
    return f"{trial['ops']} ok, {trial['errors']} errors, {trial['wrong']} wrong{served}"


def _time_left(trial: dict[str, Any]) -> float:
    """Seconds from the promotion (or restart) to the end of a run that was never served
    again: what the recovery time is known to exceed."""
    return float(trial["elapsed_s"] - trial["marks"][FAULTS[trial["fault"]].recovery_from])


# The figures `measured` gives per client (see `fault_metric`).
WRONG_VALUES, RECOVERY_CRASH_S, RECOVERY_HANG_S = "wrong_values", "recovery_crash_s", "recovery_hang_s"
CLIENT_KILL_ERRORS, GRACEFUL_ERRORS, FLOOD_RSS_MB = "client_kill_errors", "graceful_errors", "flood_rss_mb"
ELSEWHERE_ERRORS, RESEND_WRONG_REPLIES = "elsewhere_errors", "resend_wrong_replies"


def fault_metric(client: str, figure: str) -> str:
    """The metric of one client's `figure` over the fault runs."""
    return f"{client}.{figure}"


def measured(trials: list[dict[str, Any]]) -> dict[str, Interval | None]:
    """The story's figures per client: `<client>.<figure>`. Times and memory are medians
    over the runs with their spread; "zero" targets are exact totals over every run, so a
    single error in any run misses them. None where the fault did not run."""
    out: dict[str, Interval | None] = {}
    for client in CLIENTS:
        mine = [t for t in trials if t["config"] == client and t["status"] == "ok"]

        def runs(fault: str | None, mine: list[dict[str, Any]] = mine) -> list[dict[str, Any]]:
            return [t for t in mine if fault is None or t["fault"] == fault]

        def spread(fault: str, figure: str) -> Interval | None:
            return interval([t[figure] for t in runs(fault) if t[figure] is not None])

        def recovery(fault: str) -> Interval | None:
            # A run never served again within its window is censored: its recovery is only
            # known to exceed the time it had left ("> window"), and it fails a time target.
            timed = [t for t in runs(fault) if t["marks"].get(FAULTS[fault].recovery_from)]
            return interval(
                [t["recovery_s"] for t in timed if t["recovery_s"] is not None],
                censored=[_time_left(t) for t in timed if t["recovery_s"] is None],
            )

        def total(chosen: list[dict[str, Any]], count: Callable[[dict[str, Any]], int]) -> Interval | None:
            return Interval.exact(sum(count(t) for t in chosen)) if chosen else None

        failovers = [t for t in mine if FAULTS[t["fault"]].recovery_from]
        stormed = [t for t in runs("kill_storm") if t.get("single_execution")]
        figures = {
            WRONG_VALUES: total(runs(None), lambda t: t["wrong"]),
            RECOVERY_CRASH_S: recovery("kill_replica"),
            RECOVERY_HANG_S: recovery("sigstop_replica"),
            CLIENT_KILL_ERRORS: total(runs("client_kill"), lambda t: t["errors"]),
            GRACEFUL_ERRORS: total(runs("graceful_failover"), lambda t: t["errors"]),
            FLOOD_RSS_MB: spread("write_flood", "peak_rss_growth_mb"),
            ELSEWHERE_ERRORS: total(failovers, lambda t: sum(t["errors_elsewhere"].values())),
            RESEND_WRONG_REPLIES: total(stormed, lambda t: t["single_execution"]["problems"]),
        }
        out |= {fault_metric(client, figure): value for figure, value in figures.items()}
    return out


def fault_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """The child's entry point (`rediscluster_opt.child`): one fault, one client. A peer
    that is not installed refuses the trial (it is reported, not crashed)."""
    try:
        return asyncio.run(_trial(spec))
    except PeerUnavailable as exc:
        raise Refused(f"peer not installed: {exc}") from None
