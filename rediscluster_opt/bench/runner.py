"""Run closed-loop trials for a list of client configurations, interleaved, and return a
result record (see `rediscluster_opt.results` for its schema and statistics).

Order: for each repeat, for each concurrency and mode, every configuration once, the
order rotated by one each repeat (A B C, B C A, C A B ...; each trial records its
`position`), so no configuration always runs first or right after another. Neighbours in
that order run seconds apart, so the ratio of two configurations is taken per repeat and
then summarised; absolute numbers from different runs are never compared.

Every trial records whose machine it ran on (`bench.machine`: the CPU third processes
took during its window, steal, the client's CPU over wall time). A contaminated trial is
run again, after a quiet second, up to MAX_RERUNS times; the record keeps the ones it
replaced under `superseded`, and a trial still contaminated after that stays in the
statistics marked `contaminated`, for the story to say so.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

from ..child import ChildFailed, ChildRefused, start_child
from ..results import metric_of, new_record, repo_relative
from ..validate import check_number
from . import machine
from .adapters import C_CLIENT, ClientConfig, Target, process_env
from .cpu import cpu_seconds_of, delta, pinned_servers, plan_pinning
from .environment import environment
from .sync import run_sync
from .target import BenchmarkError, check_target, is_local, populate, server_pids
from .trial import merge_results, trial
from .workload import Workload

__all__ = ["BenchmarkError", "MAX_RERUNS", "PROFILES", "reruns_for", "rotated", "run_benchmark"]

MODES = ("cluster", "standalone")
# A contaminated trial is run again at most this many times. Four, not two: a rerun costs
# a trial (about 1.6 s), while a trial that stays contaminated reruns its whole story
# (7-14 min; a default run at 1a28add lost 7 min so to a burst of host steal time).
MAX_RERUNS = 4


def reruns_for(smoke: bool) -> int:
    """How many times a contaminated trial runs again: never in a smoke run, whose figures
    are no evidence (and which runs notebooks side by side, so no second there is quiet:
    each rerun would wait out `quiet_moment`'s patience)."""
    return 0 if smoke else MAX_RERUNS


PROFILES = ("cprofile", "line", "pyspy")
STARTUP_S = 1.5  # per process of a multi-process trial: start, import, connect


def _recorded(target: Target) -> dict[str, Any]:
    """A target as a record keeps it: its TLS files relative to the workspace root where
    they lie inside it, so a record names no machine's folders."""
    data = asdict(target)
    tls = data.get("tls") or {}
    for key in ("ca_certs", "certfile", "keyfile"):
        if tls.get(key):
            tls[key] = repo_relative(Path(tls[key]))
    return data


def _run_trial_process(
    spec: dict[str, Any], timeout: float, client_cpus: list[int] | None = None, processes: int = 1
) -> dict[str, Any]:
    """One trial in `processes` child processes (pinned to `client_cpus` when given),
    their measured windows aligned and their results merged; a crash or a hang becomes a
    failed trial with the tail of the child's output, never an exception."""
    if processes > 1:  # time to start Python, import and connect, before the common start
        spec = {**spec, "start_at": time.time() + STARTUP_S * processes}
    config = spec["config"]  # checked in the child
    env = process_env(config.get("allocator") or "pymalloc", config.get("build") or "pure")
    children = [start_child(trial, spec, cpus=client_cpus, env=env) for _ in range(processes)]
    deadline = time.monotonic() + timeout + (STARTUP_S * processes if processes > 1 else 0)
    results = []
    for child in children:
        try:
            results.append(child.result(deadline - time.monotonic()))
        except (ChildFailed, ChildRefused) as exc:
            for other in children:
                other.kill()
            reason = exc.reason if isinstance(exc, ChildFailed) else str(exc)
            tail = exc.output_tail if isinstance(exc, ChildFailed) else ""
            return {"status": "failed", "reason": f"trial process {reason}", "stderr_tail": tail}
    return {"status": "ok", **(merge_results(results) if processes > 1 else results[0])}


def _check_options(
    configs: list[ClientConfig],
    levels: list[int],
    modes: Sequence[str],
    duration: float,
    warmup: float,
    repeats: int,
    profile: str | None,
) -> None:
    if not configs:
        raise BenchmarkError("give at least one client configuration")
    for level in levels:
        check_number("concurrency", level, integer=True, error=BenchmarkError)
    check_number("duration", duration, error=BenchmarkError)
    check_number("repeats", repeats, integer=True, error=BenchmarkError)
    check_number("warmup", warmup, allow_zero=True, error=BenchmarkError)
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise BenchmarkError(f"unknown mode(s) {unknown}; choose from {', '.join(MODES)}")
    if profile not in (None, *PROFILES):
        raise BenchmarkError(f"unknown profile kind {profile!r}; choose one of {', '.join(PROFILES)}")
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise BenchmarkError(f"configurations must have distinct labels, got {labels}")


def _describe(outcome: dict[str, Any]) -> str:
    if outcome["status"] != "ok":
        return f"    FAILED: {outcome['reason']}"
    if not outcome["valid"]:
        return f"    INVALID: {outcome['wrong']} wrong replies, e.g. {outcome['wrong_examples'][:1]}"
    cpu = metric_of(outcome, "cpu_us_per_op") or 0.0
    p50 = outcome["latency_us"]["p50"]
    return f"    {outcome['ops_per_s']:>10,.0f} ops/s  p50 {p50:.0f} µs  CPU {cpu:.1f} µs/op"


def rotated(items: Sequence[Any], by: int) -> list[Any]:
    """`items` rotated left by `by` (the order of one repeat's arms)."""
    if not items:
        return []
    cut = by % len(items)
    return [*items[cut:], *items[:cut]]


def run_benchmark(
    configs: Sequence[ClientConfig | dict[str, Any]],
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
    flame_dir: Path | str | None = None,
    pin: bool = True,
    parameters: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = print,
    processes: int = 1,
    targets: dict[str, Target] | None = None,
    cluster_only: Sequence[str] = (),
    warmups: dict[str, float] | None = None,
    reruns: int = MAX_RERUNS,
) -> dict[str, Any]:
    """Run every configuration in every mode and concurrency, `repeats` times, interleaved;
    return the result record (not yet saved: see `results.save_record`).

    profile: None, "cprofile", "line" (line_profiler over `line_functions`) or "pyspy"
    (py-spy's sampled stacks per trial, folded into the record; its raw output stays in
    `flame_dir`, in the folded format flame graph tools read). processes: client
    processes per trial, each with `concurrency` tasks, their figures merged. targets:
    configuration label -> the target it runs against instead of `target` (plain vs TLS in
    one interleaved run). cluster_only: labels of arms no standalone figure reads (a peer
    beside a cluster-only ratio), left out of the standalone trials to save their time.
    warmups: label -> a longer warm-up for an arm that needs one (a client opening a TLS
    connection per concurrent command). reruns: how many times a contaminated trial runs
    again (a smoke run, whose figures are not evidence, runs none). pin: client and
    servers on disjoint CPUs when the machine has at least two (recorded either way)."""
    arms = [c if isinstance(c, ClientConfig) else ClientConfig.from_dict(c) for c in configs]
    target = target or Target()
    workload = workload or Workload()
    levels = [concurrency] if isinstance(concurrency, int) else list(concurrency)
    _check_options(arms, levels, modes, duration, warmup, repeats, profile)
    warmups = warmups or {}
    strangers = sorted({*cluster_only, *warmups} - {c.label for c in arms})
    if strangers:
        raise BenchmarkError(f"cluster_only and warmups name no configuration: {', '.join(strangers)}")
    for label, seconds in warmups.items():
        check_number(f"warmup of {label}", seconds, allow_zero=True, error=BenchmarkError)
    check_number("processes", processes, integer=True, error=BenchmarkError)
    check_number("reruns", reruns, integer=True, allow_zero=True, error=BenchmarkError)
    if processes > 1 and profile:
        raise BenchmarkError("profile one client process at a time: --profile needs --processes 1")
    if processes > 1 and any(c.client == C_CLIENT for c in arms):
        raise BenchmarkError(
            f"{C_CLIENT} runs as one process (its --threads are not ours): use --processes 1"
        )
    if profile == "pyspy":
        duration = float(math.ceil(duration))  # py-spy samples whole seconds
        flame_dir = Path(flame_dir or tempfile.mkdtemp(prefix="rcopt-flames-"))
        flame_dir.mkdir(parents=True, exist_ok=True)

    notes = [f"{c.label}: {c.missing()}; skipped" for c in arms if not c.available()]
    runnable = [c for c in arms if c.available()]
    targets = targets or {}
    every_target = list({id(t): t for t in [target, *targets.values()]}.values())

    def modes_of(each: Target) -> list[str]:
        """Every mode for the main target; a configuration's own target without a
        standalone server (a cluster of another size in a sweep) runs in cluster mode only."""
        return list(modes) if each is target else [m for m in modes if m != "standalone" or each.standalone]

    def runs_in(config: ClientConfig, mode: str) -> bool:
        if mode == "standalone" and config.label in cluster_only:
            return False
        return mode in modes_of(targets.get(config.label, target))

    target_info = {}
    for each in every_target:
        target_info.update(check_target(each, modes_of(each)))
    say = progress or (lambda _msg: None)
    for each in every_target:
        for mode in modes_of(each):
            say(f"populating {workload.key_count} keys of {workload.value_size} B ({mode})")
            run_sync(partial(populate, each, mode, workload))
    pids_by_mode = {
        mode: sorted({p for t in every_target if mode in modes_of(t) for p in server_pids(t, mode)})
        for mode in modes
    }
    all_pids = sorted({pid for pids in pids_by_mode.values() for pid in pids})

    plan = [
        (rep, level, mode, config, position)
        for rep in range(repeats)
        for level in levels
        for mode in modes
        for position, config in enumerate(c for c in rotated(runnable, rep) if runs_in(c, mode))
    ]
    trials: list[dict[str, Any]] = []
    superseded: list[dict[str, Any]] = []
    started = time.monotonic()
    deadline = max([warmup, *warmups.values()]) + duration + 60 + (duration * 4 if profile else 0)
    with pinned_servers(plan_pinning(pin), all_pids) as pinning:
        client_cpus = pinning.get("client_cpus") if pinning["enabled"] else None
        for number, (rep, level, mode, config, position) in enumerate(plan, 1):
            say(
                f"[{number}/{len(plan)}] {config.label:<28} {mode:<10} C={level:<4} "
                f"repeat {rep + 1}/{repeats}  (elapsed {time.monotonic() - started:.0f} s)"
            )
            each = targets.get(config.label, target)
            spec = {
                "config": asdict(config),
                "target": asdict(each),
                "workload": workload.as_dict(),
                "mode": mode,
                "concurrency": level,
                "duration": duration,
                "warmup": warmups.get(config.label, warmup),
                "profile": profile,
                "line_functions": list(line_functions) if line_functions else None,
                "stacks_file": f"{flame_dir}/{experiment}_{number:03d}.folded" if flame_dir else None,
                "server_pids": pids_by_mode[mode],
                "servers_expected": is_local(each, mode),
            }
            for rerun in range(reruns + 1):
                cpu_before = cpu_seconds_of(pids_by_mode[mode])
                outcome = _run_trial_process(spec, deadline, client_cpus, processes)
                outcome["server_cpu_s"] = delta(cpu_before, cpu_seconds_of(pids_by_mode[mode]))
                found = {
                    "repeat": rep,
                    "position": position,
                    "config": config.label,
                    "mode": mode,
                    "concurrency": level,
                    **outcome,
                    "rerun": rerun,
                    "contaminated": machine.contaminated(outcome.get("machine")),
                }
                if not found["contaminated"] or rerun == reruns or outcome["status"] != "ok":
                    trials.append({"index": len(trials), **found})
                    say(_describe(outcome) + _machine_note(found))
                    break
                superseded.append({"index": len(superseded), **found})
                say(f"{_machine_note(found)}: run again after a quiet second")
                machine.quiet_moment(all_pids)

    parameters = {
        "target": _recorded(target),
        "targets": {label: _recorded(t) for label, t in targets.items()},
        "modes": list(modes),
        "workload": workload.as_dict(),
        "concurrency": levels,
        "duration_s": duration,
        "warmup_s": warmup,
        "repeats": repeats,
        "profile": profile,
        "processes": processes,
        **({"cluster_only": list(cluster_only)} if cluster_only else {}),
        **({"warmups_s": warmups} if warmups else {}),
        **(parameters or {}),
    }
    env = {**environment(), **target_info, "pinning": pinning}
    record = new_record(experiment, parameters, [c.as_dict() for c in arms], env, trials, notes)
    if superseded:
        record["superseded"] = superseded
    return dict(record)


def _machine_note(trial: dict[str, Any]) -> str:
    """A trial's machine, as the progress line says it when it was not quiet."""
    figures = trial.get("machine") or {}
    if not trial.get("contaminated"):
        return ""
    return (
        f"    contaminated: others took {figures.get('foreign', 0):.2f} CPU "
        f"(steal {figures.get('steal') or 0:.2f}) during the window"
    )
