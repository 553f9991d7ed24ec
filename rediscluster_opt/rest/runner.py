"""Run the REST benchmark: for each repeat, mode and backend (interleaved), reseed SQLite,
delete the lab's cache keys (only those: the target may hold other data), start the app,
warm up and measure each scenario with autocannon, stop the app.
Returns a result record of the same schema family as the client benchmark."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..bench import machine
from ..bench.adapters import ClientConfig, Target
from ..bench.cpu import cpu_seconds_of, delta
from ..bench.environment import environment
from ..bench.runner import MAX_RERUNS, rotated
from ..bench.sync import run_sync
from ..bench.target import BenchmarkError, check_target, clear_lab_keys, is_local, server_pids
from ..results import new_record
from ..validate import check_number
from .app import USER_KEY
from .data import SEED_ROWS, seed_database
from .loadgen import SCENARIOS, LoadgenError, ensure_autocannon, run_scenario
from .servers import APP, SERVERS

__all__ = ["SERVERS", "run_rest_benchmark"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clear_cache(target: Target, mode: str) -> None:
    """Each trial starts cold: the lab's cache keys go (only those, on any target)."""
    run_sync(lambda: clear_lab_keys(target, mode, USER_KEY.decode().replace("%d", "*")))


class AppProcess:
    """The app under an ASGI server, in its own process."""

    def __init__(self, server: str, backend: ClientConfig, mode: str, target: Target, db: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        if server == "granian":
            args = [*SERVERS[server], "--host", "127.0.0.1", "--port", str(self.port), APP]
        else:
            args = [
                *SERVERS[server],
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
                "--log-level",
                "warning",
                APP,
            ]
        env = {
            **os.environ,
            "RCOPT_BACKEND": _backend_spec(backend),
            "RCOPT_MODE": mode,
            "RCOPT_TARGET": json.dumps(asdict(target)),
            "RCOPT_DB": str(db),
        }
        self.log = db.with_name(f"app-{self.port}.log")
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, *args], env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchmarkError(f"the app exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/users/1", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise BenchmarkError(f"the app did not answer within {timeout:g} s:\n{self.log_tail()}")

    def stats(self) -> dict[str, Any]:
        import json

        with urllib.request.urlopen(f"{self.base_url}/_stats", timeout=5) as response:
            found: dict[str, Any] = json.loads(response.read())
            return found

    def pids(self) -> list[int]:
        """The server's process and its workers (granian serves from a child)."""
        try:
            import psutil

            children = [c.pid for c in psutil.Process(self.process.pid).children(recursive=True)]
        except Exception:  # psutil missing or the process gone
            return [self.process.pid]
        return [self.process.pid, *children]

    def cpu_seconds(self) -> float | None:
        """CPU of the server and its worker processes; None when one is not readable."""
        return cpu_seconds_of(self.pids())

    def log_tail(self, lines: int = 20) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log_file.close()


def _backend_spec(config: ClientConfig) -> str:
    if config.client != "ours":
        return config.client
    stages = config.stage_set()
    changes = ",".join(f"{k}={v}" for k, v in stages.as_dict().items())
    return f"optimized:{changes}"


def _trial_from(result: dict[str, Any], scenario: Any) -> dict[str, Any]:
    """autocannon's result as the record's trial figures (latency ms -> µs)."""
    latency = result["latency"]
    codes = {k: result.get(k, 0) for k in ("1xx", "2xx", "3xx", "4xx", "5xx")}
    errors, timeouts, non2xx = result.get("errors", 0), result.get("timeouts", 0), result.get("non2xx", 0)
    valid = errors == 0 and timeouts == 0 and codes["5xx"] == 0 and (scenario.expect_non2xx or non2xx == 0)
    return {
        "status": "ok",
        "valid": bool(valid) and result["requests"]["total"] > 0,
        "ops": result["requests"]["total"],
        "ops_per_s": result["requests"]["average"],
        "latency_us": {
            "p50": latency["p50"] * 1000,
            "p97.5": latency["p97_5"] * 1000,
            "p99": latency["p99"] * 1000,
            "p99.9": latency["p99_9"] * 1000,
            "max": latency["max"] * 1000,
            "mean": latency["average"] * 1000,
        },
        "errors": errors,
        "timeouts": timeouts,
        "non2xx": non2xx,
        "status_codes": codes,
        "wrong": 0,
        "autocannon": result,
    }


def run_rest_benchmark(
    backends: Sequence[ClientConfig],
    *,
    modes: Sequence[str] = ("standalone", "cluster"),
    scenarios: Sequence[str] = ("get_single", "get_list", "post", "mixed"),
    duration: float = 30.0,
    warmup: float = 5.0,
    repeats: int = 1,
    server: str = "granian",
    target: Target | None = None,
    data_dir: Path | str = ".rcopt/rest",
    experiment: str = "rest",
    parameters: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = print,
    standalone_scenarios: Sequence[str] | None = None,
    side_arms: Sequence[str] = (),
    side_repeats: int = 1,
    reruns: int = MAX_RERUNS,
) -> dict[str, Any]:
    """Every backend in every mode and scenario, `repeats` times interleaved; the record
    (not yet saved). standalone_scenarios: those run in standalone mode (None: all), when
    standalone figures are read of those alone. side_arms: labels of backends measured for
    the table beside the compared ones, not for a paired verdict: they run in the first
    `side_repeats` repeats only. reruns: how many times a contaminated trial runs again."""
    target = target or Target()
    unknown = [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        raise BenchmarkError(f"unknown scenario(s) {unknown}; choose from {', '.join(SCENARIOS)}")
    if server not in SERVERS:
        raise BenchmarkError(f"unknown server {server!r}; choose from {', '.join(SERVERS)}")
    # autocannon ends a run at its once-a-second sample: asked for 0.5 s it runs 1 s, which
    # a record saying 0.5 would misstate, so a fraction is refused.
    for name, seconds, zero in (("duration", duration, False), ("warmup", warmup, True)):
        check_number(name, seconds, allow_zero=zero, whole=True, error=BenchmarkError,
                     unit="seconds (autocannon ends a run at its once-a-second sample)")  # fmt: skip
    check_number("repeats", repeats, integer=True, error=BenchmarkError)
    if not backends:
        raise BenchmarkError("give at least one backend")
    strangers = sorted(set(side_arms) - {b.label for b in backends})
    unknown_standalone = [s for s in standalone_scenarios or () if s not in scenarios]
    if strangers or unknown_standalone:
        raise BenchmarkError(f"side_arms or standalone_scenarios name what the run has not: "
                             f"{', '.join([*strangers, *unknown_standalone])}")  # fmt: skip
    check_number("side_repeats", side_repeats, integer=True, error=BenchmarkError)
    check_number("reruns", reruns, integer=True, allow_zero=True, error=BenchmarkError)
    missing = [b.label for b in backends if not b.available()]
    if missing:
        raise BenchmarkError(f"backend(s) not installed: {', '.join(missing)}")
    try:
        ensure_autocannon()
    except LoadgenError as exc:
        raise BenchmarkError(str(exc)) from None
    target_info = check_target(target, modes)
    say = progress or (lambda _msg: None)
    db = Path(data_dir).absolute() / experiment / "bench.db"  # a run of its own: runs may overlap
    user_id = random.Random().randrange(1, SEED_ROWS + 1)  # chosen once per run, as the original
    pids_by_mode = {mode: server_pids(target, mode) for mode in modes}

    # the backends' order rotates each repeat (bench.runner): none always runs first
    plan = [
        (rep, mode, backend, position)
        for rep in range(repeats)
        for mode in modes
        for position, backend in enumerate(
            b for b in rotated(list(backends), rep) if rep < side_repeats or b.label not in side_arms
        )
    ]
    scenarios_in = {mode: list(scenarios) for mode in modes}
    if standalone_scenarios is not None and "standalone" in scenarios_in:
        scenarios_in["standalone"] = [s for s in scenarios if s in standalone_scenarios]
    trials: list[dict[str, Any]] = []
    superseded: list[dict[str, Any]] = []
    started = time.monotonic()
    for number, (rep, mode, backend, position) in enumerate(plan, 1):
        say(
            f"[{number}/{len(plan)}] {backend.label} ({mode}), repeat {rep + 1}/{repeats}"
            f"  (elapsed {time.monotonic() - started:.0f} s)"
        )
        seed_database(db)
        _clear_cache(target, mode)
        app = AppProcess(server, backend, mode, target, db)
        try:
            app.wait_ready()
            for name in scenarios_in[mode]:
                scenario = SCENARIOS[name]
                base = {
                    "repeat": rep,
                    "position": position,
                    "config": backend.label,
                    "mode": mode,
                    "scenario": name,
                    "concurrency": scenario.connections,
                    "pipelining": scenario.pipelining,
                }
                for rerun in range(reruns + 1):
                    try:
                        trial = _measure(scenario, app, base, duration, warmup, user_id, pids_by_mode[mode],
                                         is_local(target, mode))  # fmt: skip
                    except LoadgenError as exc:
                        trial = {
                            **base,
                            "status": "failed",
                            "reason": str(exc),
                            "stderr_tail": app.log_tail(),
                        }
                        say(f"    {name}: FAILED {exc}")
                        break
                    trial["rerun"] = rerun
                    if not trial["contaminated"] or rerun == reruns:
                        break
                    superseded.append({"index": len(superseded), **trial})
                    taken = trial["machine"]["foreign"]
                    say(f"    {name}: contaminated, others took {taken:.2f} CPU: run again")
                    machine.quiet_moment([*pids_by_mode[mode], *app.pids()])
                trials.append({"index": len(trials), **trial})
                if trial["status"] != "ok":
                    continue
                p50_ms = trial["latency_us"]["p50"] / 1000
                say(
                    f"    {name:<11} {trial['ops_per_s']:>10,.0f} req/s  p50 {p50_ms:.0f} ms"
                    f"  non2xx {trial['non2xx']}{'' if trial['valid'] else '  INVALID'}"
                    + ("  contaminated" if trial["contaminated"] else "")
                )
            stats = app.stats()
            for trial in trials:
                if trial["repeat"] == rep and trial["mode"] == mode and trial["config"] == backend.label:
                    trial["app_counters"] = stats
        except BenchmarkError as exc:
            for name in scenarios_in[mode]:
                trials.append(
                    {
                        "index": len(trials),
                        "repeat": rep,
                        "config": backend.label,
                        "mode": mode,
                        "scenario": name,
                        "concurrency": SCENARIOS[name].connections,
                        "status": "failed",
                        "reason": str(exc),
                    }
                )
            say(f"    FAILED: {exc}")
        finally:
            app.stop()

    parameters = {
        "target": asdict(target),
        "modes": list(modes),
        "scenarios": list(scenarios),
        "concurrency": sorted({SCENARIOS[s].connections for s in scenarios}),
        "duration_s": duration,
        "warmup_s": warmup,
        "repeats": repeats,
        **({"side_arms": list(side_arms), "side_repeats": side_repeats} if side_arms else {}),
        **({"standalone_scenarios": list(standalone_scenarios)} if standalone_scenarios is not None else {}),
        "server": server,
        "get_single_user_id": user_id,
        **(parameters or {}),
    }
    # The app, autocannon and the servers all need CPUs here, so nothing is pinned.
    pinning = {
        "enabled": False,
        "reason": "REST runs share every CPU between app, load generator and servers",
    }
    env = {**environment(), **target_info, "pinning": pinning}
    configurations = [b.as_dict() for b in backends]
    record: dict[str, Any] = dict(new_record(experiment, parameters, configurations, env, trials, []))
    record["summary"]["rest"] = rest_comparison(record)
    if superseded:
        record["superseded"] = superseded
    return record


def _measure(
    scenario: Any,
    app: AppProcess,
    base: dict[str, Any],
    duration: float,
    warmup: float,
    user_id: int,
    servers: list[int],
    servers_expected: bool,
) -> dict[str, Any]:
    """One scenario's trial: warm up, then measure, with the app's, the servers' and the
    load generator's CPU, and whose machine it was (bench.machine). autocannon warms up and
    measures in one process and says when the measured window starts; the counters are
    read then."""
    counted = [*servers, os.getpid()]
    before: dict[str, Any] = {}

    def measuring() -> None:
        before.update(app=app.cpu_seconds(), servers=cpu_seconds_of(servers), machine=machine.read(counted))

    result = run_scenario(scenario, app.base_url, duration, user_id=user_id, max_user_id=SEED_ROWS,
                          warmup=warmup, measuring=measuring)  # fmt: skip
    machine_after, app_cpu, servers_cpu = machine.read(counted), app.cpu_seconds(), cpu_seconds_of(servers)
    trial = {**base, **_trial_from(result, scenario)}
    trial["client_cpu_s"] = delta(before["app"], app_cpu) or 0.0
    trial["server_cpu_s"] = delta(before["servers"], servers_cpu)
    trial["loadgen_cpu_s"] = result.get("loadgenCpuS", 0.0)
    # the app and autocannon are the clients here; the runner itself is counted too
    clients = trial["client_cpu_s"] + trial["loadgen_cpu_s"]
    trial["machine"] = machine.window(
        before["machine"], machine_after, clients, servers=servers, servers_expected=servers_expected
    )
    trial["contaminated"] = machine.contaminated(trial["machine"])
    return trial


def rest_comparison(record: dict[str, Any]) -> list[dict[str, Any]]:
    """Per scenario and backend: standalone and cluster req/s (median, min, max over the
    repeats), cluster p50/p99 (medians) and the standalone->cluster drop of the medians."""
    rows = []
    found = {(r["config"], r["mode"], r["scenario"]): r for r in record["summary"]["rows"]}

    def stat(row: dict[str, Any] | None, metric: str, which: str = "median") -> float | None:
        return row[metric][which] if row else None

    for scenario in record["parameters"]["scenarios"]:
        for config in record["configurations"]:
            standalone = found.get((config["label"], "standalone", scenario))
            cluster = found.get((config["label"], "cluster", scenario))
            s, c = stat(standalone, "ops_per_s"), stat(cluster, "ops_per_s")
            rows.append(
                {
                    "scenario": scenario,
                    "config": config["label"],
                    "standalone_req_s": s,
                    "standalone_req_s_min": stat(standalone, "ops_per_s", "min"),
                    "standalone_req_s_max": stat(standalone, "ops_per_s", "max"),
                    "cluster_req_s": c,
                    "cluster_req_s_min": stat(cluster, "ops_per_s", "min"),
                    "cluster_req_s_max": stat(cluster, "ops_per_s", "max"),
                    "cluster_p50_us": stat(cluster, "p50_us"),
                    "cluster_p99_us": stat(cluster, "p99_us"),
                    "drop": 1 - c / s if s and c else None,
                }
            )
    return rows
