"""The client in one process with no server (US-009): a fake transport answers every
request on the next loop tick, so what is measured is the client's own cost per command.

- `fake_client(stages, mode)`: our cluster or standalone client wired to fake nodes.
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

import hiredis

from ...child import run_child
from ...client import ClusterClient, StandaloneClient
from ...core.topology import SlotRange, Topology
from ...mux.multiplexer import Multiplexer
from ...stages import REGISTRY, Stages
from ...stages.traits import hot_functions
from .micro import build_env

__all__ = [
    "BARE",
    "FakeServerTransport",
    "cost_centres",
    "fake_client",
    "frames_per_get",
    "interleaved_ns",
    "ns_per_get",
]

T = TypeVar("T")
BARE = "calibration:bare"  # the arm name of the bare lower bound (bench/bare.py)

FAKE_NODES = tuple(f"127.0.0.1:{7000 + i}" for i in range(5))  # never connected to
REPLY = b"$200\r\n" + b"v" * 200 + b"\r\n"  # the lab's GET of a 200 B value


class FakeServerTransport(asyncio.Transport):
    """Answers each complete request written to it with `reply`, one read per write
    batch, on the next loop tick (as a socket's readiness would)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol, reply: bytes) -> None:
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._reply = reply
        self._requests = hiredis.Reader()
        self._closing = False
        self.writes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes += 1
        self._requests.feed(data)
        answers = 0
        while self._requests.gets() is not False:
            answers += 1
        if answers:
            self._loop.call_soon(self._protocol.data_received, self._reply * answers)

    def writelines(self, list_of_data: Any) -> None:
        self.write(b"".join(list_of_data))

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        self._closing = True


def fake_bare(mode: str = "cluster", reply: bytes = REPLY) -> Any:
    """The calibration arm wired to fake nodes, like `fake_client`."""
    from ...bench.bare import _Bare, _Connection

    loop = asyncio.get_running_loop()
    count = len(FAKE_NODES) if mode == "cluster" else 1
    connections = []
    for _ in range(count):
        connection = _Connection(loop)
        connection.connection_made(FakeServerTransport(loop, connection, reply))
        connections.append(connection)
    width = 16384 // count + 1
    table = [connections[slot // width] for slot in range(16384)]
    return _Bare(table, connections)


def fake_arm(arm: Stages | str, mode: str = "cluster") -> Any:
    """Our client with `arm`'s stages, or the bare calibration arm (`BARE`), on fake nodes."""
    return fake_bare(mode) if arm == BARE else fake_client(arm, mode)  # type: ignore[arg-type]


def fake_client(stages: Stages, mode: str = "cluster", reply: bytes = REPLY) -> Any:
    """A client of ours whose connections are fake nodes (call inside a running loop):
    in cluster mode five masters share the slots as the local cluster's do."""
    loop = asyncio.get_running_loop()
    client: Any
    if mode == "cluster":
        client = ClusterClient(list(FAKE_NODES), stages, refresh_interval=None)
        width = 16384 // len(FAKE_NODES) + 1
        ranges = tuple(
            SlotRange(i * width, min((i + 1) * width - 1, 16383), address, ())
            for i, address in enumerate(FAKE_NODES)
        )
        client.router.install(Topology(ranges))
        # no stall watch: its ticks follow the wall clock, and would add instructions
        # that depend on how long a measure took (fake nodes never stall anyway)
        client.router.suspects.cancel()
        addresses = FAKE_NODES
    else:
        client = StandaloneClient(FAKE_NODES[0], stages)
        addresses = FAKE_NODES[:1]
    pool = client._pool
    pool.loop = loop
    for address in addresses:
        mux = Multiplexer(address, client._impl, loop, client.command_timeout, pool._forget)
        mux.connection_made(FakeServerTransport(loop, mux, reply))
        pool.selector.install(address, [mux])
    return client


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
    return _measure(
        arm, mode, calls, concurrency, time.perf_counter_ns, lambda t0: (time.perf_counter_ns() - t0) / calls
    )


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
