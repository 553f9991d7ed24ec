"""The client in one process with no server (US-009, US-018): fake nodes
(`rediscluster_opt.testing.fake`) answer every request on the next loop tick, so what is
measured is the client's own cost per command.

- `frames_per_get`: Python frames entered per GET (`sys.setprofile`), deterministic.
- `ns_per_get`: wall time per GET under concurrency, client and fake server together.
- `interleaved_ns`: `ns_per_get` for several arms, A B C A B C ..., one process.
- `cost_centres`: where a GET's time goes, by stage, from cProfile's own times.

The fake server parses each request with hiredis and answers a fixed bulk string; it runs
in the same loop, so its cost is in every figure, the same for every arm.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from ...child import run_child
from ...stages import REGISTRY, Stages
from ...stages.traits import hot_functions
from ...testing.fake import fake_bare, fake_client
from .micro import build_env

__all__ = [
    "BARE",
    "cost_centres",
    "frames_per_get",
    "interleaved_ns",
    "ns_per_get",
]

T = TypeVar("T")
BARE = "calibration:bare"  # the arm name of the bare lower bound (bench/bare.py)


def fake_arm(arm: Stages | str, mode: str = "cluster") -> Any:
    """Our client with `arm`'s stages, or the bare calibration arm (`BARE`), on fake nodes."""
    return fake_bare(mode) if arm == BARE else fake_client(arm, mode)  # type: ignore[arg-type]


def _keys(count: int) -> list[bytes]:
    return [b"rcopt:bench:%d" % i for i in range(count)]


def _measure(
    arm: Stages | str,
    mode: str,
    calls: int,
    concurrency: int,
    start: Callable[[], Any],
    stop: Callable[[Any], T],
    keys: int = 1000,
    warm_calls: int = 2000,
) -> T:
    """On a fresh loop: the arm on fake nodes, warmed (connections, free lists), then
    `calls` GETs from `concurrency` callers between `start()` and `stop(started)`."""

    async def main() -> T:
        client = fake_arm(arm, mode)
        plan = _keys(keys)
        await _drive(client.get, plan, warm_calls, concurrency)
        started = start()
        try:
            await _drive(client.get, plan, calls, concurrency)
        finally:
            result = stop(started)
        await client.close()
        return result

    return asyncio.run(main())


def frames_per_get(
    arm: Stages | str, mode: str = "cluster", calls: int = 2000, concurrency: int = 16
) -> float:
    """Python function frames entered per GET (a coroutine counts once per start or
    resume), over `calls` GETs from `concurrency` callers. The benchmark's own caller
    loop is one frame per GET and the loop's frames are counted too, so compare arms run
    on the same event loop."""
    counted = [0]

    def count(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            counted[0] += 1

    def start() -> None:
        sys.setprofile(count)

    def stop(_started: None) -> float:
        sys.setprofile(None)
        return counted[0] / calls

    return _measure(arm, mode, calls, concurrency, start, stop, keys=256, warm_calls=64)


def ns_per_get(arm: Stages | str, mode: str = "cluster", calls: int = 20000, concurrency: int = 64) -> float:
    """Wall ns per GET for `calls` GETs from `concurrency` callers, after a warm-up."""
    ns: float = _measure(
        arm, mode, calls, concurrency, time.perf_counter_ns, lambda t0: (time.perf_counter_ns() - t0) / calls
    )
    return ns


def interleaved_ns(
    arms: dict[str, Stages | str], mode: str = "cluster", repeats: int = 5, **options: Any
) -> dict[str, list[float]]:
    """ns per GET of each arm (label -> stages or `BARE`), the arms interleaved within
    each repeat, so a slow moment of the machine hits every arm alike."""
    figures: dict[str, list[float]] = {label: [] for label in arms}
    for _ in range(repeats):
        for label, arm in arms.items():
            figures[label].append(ns_per_get(arm, mode, **options))
    return figures


def _ns_of_arms(spec: dict[str, Any]) -> dict[str, Any]:
    """Child entry: ns per GET of each arm once, on the build this process loaded."""
    from ... import compiled

    arms = {
        label: arm if isinstance(arm, str) else Stages.from_dict(arm) for label, arm in spec["arms"].items()
    }
    ns = {
        label: ns_per_get(arm, spec["mode"], spec["calls"], spec["concurrency"])
        for label, arm in arms.items()
    }
    return {"build": compiled.loaded(), "ns": ns}


def interleaved_builds_ns(
    arms: dict[str, Stages | str],
    builds: Sequence[str],
    mode: str = "cluster",
    repeats: int = 5,
    calls: int = 20000,
    concurrency: int = 64,
) -> dict[str, dict[str, list[float]]]:
    """ns per GET of each arm on each of our client's builds (build -> label -> values):
    one child process per build and repeat, the builds interleaved (A B A B ...), each
    child checked to have loaded the build it was started for."""
    spec = {"arms": {k: v if isinstance(v, str) else v.as_dict() for k, v in arms.items()}, "mode": mode,
            "calls": calls, "concurrency": concurrency}  # fmt: skip
    figures: dict[str, dict[str, list[float]]] = {b: {label: [] for label in arms} for b in builds}
    for _ in range(repeats):
        for build in builds:
            found = run_child(_ns_of_arms, spec, timeout=600, env=build_env(build))
            if found["build"] != build:
                raise RuntimeError(f"a child asked for the {build} build ran the {found['build']} one")
            for label, ns in found["ns"].items():
                figures[build][label].append(ns)
    return figures


# Own time of these functions is charged to a stage; anything else to "event loop"
# (the loop itself, futures and tasks, the benchmark's callers, the fake server).
ROUTE, LOOP = "command method and route", "event loop"
# What each stage is called in the breakdown; which functions belong to it comes from
# the variants themselves (`stages.traits`), so a new variant is placed where it belongs.
STAGE_LABELS = {
    "slot_hash": "slot hash",
    "slot_map": "slot map",
    "node_select": "node select",
    "encoder": "encoder",
    "submit": "submit",
    "writer": "writer",
    "delivery": "reply delivery",
    "redirect": "redirect check",
}
STAGE_OF = {
    **{function.__name__: STAGE_LABELS[stage] for stage, function in hot_functions(REGISTRY)},
    **dict.fromkeys(("get", "_keyed", "_route", "keyed", "to_bytes"), ROUTE),  # the route itself
    "encode_command": "encoder",  # the Python encoder hiredis' falls back to
    "execute": "submit + writer (fused)",  # PooledFutureSubmit.fused_execute's closure
}
BARE_STAGE_OF = {  # bench/bare.py's few functions
    "get": ROUTE,
    "send": "submit + writer (fused)",
    "_flush": "writer",
    "data_received": "reply delivery",
}


def _stage_of(filename: str, function: str) -> str:
    if filename.startswith("<rediscluster_opt fused"):
        return ROUTE
    if filename.endswith("bare.py"):
        return BARE_STAGE_OF.get(function, LOOP)
    if "rediscluster_opt" in filename and "inprocess.py" not in filename:
        return STAGE_OF.get(function, LOOP)
    return LOOP


def cost_centres(
    arm: Stages | str, mode: str = "cluster", calls: int = 20000, concurrency: int = 64
) -> dict[str, float]:
    """Share of a GET's time per stage (cProfile own time; the profiler's overhead per
    call inflates small functions, so read these as shares to scale, not as ns)."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()

    def stop(_started: None) -> dict[str, float]:
        profiler.disable()
        shares: dict[str, float] = {}
        for (filename, _, function), (_, _, own, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
            stage = _stage_of(filename, function)
            shares[stage] = shares.get(stage, 0.0) + own
        total = sum(shares.values()) or 1.0
        return {stage: own / total for stage, own in shares.items()}

    return _measure(arm, mode, calls, concurrency, profiler.enable, stop)


async def _drive(
    get: Callable[[bytes], Awaitable[Any]], keys: list[bytes], calls: int, concurrency: int
) -> None:
    """`calls` GETs spread over `concurrency` closed-loop callers."""
    share, extra = divmod(calls, concurrency)

    async def caller(count: int, offset: int) -> None:
        n = len(keys)
        for i in range(count):
            await get(keys[(offset + i) % n])

    await asyncio.gather(*(caller(share + (1 if c < extra else 0), c * 7) for c in range(concurrency)))
