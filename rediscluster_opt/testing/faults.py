"""A checked load for fault experiments, and the fault injections themselves.

`CheckedLoad` runs workers that each SET a value of their own and GET it back, so a wrong
value (a reply handed to the wrong caller, a lost write) is caught, not just an error.
Every operation is recorded with its time and outcome; `timeline` bins them (ops and
errors per 250 ms by default) and `recovery_after` finds when service came back.

The fault functions act on real redis-server processes of a `LocalCluster`: SIGSTOP /
SIGCONT (a hung node), SIGKILL, CLUSTER FAILOVER, DEBUG SLEEP, CLIENT KILL. They block, so
async code runs them with `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from ..admin import command
from ..core.address import split_address
from ..core.slots import crc16_table, hash_tag
from ..localcluster import LocalCluster, wait_until

__all__ = [
    "CheckedLoad",
    "keys_on",
    "replica_of",
    "resident_bytes",
    "signal_node",
    "wait_for_promotion",
]

Setter = Callable[[bytes, bytes], Awaitable[object]]
Getter = Callable[[bytes], Awaitable[object]]


@dataclass
class CheckedLoad:
    set: Setter
    get: Getter
    keys: Sequence[bytes]
    workers: int = 32
    pause_after_error: float = 0.01  # a failing caller backs off a little, as real ones do
    events: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, outcome)

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._worker(n, stop) for n in range(self.workers)))

    async def _worker(self, n: int, stop: asyncio.Event) -> None:
        record = self.events.append
        own = self.keys[n :: self.workers]  # each worker owns its keys, so values are its own
        if not own:
            raise ValueError(f"{len(self.keys)} keys cannot give {self.workers} workers one key each")
        i = 0
        while not stop.is_set():
            key = own[i % len(own)]
            value = b"%d:%d" % (n, i)
            i += 1
            try:
                await self.set(key, value)
                got = await self.get(key)
            except Exception as exc:  # every failure is recorded by its type, none hidden
                record((time.monotonic(), type(exc).__name__))
                await asyncio.sleep(self.pause_after_error)
                continue
            record((time.monotonic(), "ok" if got == value else "wrong value"))

    def outcomes(self, since: float = 0.0) -> Counter[str]:
        return Counter(kind for t, kind in self.events if t >= since)

    def errors(self, since: float = 0.0) -> Counter[str]:
        counts = self.outcomes(since)
        counts.pop("ok", None)
        return counts

    def recovery_after(self, moment: float) -> float | None:
        """Seconds from `moment` to the first success after it; None if service never
        came back."""
        for t, kind in self.events:
            if t >= moment and kind == "ok":
                return t - moment
        return None

    def timeline(self, start: float, width: float = 0.25) -> list[dict[str, float]]:
        """Ops and errors per `width` seconds from `start`: rows of t (bin start,
        relative to `start`), ok, errors, wrong; empty bins included."""
        bins: dict[int, Counter[str]] = {}
        for t, kind in self.events:
            if t >= start:
                bucket = bins.setdefault(int((t - start) / width), Counter())
                bucket["ok" if kind == "ok" else "wrong" if kind == "wrong value" else "errors"] += 1
        last = max(bins, default=-1)
        empty: Counter[str] = Counter()
        return [  # every bin up to the last event: a stall shows as zeros, not as a gap
            {"t": b * width, "ok": bins.get(b, empty)["ok"], "errors": bins.get(b, empty)["errors"],
             "wrong": bins.get(b, empty)["wrong"]}
            for b in range(last + 1)
        ]  # fmt: skip


def resident_bytes() -> int:
    """This process's resident memory now (Linux), for peak-RSS sampling."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def keys_on(master: str, slot_table: Sequence[str | None], count: int, prefix: str) -> list[bytes]:
    """`count` keys whose slots `master` serves in `slot_table`."""
    keys: list[bytes] = []
    i = 0
    while len(keys) < count:
        key = f"{prefix}:{i}".encode()
        if slot_table[crc16_table(hash_tag(key)) % 16384] == master:
            keys.append(key)
        i += 1
        if i > count * 1000:
            raise ValueError(f"{master} serves too few slots to find {count} keys")
    return keys


def replica_of(cluster: LocalCluster, master: str) -> int:
    """The port of a replica of `master` (by INFO replication on the replica ports)."""
    host, port = split_address(master)
    for candidate in cluster.cluster_ports:
        if candidate == port:
            continue
        info = command(host, candidate, "INFO", "replication")
        if isinstance(info, bytes) and f"master_port:{port}\r".encode() in info:
            return candidate
    raise ValueError(f"{master} has no replica")


def wait_for_promotion(host: str, port: int, timeout: float) -> float:
    """Block until the node on `port` says it is a master; the monotonic time it was first
    seen so (polled every 20 ms), for measuring recovery from the promotion."""

    def is_master() -> bool:
        try:
            reply = command(host, port, "ROLE", timeout=0.5)
        except OSError:
            return False
        return isinstance(reply, list) and reply[0] == b"master"

    if not wait_until(is_master, timeout, 0.02):
        raise TimeoutError(f"{host}:{port} was not promoted within {timeout:g} s")
    return time.monotonic()


def signal_node(cluster: LocalCluster, port: int, sig: signal.Signals) -> int:
    """Send `sig` to our redis-server on `port` (SIGSTOP: a hung node; SIGKILL: a crash)."""
    pid = cluster.pid(port)
    if pid is None:
        raise ValueError(f"no redis-server of ours on port {port}")
    os.kill(pid, sig)
    return pid
