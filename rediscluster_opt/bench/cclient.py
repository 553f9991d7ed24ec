"""The C client as the limit: `redis-benchmark` (installed with redis-server) as a
calibration arm of a trial, `calibration:redis-benchmark`.

It runs in the trial's own child process, so it is pinned to the client CPU as every
other arm is, against the same target, with the same value size, key count and
concurrency. Without pipelining it is what a connection-per-request C client gets: C
connections, one request in flight on each (in cluster mode spread over the masters).
Pipelining `pipeline` deep it shows what the servers give a client that costs next to
nothing. It checks no reply (the record says so); its figures are redis-benchmark's own
(requests per second, p50 and p99 from its CSV), and its client CPU is the CPU the
redis-benchmark process used, from the kernel's accounting of the waited child.

Keys: in cluster mode redis-benchmark replaces `{tag}` in a key with a hash tag of the
master its connection talks to (the tag of that master's first slot), so every master gets
`key_count / masters` keys of its own, `{tag}` included; standalone keeps `{tag}` as text.
The keys are written first: by redis-benchmark itself with the same tags (random SETs,
enough to miss a key with probability about e^-8), then the few it missed one by one, so a
GET always finds a value of the workload's size.
"""

from __future__ import annotations

import csv
import io
import math
import os
import resource
import shutil
import subprocess
import time
from typing import Any

from ..defaults import KEY_PREFIX
from . import machine
from .adapters import C_CLIENT, CALIBRATIONS, Target

__all__ = ["BINARY", "RedisBenchmarkError", "command_line", "parse_csv", "trial"]

BINARY = CALIBRATIONS[C_CLIENT]  # the program the arm runs
KEY = f"{KEY_PREFIX}rb:{{tag}}:__rand_int__"
CALIBRATION_REQUESTS = 20_000  # the warm-up run, which also measures the rate to size the timed run
MISS_EXPONENT = 8  # SETs per key per master: ln(keys) + this, so a key is missed with p ~ e^-8


class RedisBenchmarkError(RuntimeError):
    """redis-benchmark failed or printed nothing to read; the message has its output."""


def command_line(
    target: Target,
    mode: str,
    *,
    concurrency: int,
    requests: int,
    keyspace: int,
    pipeline: int,
    command: list[str],
) -> list[str]:
    """redis-benchmark's arguments for one run: the target's first address (a seed, with
    --cluster, in cluster mode), credentials and TLS as the target has them, and the
    command last. redis-benchmark 7 reads its password from `-a` only (not from
    REDISCLI_AUTH, as redis-cli does), so on a password target it is on this command line
    while the run lasts, where other users of the machine can list it; it is never
    recorded."""
    host, _, port = target.address_for(mode)[0].rpartition(":")
    args = [BINARY, "-h", host, "-p", port, "-c", str(concurrency), "-n", str(requests)]
    args += ["-r", str(keyspace), "-P", str(pipeline), "--csv"]
    if mode == "cluster":
        args.append("--cluster")
    password = target.password
    if password:
        args += ["-a", password]
        args += ["--user", target.username] if target.username else []
    tls = target.tls
    if tls is not None:
        args.append("--tls")
        args += ["--cacert", tls.ca_certs] if tls.ca_certs else []
        args += ["--cert", tls.certfile] if tls.certfile else []
        args += ["--key", tls.keyfile] if tls.keyfile else []
        args += [] if tls.verify else ["--insecure"]
    return [*args, *command]


def parse_csv(text: str) -> dict[str, float]:
    """The one row of redis-benchmark's CSV output (after the masters it lists in cluster
    mode): requests per second, and the p50 and p99 latency in µs."""
    header = text.find('"test",')  # cluster mode prints the masters it found first
    rows = [row for row in csv.DictReader(io.StringIO(text[max(header, 0) :])) if row.get("rps")]
    if not rows:
        raise RedisBenchmarkError(f"no CSV row in redis-benchmark's output: {text[-300:]!r}")
    row = rows[-1]
    return {
        "rps": float(row["rps"]),
        "p50_us": float(row["p50_latency_ms"]) * 1000,
        "p99_us": float(row["p99_latency_ms"]) * 1000,
    }


def _run(args: list[str], timeout: float) -> tuple[str, float]:
    """One redis-benchmark run: its CSV text and the CPU seconds it used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise RedisBenchmarkError(f"redis-benchmark ran past {timeout:.0f} s") from exc
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RedisBenchmarkError(
            f"redis-benchmark exited {done.returncode}: {(done.stderr or done.stdout)[-300:]}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done.stdout, cpu


def _masters(target: Target, mode: str) -> list[str]:
    """The addresses whose keys redis-benchmark's connections use: every master, or the
    standalone server."""
    if mode != "cluster":
        return target.address_for(mode)
    slots: Any = target.command(target.seeds[0], "CLUSTER", "SLOTS")
    found = {f"{_text(entry[2][0]) or target.seeds[0].rpartition(':')[0]}:{entry[2][1]}" for entry in slots}
    return sorted(found)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _fill_gaps(target: Target, masters: list[str], keyspace: int, value: str) -> int:
    """SET every key of the arm's key space that the random fill missed, on each master
    (the tag is read off the keys that are there); how many it wrote."""
    stem = KEY.split("{", 1)[0]
    written = 0
    for address in masters:
        present: set[str] = set()
        cursor = "0"
        while True:
            reply: Any = target.command(address, "SCAN", cursor, "MATCH", f"{stem}*", "COUNT", 1000)
            cursor, keys = _text(reply[0]), [_text(k) for k in reply[1]]
            present.update(keys)
            if cursor == "0":
                break
        if not present:
            raise RedisBenchmarkError(f"redis-benchmark wrote no key on {address}")
        head = next(iter(present)).rsplit(":", 1)[0]  # the key up to its 12-digit index
        for index in range(keyspace):
            if f"{head}:{index:012d}" not in present:
                target.command(address, "SET", f"{head}:{index:012d}", value)
                written += 1
    return written


def trial(spec: dict[str, Any]) -> dict[str, Any]:
    """The calibration arm's trial (the child's entry, called by `bench.trial.trial`): fill
    the keys, warm up (which measures the rate), then time enough GETs for `duration`."""
    if shutil.which(BINARY) is None:
        raise RedisBenchmarkError(f"{BINARY} is not installed (it comes with redis-server)")
    target = Target(**spec["target"])
    mode, concurrency, duration = spec["mode"], spec["concurrency"], spec["duration"]
    workload = spec["workload"]
    pipeline = int(spec["config"].get("pipeline") or 1)
    masters = _masters(target, mode)
    keyspace = max(1, math.ceil(workload["key_count"] / len(masters)))
    value = "v" * workload["value_size"]

    def run(command: list[str], requests: int, depth: int) -> tuple[str, float]:
        args = command_line(target, mode, concurrency=concurrency, requests=requests, keyspace=keyspace,
                            pipeline=depth, command=command)  # fmt: skip
        return _run(args, timeout=60 + 10 * duration)

    fill = len(masters) * keyspace * math.ceil(math.log(keyspace) + MISS_EXPONENT)
    run(["SET", KEY, value], fill, 16)
    _fill_gaps(target, masters, keyspace, value)
    warm = parse_csv(run(["GET", KEY], CALIBRATION_REQUESTS, pipeline)[0])
    requests = max(CALIBRATION_REQUESTS, round(warm["rps"] * duration))
    counted = [*(spec.get("server_pids") or []), os.getppid()]
    machine_before = machine.read(counted)
    started = time.perf_counter()
    text, cpu = run(["GET", KEY], requests, pipeline)
    wall = time.perf_counter() - started
    machine_after = machine.read(counted)
    figures = parse_csv(text)
    elapsed = requests / figures["rps"]
    return {
        "ops": requests,
        "errors": 0,
        "wrong": 0,
        "valid": True,
        "replies_checked": False,
        "error_kinds": {},
        "wrong_examples": [],
        "elapsed_s": elapsed,
        "ops_per_s": figures["rps"],
        "latency_us": {"p50": figures["p50_us"], "p99": figures["p99_us"]},
        "client_cpu_s": cpu,
        "process_wall_s": wall,  # the run's whole process, connecting included
        "event_loop": "redis-benchmark (C, ae)",
        "pipeline": pipeline,
        "keys_per_master": keyspace,
        "machine": machine.window(
            machine_before,
            machine_after,
            cpu,
            servers=spec.get("server_pids") or [],
            servers_expected=spec.get("servers_expected", True),
        ),
    }
