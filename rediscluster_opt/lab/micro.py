"""Micro-benchmarks of single stage functions: ns per call, with repeats.

Each figure is the median (with min and max) of `repeats` timeit runs of an auto-ranged
number of calls; per-call timer overhead is not subtracted, and is the same for every
variant. Run these in a quiet process: they are fast but sensitive to noise.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import timeit
import tracemalloc
from collections.abc import Callable
from typing import Any

from ..core.resp import ReplyError, encode_command
from ..core.topology import SlotRange, Topology
from ..stages import REGISTRY

__all__ = [
    "allocations_per_pending_command",
    "redirect_check_costs",
    "slot_hash_costs",
    "slot_map_costs",
    "submit_cycle_costs",
    "time_per_call",
]


def time_per_call(function: Callable[[], Any], repeats: int = 5, budget: float = 0.2) -> dict[str, float]:
    """ns per call: median, min and max over `repeats` timed runs of about `budget`
    seconds each."""
    timer = timeit.Timer(function)
    one = max(timer.timeit(1), 1e-7)
    number = max(1, int(budget / one))
    samples = [t / number * 1e9 for t in timer.repeat(repeat=repeats, number=number)]
    return {"ns_median": statistics.median(samples), "ns_min": min(samples), "ns_max": max(samples)}


def slot_hash_costs(
    key_lengths: tuple[int, ...] = (8, 16, 64, 256, 512), repeats: int = 5, budget: float = 0.2
) -> list[dict]:
    rows = []
    for length in key_lengths:
        key = (b"user:%d:" % length * length)[:length]
        for name, slot_of in REGISTRY["slot_hash"].items():
            cost = time_per_call(lambda f=slot_of, k=key: f(k), repeats, budget)
            rows.append({"variant": name, "key_bytes": length, **cost})
    return rows


def _five_masters() -> Topology:
    bounds = [0, 3277, 6554, 9831, 13108, 16384]
    return Topology(tuple(SlotRange(a, b - 1, f"127.0.0.1:{7000 + i}") for i, (a, b) in
                          enumerate(zip(bounds, bounds[1:], strict=False))))  # fmt: skip


def slot_map_costs(repeats: int = 5, budget: float = 0.2) -> list[dict]:
    """Lookup cost for a slot at the start, middle and end of the range list (the
    range scan is linear; the flat table is not)."""
    rows = []
    for name, cls in REGISTRY["slot_map"].items():
        lookup = cls(_five_masters()).lookup
        for slot in (0, 8000, 16383):
            cost = time_per_call(lambda f=lookup, s=slot: f(s), repeats, budget)
            rows.append({"variant": name, "slot": slot, **cost})
    return rows


def redirect_check_costs(repeats: int = 5, budget: float = 0.2) -> list[dict]:
    replies = {
        "bulk 200 B": b"x" * 200,
        "nil": None,
        "integer": 42,
        "OK": b"OK",
        "error (not a redirect)": ReplyError("WRONGTYPE Operation against a key"),
        "MOVED": ReplyError("MOVED 3999 127.0.0.1:7001"),
    }
    return [
        {"variant": name, "reply": kind, **time_per_call(lambda c=check, r=reply: c(r), repeats, budget)}
        for name, check in REGISTRY["redirect"].items()
        for kind, reply in replies.items()
    ]


def _fresh_loop_run(factory: Callable[[], Any]) -> Any:
    from ..bench.runner import run_sync

    return run_sync(factory)


def submit_cycle_costs(cycles: int = 5_000, repeats: int = 5) -> list[dict]:
    """ns for one submit -> deliver -> await cycle of each submit variant, with a writer
    that drops the bytes (no I/O), so only the stage's own machinery is timed. Every
    variant's waiter is wrapped the same way and given one loop pass before its reply,
    since the baseline's coroutine only enqueues itself once it runs."""

    async def measure(cls: Any) -> list[float]:
        loop = asyncio.get_running_loop()
        submit = cls(loop, lambda payload: None, 5.0)
        payload = encode_command((b"GET", b"k"))
        samples = []
        for _ in range(repeats):
            started = loop.time()
            for _ in range(cycles):
                waiter = asyncio.ensure_future(submit.call(payload))
                await asyncio.sleep(0)
                submit.deliver_one(b"v")
                await waiter
            samples.append((loop.time() - started) / cycles * 1e9)
        return samples

    rows = []
    for name, cls in REGISTRY["submit"].items():
        samples = _fresh_loop_run(lambda c=cls: measure(c))
        rows.append({"variant": name, "ns_median": statistics.median(samples),
                     "ns_min": min(samples), "ns_max": max(samples)})  # fmt: skip
    return rows


def allocations_per_pending_command(pending: int = 2000) -> list[dict]:
    """Memory blocks and bytes held per command while it waits for its reply, for each
    submit variant (tracemalloc, before vs. with `pending` commands in flight)."""

    async def measure(cls: Any) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        submit = cls(loop, lambda payload: None, 60.0)
        payload = encode_command((b"GET", b"k"))
        # Warm the free lists and pools the variant uses, then count what one more
        # round of pending commands holds.
        for _ in range(2):
            waiters = [submit.call(payload) for _ in range(pending)]
            waiters = [asyncio.ensure_future(w) if asyncio.iscoroutine(w) else w for w in waiters]
            await asyncio.sleep(0)
            submit.deliver_many([b"v"] * pending)
            await asyncio.gather(*waiters)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        waiters = [submit.call(payload) for _ in range(pending)]
        waiters = [asyncio.ensure_future(w) if asyncio.iscoroutine(w) else w for w in waiters]
        await asyncio.sleep(0)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "filename")
        blocks = sum(s.count_diff for s in stats)
        size = sum(s.size_diff for s in stats)
        submit.deliver_many([b"v"] * pending)
        await asyncio.gather(*waiters)
        return {"blocks_per_command": blocks / pending, "bytes_per_command": size / pending}

    return [
        {"variant": name, **_fresh_loop_run(lambda c=cls: measure(c))}
        for name, cls in REGISTRY["submit"].items()
    ]
