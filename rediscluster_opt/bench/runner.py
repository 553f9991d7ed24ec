"""Run closed-loop trials for a list of client configurations, interleaved, and return a
result record (see `rediscluster_opt.lab.records` for its schema).

Order: for each repeat, for each concurrency and mode, every configuration once, in the
same order (A B C A B C ...). Neighbours in that order run seconds apart, so the ratio of
two configurations is taken per repeat and then summarised; absolute numbers from
different runs are never compared.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict
from typing import Any

from ..core.address import parse_address, split_address
from ..core.resp import ReplyError
from ..core.topology import TopologyError, parse_cluster_slots
from ..localcluster import command
from .adapters import ClientConfig, Target
from .environment import environment
from .workload import Workload

__all__ = ["BenchmarkError", "new_record", "run_benchmark", "run_sync", "summarize"]

MODES = ("cluster", "standalone")


class BenchmarkError(ValueError):
    """Bad parameters or an unusable target, found before any trial starts."""


def run_sync(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine to completion on a fresh loop in a helper thread, so this works
    inside Jupyter, whose kernel already runs a loop in the main thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="rcopt-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")


def _positive(name: str, value: object, kind: type = float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise BenchmarkError(f"{name} must be a positive number, got {value!r}")
    if kind is int and not isinstance(value, int):
        raise BenchmarkError(f"{name} must be a positive integer, got {value!r}")


def check_target(target: Target, modes: Sequence[str]) -> dict[str, Any]:
    """Fail early, with the reason, when the target cannot serve a benchmark."""
    info: dict[str, Any] = {}
    for mode in modes:
        addresses = [parse_address(a) for a in target.address_for(mode)]
        reply = None
        for address in addresses:
            try:
                reply = command(*split_address(address), "INFO", "server", timeout=3)
                break
            except OSError as exc:
                reply = exc
        if isinstance(reply, (OSError, type(None))):
            raise BenchmarkError(f"{mode} target {', '.join(addresses)} is unreachable: {reply}")
        fields = dict(
            line.split(":", 1)
            for line in reply.decode().splitlines()
            if ":" in line  # type: ignore[union-attr]
        )
        info[f"{mode}_redis_version"] = fields.get("redis_version")
        if mode == "cluster":
            state = command(*split_address(address), "CLUSTER", "INFO", timeout=3)
            if isinstance(state, ReplyError):
                raise BenchmarkError(f"cluster target {address} is not a cluster node: {state}")
            if b"cluster_state:ok" not in state:  # type: ignore[operator]
                raise BenchmarkError(f"cluster at {address} is not ok: {state[:200]!r}")  # type: ignore[index]
    return info


async def populate(target: Target, mode: str, workload: Workload) -> None:
    """Write every workload key with its value, identically in both modes."""
    from ..client import ClusterClient, StandaloneClient

    addresses = target.address_for(mode)
    if mode == "cluster":
        client = await ClusterClient.connect(addresses)
    else:
        client = await StandaloneClient.connect(addresses[0])
    async with client:
        batch = 500
        for start in range(0, workload.key_count, batch):
            stop = min(start + batch, workload.key_count)
            await client.mset({workload.key(i): workload.value(i) for i in range(start, stop)})


def node_addresses(target: Target, mode: str) -> list[str]:
    """The target's servers in `mode`: the standalone server, or every cluster master."""
    if mode == "standalone":
        return target.address_for(mode)
    seed = target.seeds[0]
    reply = command(*split_address(seed), "CLUSTER", "SLOTS", timeout=3)
    return list(parse_cluster_slots(reply, fallback_host=split_address(seed)[0]).masters)


def server_pids(target: Target, mode: str) -> list[int]:
    """pids of local redis-server processes listening on the target's ports (psutil);
    empty for a remote target or without psutil."""
    try:
        import psutil

        ports = {split_address(a)[1] for a in node_addresses(target, mode)}
    except (ImportError, OSError, TopologyError):
        return []
    pids = []
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port in ports and conn.pid:
                pids.append(conn.pid)
    except (psutil.AccessDenied, OSError):
        return []
    return sorted(set(pids))


def delta(before: float | None, after: float | None) -> float | None:
    """after - before, or None when either reading is missing."""
    return after - before if before is not None and after is not None else None


def cpu_seconds_of(pids: list[int]) -> float | None:
    if not pids:
        return None
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            return None
    return total


def _run_trial_process(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rcopt-trial-") as folder:
        spec_path, result_path = os.path.join(folder, "spec.json"), os.path.join(folder, "result.json")
        with open(spec_path, "w") as handle:
            json.dump(spec, handle)
        command_line = [sys.executable, "-m", "rediscluster_opt.bench.trial", spec_path, result_path]
        try:
            done = subprocess.run(command_line, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            tail = (exc.stderr or b"")[-2000:]
            tail = tail.decode(errors="replace") if isinstance(tail, bytes) else tail
            return {
                "status": "failed",
                "reason": f"killed after the {timeout:.0f} s deadline",
                "stderr_tail": tail,
            }
        if done.returncode != 0 or not os.path.exists(result_path):
            return {
                "status": "failed",
                "reason": f"trial process exited with {done.returncode}",
                "stderr_tail": done.stderr[-2000:],
            }
        with open(result_path) as handle:
            return {"status": "ok", **json.load(handle)}


def run_benchmark(
    configs: Sequence[ClientConfig | dict],
    *,
    experiment: str = "bench",
    target: Target | None = None,
    modes: Sequence[str] = MODES,
    workload: Workload | None = None,
    concurrency: Sequence[int] | int = (64,),
    duration: float = 5.0,
    warmup: float = 1.0,
    repeats: int = 3,
    profile: str | None = None,
    line_functions: Sequence[str] | None = None,
    parameters: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Run every configuration in every mode and concurrency, `repeats` times, interleaved;
    return the result record (not yet saved: see `lab.records.save_record`)."""
    configs = [c if isinstance(c, ClientConfig) else ClientConfig.from_dict(c) for c in configs]
    target = target or Target()
    workload = workload or Workload()
    levels = [concurrency] if isinstance(concurrency, int) else list(concurrency)
    if not configs:
        raise BenchmarkError("give at least one client configuration")
    for level in levels:
        _positive("concurrency", level, int)
    _positive("duration", duration)
    _positive("repeats", repeats, int)
    if isinstance(warmup, bool) or not isinstance(warmup, (int, float)) or warmup < 0:
        raise BenchmarkError(f"warmup must be a number >= 0, got {warmup!r}")
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BenchmarkError(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    if profile not in (None, "cprofile", "line"):
        raise BenchmarkError(f"unknown profile kind {profile!r}; choose cprofile or line")
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise BenchmarkError(f"configurations must have distinct labels, got {labels}")

    notes = []
    runnable = []
    for config in configs:
        if config.available():
            runnable.append(config)
        else:
            notes.append(f"{config.label}: {config.client} is not installed; skipped")
    target_info = check_target(target, modes)
    say = progress or (lambda _msg: None)
    for mode in modes:
        say(f"populating {workload.key_count} keys of {workload.value_size} B ({mode})")
        run_sync(lambda mode=mode: populate(target, mode, workload))
    pids_by_mode = {mode: server_pids(target, mode) for mode in modes}

    plan = [
        (rep, level, mode, config)
        for rep in range(repeats)
        for level in levels
        for mode in modes
        for config in runnable
    ]
    trials = []
    started = time.monotonic()
    deadline = warmup + duration + 60 + (duration * 4 if profile else 0)
    for number, (rep, level, mode, config) in enumerate(plan, 1):
        say(
            f"[{number}/{len(plan)}] {config.label:<28} {mode:<10} C={level:<4} repeat {rep + 1}/{repeats}"
            f"  (elapsed {time.monotonic() - started:.0f} s)"
        )
        spec = {
            "config": asdict(config),
            "target": asdict(target),
            "workload": workload.as_dict(),
            "mode": mode,
            "concurrency": level,
            "duration": duration,
            "warmup": warmup,
            "profile": profile,
            "line_functions": list(line_functions) if line_functions else None,
        }
        cpu_before = cpu_seconds_of(pids_by_mode[mode])
        outcome = _run_trial_process(spec, deadline)
        cpu_after = cpu_seconds_of(pids_by_mode[mode])
        outcome["server_cpu_s"] = delta(cpu_before, cpu_after)
        trial = {"index": number - 1, "repeat": rep, "config": config.label, "mode": mode,
                 "concurrency": level, **outcome}  # fmt: skip
        if outcome["status"] != "ok":
            say(f"    FAILED: {outcome['reason']}")
        elif not outcome["valid"]:
            say(f"    INVALID: {outcome['wrong']} wrong replies, e.g. {outcome['wrong_examples'][:1]}")
        else:
            say(f"    {outcome['ops_per_s']:>10,.0f} ops/s  p50 {outcome['latency_us']['p50']:.0f} µs")
        trials.append(trial)

    parameters = {
        "target": asdict(target),
        "modes": list(modes),
        "workload": workload.as_dict(),
        "concurrency": levels,
        "duration_s": duration,
        "warmup_s": warmup,
        "repeats": repeats,
        "profile": profile,
        **(parameters or {}),
    }
    return new_record(experiment, parameters, configs, {**environment(), **target_info}, trials, notes)


def new_record(
    experiment: str, parameters: dict[str, Any], configs: Sequence[ClientConfig],
    env: dict[str, Any], trials: list[dict[str, Any]], notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    """A result record (schema version 1) with its summary computed from the trials."""
    record = {
        "schema_version": 1,
        "experiment": experiment,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "parameters": parameters,
        "configurations": [c.as_dict() for c in configs],
        "environment": env,
        "notes": notes,
        "trials": trials,
    }
    record["summary"] = summarize(record)
    return record


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "min": None, "max": None, "n": 0}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def _cell(trial: dict[str, Any]) -> tuple:
    """Where a trial ran: (mode, scenario, concurrency); configurations are compared per cell."""
    return trial["mode"], trial.get("scenario"), trial["concurrency"]


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    """Medians with spread per (config, mode, scenario, concurrency), and ratios taken per
    repeat: each configuration against the first one, and cluster against standalone.
    `scenario` is None for client benchmarks and names the REST scenario otherwise."""
    good = [t for t in record["trials"] if t.get("status") == "ok" and t.get("valid")]
    groups: dict[tuple, list[dict]] = {}
    for trial in good:
        key = (trial["config"], trial["mode"], trial.get("scenario"), trial["concurrency"])
        groups.setdefault(key, []).append(trial)
    rows = []
    for (config, mode, scenario, level), group in groups.items():
        rows.append(
            {
                "config": config,
                "mode": mode,
                "scenario": scenario,
                "concurrency": level,
                "ops_per_s": _spread([t["ops_per_s"] for t in group]),
                "p50_us": _spread([t["latency_us"]["p50"] for t in group]),
                "p99_us": _spread([t["latency_us"]["p99"] for t in group]),
                "client_cpu_us_per_op": _spread(
                    [t["client_cpu_s"] / t["ops"] * 1e6 for t in group if t["ops"] and t.get("client_cpu_s")]
                ),
            }
        )
    by_key = {
        (t["repeat"], t["config"], t["mode"], t.get("scenario"), t["concurrency"]): t["ops_per_s"]
        for t in good
    }
    repeats = range(record["parameters"]["repeats"])

    def paired(numerator: tuple, denominator: tuple) -> dict[str, float | None]:
        """Spread of numerator/denominator over the repeats where both trials are good."""
        return _spread(
            [
                by_key[(rep, *numerator)] / by_key[(rep, *denominator)]
                for rep in repeats
                if (rep, *numerator) in by_key and (rep, *denominator) in by_key
            ]
        )

    labels = [c["label"] for c in record["configurations"]]
    cells = list(dict.fromkeys(_cell(t) for t in record["trials"]))
    ratios = [
        {"config": label, "reference": labels[0], "mode": mode, "scenario": scenario,
         "concurrency": level, "ratio": paired((label, *cell), (labels[0], *cell))}
        for label in labels[1:]
        for cell in cells
        for mode, scenario, level in [cell]
    ]  # fmt: skip
    mode_ratios = [
        {"config": label, "scenario": scenario, "concurrency": level,
         "cluster_over_standalone": paired((label, "cluster", scenario, level),
                                           (label, "standalone", scenario, level))}
        for label in labels
        for mode, scenario, level in cells
        if mode == "cluster" and ("standalone", scenario, level) in cells
    ]  # fmt: skip
    failed = [t["index"] for t in record["trials"] if t.get("status") != "ok" or not t.get("valid")]
    return {"rows": rows, "ratios": ratios, "mode_ratios": mode_ratios, "failed_trials": failed}
