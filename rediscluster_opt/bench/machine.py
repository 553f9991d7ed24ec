"""Whose machine a trial ran on: the CPU that third processes took during its measured
window, read from /proc (Linux), so a trial measured while something else ran says so
and is run again rather than averaged in.

`read` takes a reading: the machine's CPU time by state (/proc/stat) and the CPU time of
the processes that are the trial's own (the target's servers, the runner that started
the trial; the client measures its own with getrusage). `window` turns two readings
into the trial's `machine` figures, in CPUs (seconds of CPU per second of wall time):

- `busy`: every CPU's user, nice, system, irq and softirq time;
- `ours`: the client's, the servers' and the runner's;
- `foreign`: busy minus ours, what third processes (and the kernel's own threads) took;
- `steal`: what the hypervisor gave to other guests;
- `client_cpu_over_wall`: the client's share of its one CPU (a quiet pinned client at
  C=64 stays near 1; contention shows as a fall);
- `loadavg_1m` at the end, and whether the servers' CPU could be read here at all (a
  remote target's servers use none of this machine's; a local one whose processes are
  not found would count as foreign, and the record says which).

A window whose foreign share exceeds FOREIGN_CPU_LIMIT is `contaminated`.

Neither figure sees a host that runs our CPU slower without taking it from us: on this
workplace's machines the same pure-Python loop was seen to take 0.18 s and 0.36 s by turns,
seconds apart, with steal at 0 and nothing else running (the host's doing, whatever it is:
from inside the guest it shows only as a slower CPU). `probe_ns` times a fixed loop on the
caller's CPU time; a trial probes before and after its window (`probe_ns` in its figures),
and `results.stability.speed_spread` says how far the slowest probe of a set was from the
fastest. Paired ratios survive a host that is steadily slow; they do not survive one that
changes speed between the arms.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ..results.stability import speed_spread

__all__ = [
    "FOREIGN_CPU_LIMIT",
    "SPEED_SPREAD_LIMIT",
    "IdleWatch",
    "MachineReading",
    "contaminated",
    "idle_seconds",
    "probe_ns",
    "quiet_moment",
    "read",
    "window",
]

# A tenth of a CPU taken by others during the window: on an idle 2-CPU host the kernel's
# own threads and the cluster's gossip take about 0.01-0.02, while a third process taking
# 0.1 of the client's one pinned CPU slows it by up to a tenth, which is as wide as a
# typical A/A band; the trials the issue found contaminated had 0.3-0.5 taken.
FOREIGN_CPU_LIMIT = 0.10
# The slowest probe of a watch at most this much slower than its fastest. Seen here, in
# ten-second watches: 1.16 and 1.21 while the host stayed at its slow speed (the probe's
# own noise, at the best of five), 1.58 to 1.82 when a second at its fast speed fell in the
# watch. No host that kept one speed all day has been watched yet; the bound sits between.
SPEED_SPREAD_LIMIT = 1.4
PROBE_STEPS = 20_000  # about 1 ms per run of the loop
PROBE_RUNS = 5  # the best is kept: a timer interrupt or a cache miss only slows a run
_BUSY = (0, 1, 2, 5, 6)  # user, nice, system, irq, softirq (of /proc/stat's cpu line)
_STEAL = 7


@dataclass(frozen=True)
class MachineReading:
    at: float  # monotonic seconds
    busy_s: float  # CPU seconds of every CPU since boot
    steal_s: float
    cpu_s: dict[int, float]  # pid -> its CPU seconds so far (the processes counted as ours)
    readable: bool  # /proc/stat could be read


def _ticks() -> float:
    try:
        return float(os.sysconf("SC_CLK_TCK"))
    except (ValueError, OSError, AttributeError):
        return 100.0


def _process_cpu_s(pid: int, ticks: float) -> float | None:
    """utime + stime of `pid` (/proc/PID/stat); None when it is gone or not readable."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / ticks  # fields 14 and 15 of proc(5)


def read(pids: Sequence[int] = ()) -> MachineReading:
    ticks = _ticks()
    cpu_s = {pid: value for pid in pids if (value := _process_cpu_s(pid, ticks)) is not None}
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return MachineReading(time.monotonic(), 0.0, 0.0, cpu_s, False)
    busy = sum(values[i] for i in _BUSY if i < len(values)) / ticks
    steal = values[_STEAL] / ticks if len(values) > _STEAL else 0.0
    return MachineReading(time.monotonic(), busy, steal, cpu_s, True)


def probe_ns() -> float:
    """CPU nanoseconds per step of a fixed pure-Python loop on the calling thread, the
    best of PROBE_RUNS runs: how fast the host runs our CPU right now (CPU time, so a process
    that takes the CPU from us does not count; `foreign` sees that)."""
    best = math.inf
    for _ in range(PROBE_RUNS):
        start = time.thread_time_ns()
        total = 0
        for step in range(PROBE_STEPS):
            total += step
        best = min(best, time.thread_time_ns() - start)
    return round(best / PROBE_STEPS, 2)


def window(
    before: MachineReading,
    after: MachineReading,
    client_cpu_s: float,
    *,
    servers: Sequence[int] = (),
    servers_expected: bool = True,
    children_cpu_s: float = 0.0,
    probes: Sequence[float] = (),
) -> dict[str, Any]:
    """The trial's machine figures for the window between two readings; `client_cpu_s`:
    the client's own CPU in it; `servers`: which of the counted pids are the target's
    servers (the rest are the runner); `servers_expected`: the target is local, so its
    servers' CPU should have been found; `children_cpu_s`: the CPU of the client's own
    child processes (py-spy sampling it), the trial's too. A pid the second reading found
    and the first did not started inside the window (a server a fault restarted): all its
    CPU is the window's, so a caller reads every pid it knows of at both ends. `probes`:
    the client's `probe_ns` before and after the window."""
    wall = max(after.at - before.at, 1e-9)
    counted = {pid: value - before.cpu_s.get(pid, 0.0) for pid, value in after.cpu_s.items()}
    servers_s = sum(v for pid, v in counted.items() if pid in servers)
    runner_s = sum(v for pid, v in counted.items() if pid not in servers)
    figures: dict[str, Any] = {
        "window_s": round(wall, 4),
        "cpus": os.cpu_count(),
        "client_cpu_over_wall": round(client_cpu_s / wall, 4),
        "servers_cpu": round(servers_s / wall, 4),
        "runner_cpu": round(runner_s / wall, 4),
        "children_cpu": round(children_cpu_s / wall, 4),
        "loadavg_1m": _loadavg(),
        "servers_counted": bool(servers) or not servers_expected,
    }
    if probes:
        figures["probe_ns"] = list(probes)
    if not (before.readable and after.readable):
        return {
            **figures,
            "busy": None,
            "foreign": None,
            "steal": None,
            "note": "/proc/stat is not readable here",
        }
    busy = (after.busy_s - before.busy_s) / wall
    figures["busy"] = round(busy, 4)
    figures["steal"] = round((after.steal_s - before.steal_s) / wall, 4)
    ours = client_cpu_s + children_cpu_s + servers_s + runner_s
    figures["foreign"] = round(max(busy - ours / wall, 0.0), 4)
    if servers_expected and not servers:
        figures["note"] = "the target's servers were not found here: their CPU counts as foreign"
    return figures


def contaminated(machine: dict[str, Any] | None, limit: float = FOREIGN_CPU_LIMIT) -> bool:
    """Whether third processes took more than `limit` CPUs during the window (steal too:
    time the client waited for while another guest ran)."""
    if not machine or machine.get("foreign") is None:
        return False
    return float(machine["foreign"]) + float(machine.get("steal") or 0.0) > limit


def quiet_moment(pids: Sequence[int], limit: float = FOREIGN_CPU_LIMIT, patience: float = 30.0) -> bool:
    """Wait, one second at a time and at most `patience` seconds, for a second in which
    everything but `pids` took at most `limit` CPUs; whether one came."""
    give_up = time.monotonic() + patience
    while True:
        if not contaminated(_one_second(pids), limit):
            return True
        if time.monotonic() >= give_up:
            return False


def _one_second(pids: Sequence[int] = ()) -> dict[str, Any]:
    """The machine's figures over the next second, `pids` counted as ours."""
    before = read(pids)
    time.sleep(1.0)
    return window(before, read(pids), 0.0, servers=list(pids), servers_expected=bool(pids))


class IdleWatch(NamedTuple):
    quiet: int  # seconds in which others took at most the limit
    foreign: float  # the mean CPU others took
    steal: float  # the mean steal
    speed_spread: float | None  # the slowest of the seconds' probes over the fastest


def idle_seconds(seconds: int = 10, limit: float = FOREIGN_CPU_LIMIT) -> IdleWatch:
    """Watch the machine for `seconds`, one second at a time, before a long measurement,
    with a probe of the host's speed in each. Nothing of ours runs yet, so all the busy
    CPU is others'."""
    quiet, foreign, steal, probes = 0, 0.0, 0.0, []
    for _ in range(seconds):
        probes.append(probe_ns())
        figures = _one_second()
        quiet += not contaminated(figures, limit)
        foreign += float(figures.get("foreign") or 0.0)
        steal += float(figures.get("steal") or 0.0)
    return IdleWatch(quiet, foreign / seconds, steal / seconds, speed_spread(probes))


def _loadavg() -> float | None:
    try:
        with open("/proc/loadavg") as loadavg:
            return float(loadavg.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
