"""One closed-loop trial, run in its own process (`trial`, through `rediscluster_opt.child`).

C tasks each keep one request in flight against the target for a warm-up, then for the
measured duration. Every reply is checked; a wrong reply makes the trial invalid. The
result (figures, latency percentiles, CPU, socket counters, optional profiles) is written
as JSON to RESULT.json.

When several processes run one trial together (`rcopt bench --processes N`), the spec
names a wall-clock `start_at`: each process connects, waits for it, then warms up and
measures, so their windows line up; each also returns its raw latency samples, which the
runner merges (percentiles of averages would be wrong) and then drops.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time
from dataclasses import dataclass
from typing import Any

from .. import compiled
from ..child import Refused
from . import machine
from .adapters import C_CLIENT, ClientConfig, Target, open_adapter
from .workload import Workload

__all__ = ["merge_results", "percentiles", "run_trial", "trial"]

PERCENTILES = (50, 90, 99, 99.9)
PYSPY_RATE_HZ = 500  # samples per second: about a thousand per 2 s trial


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """Exact percentiles (nearest rank) in microseconds."""
    if not samples_ns:
        return {}
    ordered = sorted(samples_ns)
    n = len(ordered)
    out = {f"p{p:g}": ordered[min(n - 1, max(0, int(round(p / 100 * n)) - 1))] / 1000 for p in PERCENTILES}
    out["max"] = ordered[-1] / 1000
    out["mean"] = sum(ordered) / n / 1000
    return out


def merge_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One trial's figures from its processes' results: counts and rates add up (their
    windows were aligned), latency percentiles come from the merged raw samples, and
    each process's own figures are kept under `per_process`. The raw samples are not."""
    samples = [ns for r in results for ns in r["latency_samples_ns"]]
    ops = sum(r["ops"] for r in results)
    kinds: dict[str, int] = {}
    for r in results:
        for kind, n in r["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    merged: dict[str, Any] = {
        "ops": ops,
        "errors": sum(r["errors"] for r in results),
        "wrong": sum(r["wrong"] for r in results),
        "valid": all(r["valid"] for r in results),
        "error_kinds": kinds,
        "wrong_examples": [w for r in results for w in r["wrong_examples"]][:3],
        "elapsed_s": max(r["elapsed_s"] for r in results),
        "ops_per_s": sum(r["ops_per_s"] for r in results),
        "latency_us": percentiles(samples),
        "client_cpu_s": sum(r["client_cpu_s"] for r in results),
        "event_loop": results[0]["event_loop"],
        "processes": len(results),
        "machine": _merged_machine(results),
        "per_process": [
            {
                "ops": r["ops"],
                "ops_per_s": r["ops_per_s"],
                "errors": r["errors"],
                "client_cpu_s": r["client_cpu_s"],
                "latency_us": {k: r["latency_us"].get(k) for k in ("p50", "p99")},
                "start_skew_s": r.get("start_skew_s"),
            }
            for r in results
        ],
    }
    if all("io" in r for r in results) and ops:
        totals = {k: sum(r["io"][k] for r in results) for k in ("writes", "reads", "replies")}
        merged["io"] = {
            **totals,
            "writes_per_command": totals["writes"] / ops,
            "reads_per_command": totals["reads"] / ops,
            "commands_per_write": ops / totals["writes"] if totals["writes"] else None,
        }
    return merged


def _merged_machine(results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The machine figures of one trial run by several processes: each counted the others
    as foreign, so the foreign share is the busiest window less every client's CPU."""
    windows = [r.get("machine") for r in results]
    if not all(windows):
        return None
    first = dict(windows[0])  # type: ignore[arg-type]
    if first.get("busy") is None:
        return first
    clients = sum(r["client_cpu_s"] for r in results) / max(w["window_s"] for w in windows)  # type: ignore[index]
    busy = max(w["busy"] for w in windows)  # type: ignore[index]
    servers = max(w["servers_cpu"] for w in windows)  # type: ignore[index]
    runner = max(w["runner_cpu"] for w in windows)  # type: ignore[index]
    first.update(
        busy=busy,
        foreign=round(max(busy - clients - servers - runner, 0.0), 4),
        steal=max(w["steal"] for w in windows),  # type: ignore[index]
        client_cpu_over_wall=round(clients / len(windows), 4),
    )
    return first


def _cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _closed_loop(
    adapter: Any, plans: list[Any], seconds: float, record: bool, batch: int | None = None
) -> tuple[dict[str, int], list[int], float, dict[str, int], list[str]]:
    loop = asyncio.get_running_loop()
    running = [True]
    loop.call_later(seconds, running.clear)  # cheaper to test per operation than a clock
    error_kinds: dict[str, int] = {}
    wrong_examples: list[str] = []
    clock = time.perf_counter_ns
    get, set_ = adapter.get, adapter.set
    set_ok = (True, b"OK", "OK")

    async def task(ops: Any) -> tuple[int, int, int, list[int]]:
        # Counters are locals: the loop around each command should cost as little as
        # possible, since it is paid equally by every client and dilutes their ratios.
        done = wrong = errors = 0
        latencies: list[int] = []
        keep = latencies.append if record else _ignore
        while running:
            is_get, key, value = next(ops)
            start = clock()
            try:
                reply = await (get(key) if is_get else set_(key, value))
            except Exception as exc:  # counted and reported, never silently dropped
                errors += 1
                error_kinds[type(exc).__name__] = error_kinds.get(type(exc).__name__, 0) + 1
                continue
            keep(clock() - start)
            done += 1
            if (reply != value) if is_get else (reply not in set_ok):
                wrong += 1
                if len(wrong_examples) < 3:
                    wrong_examples.append(f"{'GET' if is_get else 'SET'} {key!r} -> {reply!r:.80}")
        return done, wrong, errors, latencies

    async def batched(ops: Any) -> tuple[int, int, int, list[int]]:
        # `batch` GETs per request through the client's explicit pipeline; a latency is
        # a request's, an error fails the request's every command.
        done = wrong = errors = 0
        latencies: list[int] = []
        keep = latencies.append if record else _ignore
        get_many, size = adapter.get_many, batch or 1
        while running:
            drawn = [next(ops) for _ in range(size)]
            start = clock()
            try:
                replies = await get_many([key for _, key, _ in drawn])
            except Exception as exc:
                errors += size
                error_kinds[type(exc).__name__] = error_kinds.get(type(exc).__name__, 0) + 1
                continue
            keep(clock() - start)
            done += size
            for reply, (_, key, value) in zip(replies, drawn, strict=True):
                if reply != value:
                    wrong += 1
                    if len(wrong_examples) < 3:
                        wrong_examples.append(f"GET {key!r} (pipelined) -> {reply!r:.80}")
        return done, wrong, errors, latencies

    started = time.perf_counter()
    results = await asyncio.gather(*((task if batch is None else batched)(ops) for ops in plans))
    elapsed = time.perf_counter() - started
    tally = {
        "ops": sum(r[0] for r in results),
        "wrong": sum(r[1] for r in results),
        "errors": sum(r[2] for r in results),
    }
    latencies = [sample for r in results for sample in r[3]]
    return tally, latencies, elapsed, error_kinds, wrong_examples


def _ignore(_sample: int) -> None:
    pass


def _counted_pids(spec: dict[str, Any]) -> list[int]:
    """The processes whose CPU is the trial's own besides this one: the target's servers
    and the runner that started it (this process's parent)."""
    return [*(spec.get("server_pids") or []), os.getppid()]


class _CollectorMode:
    """The garbage collector for the measured window (ClientConfig.gc), set up after the
    warm-up: 'freeze' collects, then moves everything alive into the permanent
    generation, so the collections the window still makes only scan what it allocates;
    'off' disables collection. `end` restores the collector and counts the collections
    the window made, per generation."""

    def __init__(self, mode: str) -> None:
        import gc

        self._mode = mode
        if mode == "freeze":
            gc.collect()
            gc.freeze()
        elif mode == "off":
            gc.disable()
        self._before = [s["collections"] for s in gc.get_stats()]

    def end(self) -> list[int]:
        import gc

        made = [s["collections"] - b for s, b in zip(gc.get_stats(), self._before, strict=True)]
        if self._mode == "freeze":
            gc.unfreeze()
        elif self._mode == "off":
            gc.enable()
        return made


async def run_trial(spec: dict[str, Any]) -> dict[str, Any]:
    config = ClientConfig.from_dict(spec["config"])
    workload = Workload(**spec["workload"])
    plans = _plans(config, workload, spec["concurrency"])
    if config.free_cap is not None:  # this process is the trial's own: the class setting is too
        from ..stages.submit import PooledFutureSubmit

        PooledFutureSubmit.FREE_CAP = config.free_cap
    adapter = await open_adapter(
        config, spec["mode"], Target(**spec["target"]), spec["concurrency"], workload=workload
    )
    skew = None
    if spec.get("start_at") is not None:  # one of several processes: start together
        await asyncio.sleep(max(0.0, spec["start_at"] - time.time()))
        skew = time.time() - spec["start_at"]
    try:
        if config.batch is not None and adapter.get_many is None:
            raise Refused(f"{config.client} has no explicit pipeline in the bench adapters")
        await _closed_loop(adapter, plans, spec.get("warmup", 1.0), record=False, batch=config.batch)
        window = await _measured_window(adapter, plans, spec, config)
    finally:
        await adapter.close()
    result = window.result(config)
    if skew is not None:
        result["start_skew_s"] = skew
        result["latency_samples_ns"] = window.latencies
    return result


def _plans(config: ClientConfig, workload: Workload, concurrency: int) -> list[Any]:
    """Each task's operation plan, drawn before any timing starts; a batching configuration
    keeps as many commands in flight as concurrency / batch pipelines. Refused when the
    configuration cannot run here."""
    batch = config.batch
    if batch is not None and (workload.kind != "get" or batch > concurrency):
        raise Refused(
            f"pipelines of {batch} run GETs only, at a concurrency of at least {batch} commands in flight "
            f"(workload {workload.kind!r}, concurrency {concurrency})"
        )
    if config.client == "ours":  # the build the configuration names, or a refusal that says why
        try:
            compiled.require(config.build)
        except compiled.BuildError as exc:
            raise Refused(str(exc)) from None
    return [workload.operations(seed) for seed in range(concurrency // (batch or 1))]


@dataclass
class _Window:
    """What one measured window found: the closed loop's tallies, and the process's and the
    machine's counters across it."""

    tally: dict[str, int]
    latencies: list[int]
    elapsed: float
    error_kinds: dict[str, int]
    wrong_examples: list[str]
    cpu: float
    machine: dict[str, Any]
    io: dict[str, Any] | None
    collections: list[int]
    profile: Any

    def result(self, config: ClientConfig) -> dict[str, Any]:
        ops = self.tally["ops"]
        result: dict[str, Any] = {
            "ops": ops,
            "errors": self.tally["errors"],
            "wrong": self.tally["wrong"],
            "valid": self.tally["wrong"] == 0 and ops > 0,
            "error_kinds": self.error_kinds,
            "wrong_examples": self.wrong_examples,
            "elapsed_s": self.elapsed,
            "ops_per_s": ops / self.elapsed if self.elapsed else 0.0,
            "latency_us": percentiles(self.latencies),
            "client_cpu_s": self.cpu,
            "event_loop": type(asyncio.get_running_loop()).__module__.split(".")[0],
            "gc": {"mode": config.gc, "collections": self.collections},
            "allocator": os.environ.get("PYTHONMALLOC") or "pymalloc",
            "build": compiled.loaded(),
            "machine": self.machine,
        }
        if self.io is not None and ops:
            result["io"] = {
                **self.io,
                "writes_per_command": self.io["writes"] / ops,
                "reads_per_command": self.io["reads"] / ops,
                "commands_per_write": ops / self.io["writes"] if self.io["writes"] else None,
            }
        if self.profile is not None:
            result["profile"] = self.profile
        return result


async def _measured_window(
    adapter: Any, plans: list[Any], spec: dict[str, Any], config: ClientConfig
) -> _Window:
    """The measured closed loop, with the process's CPU, the machine, the adapter's I/O
    counters, the collector and the profiler read around it."""
    duration = spec["duration"]
    collector = _CollectorMode(config.gc)
    io_before = adapter.io_counters()
    counted = _counted_pids(spec)
    probe_before = machine.probe_ns()
    machine_before = machine.read(counted)
    cpu_before, children_before = _cpu_seconds(), _cpu_seconds(resource.RUSAGE_CHILDREN)
    running = adapter.hot_functions() if adapter.hot_functions else []
    profiler = _start_profiler(spec.get("profile"), spec.get("line_functions"), spec, duration, running)
    tally, latencies, elapsed, error_kinds, wrong = await _closed_loop(
        adapter, plans, duration, record=True, batch=config.batch
    )
    profile = _stop_profiler(profiler, spec.get("profile"))
    cpu = _cpu_seconds() - cpu_before
    machine_after = machine.read(counted)
    probe_after = machine.probe_ns()
    # the trial's own children (py-spy sampling it, which has exited by now) are the
    # trial's, not a third process's
    children = _cpu_seconds(resource.RUSAGE_CHILDREN) - children_before
    io_after = adapter.io_counters()
    io = (
        {k: io_after[k] - io_before.get(k, 0) for k in io_after}
        if io_before is not None and io_after is not None
        else None
    )
    window = machine.window(
        machine_before,
        machine_after,
        cpu,
        servers=spec.get("server_pids") or [],
        servers_expected=spec.get("servers_expected", True),
        children_cpu_s=children,
        probes=(probe_before, probe_after),
    )
    return _Window(tally, latencies, elapsed, error_kinds, wrong, cpu, window, io, collector.end(), profile)


def _start_pyspy(output: str, seconds: float) -> Any:
    """py-spy sampling this very process for the measured window: a sampler does not
    slow the hot path the way cProfile's per-call hooks do. Without py-spy, the state
    carries the reason, and the trial's profile says it instead of a flame graph."""
    import os
    import shutil
    import subprocess

    binary = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if binary is None:
        return {"error": "py-spy is not installed (pip install py-spy)"}
    folder, name = os.path.split(os.path.abspath(output))
    command = [
        "py-spy",
        "record",
        "--pid",
        str(os.getpid()),
        "--duration",
        str(max(1, round(seconds))),
        "--rate",
        str(PYSPY_RATE_HZ),
        "--function",  # one frame per function, whatever line it was on
        "--format",
        "raw",  # folded stacks: the record keeps them (bench.profiling.fold_stacks)
        "--output",
        name,
        "--nonblocking",
    ]
    path = os.pathsep.join([os.path.dirname(binary), os.environ.get("PATH", "")])
    process = subprocess.Popen(
        command,
        cwd=folder,
        env={**os.environ, "PATH": path},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    time.sleep(0.05)  # let it attach before the measured loop starts
    return {"process": process, "output": output}


def _start_profiler(
    kind: str | None,
    functions: list[str] | None,
    spec: dict[str, Any] | None = None,
    duration: float = 0.0,
    running: list[Any] | None = None,
) -> Any:
    """`functions`: dotted names for line_profiler; `running`: the function objects this
    client's configuration runs (generated routes have no dotted name), profiled too."""
    if kind is None:
        return None
    if kind == "pyspy":
        return _start_pyspy((spec or {}).get("stacks_file") or "stacks.folded", duration)
    profiler: Any
    if kind == "cprofile":
        import cProfile

        profiler = cProfile.Profile()
    elif kind == "line":
        from line_profiler import LineProfiler

        from .profiling import HOT_PATH, resolve_function

        named = [resolve_function(name) for name in (functions or ([] if running else HOT_PATH))]
        unique = {id(f): f for f in [*named, *(running or [])] if hasattr(f, "__code__")}
        profiler = LineProfiler(*unique.values())
    else:
        raise ValueError(f"unknown profile kind {kind!r}; choose cprofile or line")
    profiler.enable()
    return profiler


def _stop_profiler(profiler: Any, kind: str | None) -> dict[str, Any] | None:
    if profiler is None:
        return None
    if kind == "pyspy":
        return _stop_pyspy(profiler)
    profiler.disable()
    from .profiling import cprofile_top, line_profile_rows

    data = cprofile_top(profiler) if kind == "cprofile" else line_profile_rows(profiler)
    return {"kind": kind, **data}


def _stop_pyspy(state: dict[str, Any]) -> dict[str, Any]:
    import os
    import subprocess

    if "error" in state:
        return {"kind": "pyspy", "flamegraph": None, "error": state["error"]}
    process = state["process"]
    try:
        output, _ = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        output, _ = process.communicate()
    text = output.decode(errors="replace").strip()
    if process.returncode != 0 or not os.path.exists(state["output"]):
        return {"kind": "pyspy", "stacks": None, "error": f"py-spy could not sample: {text[-300:]}"}
    from .profiling import MACHINERY, fold_stacks

    with open(state["output"], encoding="utf-8", errors="replace") as raw:
        stacks = fold_stacks(raw.read())
    return {
        "kind": "pyspy",
        "stacks": stacks,
        "samples": sum(stacks.values()),
        "rate_hz": PYSPY_RATE_HZ,
        "folded": list(MACHINERY),
        "log": text[-300:],
    }


def trial(spec: dict[str, Any]) -> dict[str, Any]:
    """The child's entry point (`rediscluster_opt.child`): one trial on the event loop the
    configuration names; the C client's calibration arm runs redis-benchmark instead."""
    if spec["config"]["client"] == C_CLIENT:
        from .cclient import trial as c_client_trial

        return c_client_trial(spec)
    if spec["config"].get("loop", "uvloop") == "uvloop":
        import uvloop

        return uvloop.run(run_trial(spec))
    return asyncio.run(run_trial(spec))
