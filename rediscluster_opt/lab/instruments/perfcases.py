"""Per-stage micro-benchmark cases, and the process that runs them.

A case is one stage variant doing one representative unit of work (hash a 16 B key, look
up the last slot, encode a GET, check a 200 B reply for a redirect...). Cases come from
`REGISTRY`, so a new variant is measured without an edit here. The same cases run two
ways, each in a child process (`rediscluster_opt.child`, started by `lab.micro`):

- `time_cases`: pyperf's master process (worker processes, calibration, warm-ups; wall
  time per call). pyperf starts its workers as `python -m rediscluster_opt.lab.instruments.perfcases`.
- `count_calls`: N calls and nothing else, for `valgrind --tool=cachegrind` to count
  instructions (deterministic: the same on every run, whatever else the machine does).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from ...core.resp import ReplyError, encode_command
from ...core.topology import SlotRange, Topology
from ...stages import ENCODER, NODE_SELECT, PARSER, REDIRECT, REGISTRY, SLOT_HASH, SLOT_MAP, SUBMIT
from ...stages.slot_map import FlatSlotMap

__all__ = ["CASES", "ROUTES", "TABLE_READS", "Case", "case_name", "cases_for", "five_masters"]

Work = Callable[[], Any]


class Case:
    """`make()` builds the state once and returns the zero-argument call to time; an
    asynchronous case returns a coroutine function `run(n)` doing n units instead."""

    def __init__(
        self, stage: str, variant: str, param: str, make: Callable[[], Any], asynchronous: bool = False
    ):
        self.stage, self.variant, self.param = stage, variant, param
        self.make, self.asynchronous = make, asynchronous

    @property
    def name(self) -> str:
        return _name(self.stage, self.variant, self.param)


def _name(stage: str, variant: str, param: str) -> str:
    return f"{stage}.{variant}.{param}"


def five_masters() -> Topology:
    """The local cluster's layout: 16384 slots over five masters."""
    bounds = [0, 3277, 6554, 9831, 13108, 16384]
    return Topology(
        tuple(
            SlotRange(a, b - 1, f"127.0.0.1:{7000 + i}")
            for i, (a, b) in enumerate(zip(bounds, bounds[1:], strict=False))
        )
    )


KEY_LENGTHS = (8, 16, 64, 256, 512)
BULK_200 = b"x" * 200
REPLIES = {
    "bulk200": BULK_200,
    "nil": None,
    "integer": 42,
    "error": ReplyError("WRONGTYPE Operation against a key"),
    "moved": ReplyError("MOVED 3999 127.0.0.1:7001"),
}


def _key(length: int) -> bytes:
    return (b"user:%d:" % length * length)[:length]


def _submit_cycles(cls: Any) -> Callable[[int], Any]:
    """n submit -> deliver -> await cycles, with a writer that drops the bytes."""

    async def run(n: int) -> None:
        submit = cls(asyncio.get_running_loop(), lambda payload: None, 5.0)
        payload = encode_command((b"GET", b"k"))
        for _ in range(n):
            waiter = asyncio.ensure_future(submit.call(payload))
            await asyncio.sleep(0)  # the baseline's coroutine enqueues itself only once it runs
            submit.deliver_one(b"v")
            await waiter

    return run


def _pick(cls: Any, connections: int) -> Work:
    """Pick a connection for one of five nodes, each with `connections` of them."""
    selector = cls()
    for node in five_masters().masters:
        selector.install(node, [object() for _ in range(connections)])
    pick, node = selector.pick, "127.0.0.1:7003"
    return lambda: pick(node)


def _parse_one(factory: Any) -> Work:
    parser = factory()
    wire = b"$200\r\n" + BULK_200 + b"\r\n"

    def work() -> Any:
        parser.feed(wire)
        return parser.gets()

    return work


def _call(function: Any, *args: Any) -> Callable[[], Work]:
    """A case maker: the work is `function(*args)`."""
    return lambda: lambda: function(*args)


def _lookup(cls: Any, slot: int) -> Work:
    lookup = cls(five_masters()).lookup
    return lambda: lookup(slot)


# The ways a route could reach the slot table it indexes (US-015, the PRD's per-thread
# topology cache): as the fused route does now, an attribute of the slot-map stage it
# holds in a closure cell; or the table itself as a closure constant, a bound default
# argument, a context variable, or a thread-local's attribute. The slot is a closure cell
# in every one, so only the way to the table differs.
TABLE_READS = ("attribute", "closure", "bound_local", "contextvar", "thread_local")


def _table_read(way: str, slot: int) -> Work:
    import contextvars
    import threading

    holder = FlatSlotMap(five_masters())  # the preset's slot map: its table is an attribute
    table = holder._table
    if way == "attribute":
        return lambda: holder._table[slot]
    if way == "closure":
        return lambda: table[slot]
    if way == "bound_local":
        return lambda table=table: table[slot]  # type: ignore[misc]
    if way == "contextvar":
        current: contextvars.ContextVar[list[str | None]] = contextvars.ContextVar("slot_table")
        current.set(table)
        return lambda: current.get()[slot]
    if way == "thread_local":
        local = threading.local()
        local.table = table
        return lambda: local.table[slot]
    raise ValueError(f"unknown table read {way!r}; choose one of: {', '.join(TABLE_READS)}")


# Whole GETs as cases: the presets, the composed route, and the optimized preset with any
# one stage changed ("stage=variant", as US-019's arms are).
ROUTES = (
    "optimized",
    "composed",
    "baseline",
    *(("native",) if "native" in REGISTRY["submit"] else ()),  # the native preset, once built
    *(f"{stage}={v}" for stage, variants in REGISTRY.items() for v in variants),
)


def route_stages(route: str) -> Any:
    """The Stages of a route case's variant."""
    from ...stages import Stages

    if route == "composed":
        return Stages.optimized().replace(dispatch="composed")
    if "=" in route:
        stage, _, variant = route.partition("=")
        return Stages.optimized().replace(**{stage: variant})
    return getattr(Stages, route)()


def _gets_through(make: Callable[[], Any]) -> Callable[[int], Any]:
    """n GETs one after another through what `make()` builds in the running loop (a client
    of ours or the bare multiplexer, over fake nodes that answer on the next loop tick:
    lab.instruments.inprocess), after a GET of each of 1000 keys to warm every connection,
    free list and cache."""
    keys = [b"rcopt:bench:%d" % i for i in range(1000)]

    async def run(n: int) -> None:
        client = make()
        for key in keys:
            await client.get(key)
        for i in range(n):
            await client.get(keys[i % 1000])
        await client.close()

    return run


def _route_gets(preset: str) -> Callable[[int], Any]:
    """n GETs through the whole client: the route, the command method, the submit and the
    loop's wake-up of the caller, all of a GET's client-side cost."""
    from ...testing.fake import fake_client

    stages = route_stages(preset)
    return _gets_through(lambda: fake_client(stages))


def _loop_gets() -> Callable[[int], Any]:
    """n awaits of a future the loop resolves on its next iteration, with no I/O: the share
    of every GET that is the event loop's and the task's wake-up (calibration:loop, in-process)."""
    reply = b"v" * 200

    async def run(n: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(n):
            future = loop.create_future()
            loop.call_soon(future.set_result, reply)
            await future

    return run


ONE_GET = encode_command((b"GET", b"rcopt:bench:1"))  # what the node and connection cases send


def _node_gets() -> Callable[[int], Any]:
    """`_loop_gets` with the fake node's round trip: each await's future is resolved by a
    protocol the fake node answers (lab.instruments.inprocess), so what this adds to the
    loop alone is the fake node's own cost, which a real server takes off the client."""
    from ...testing.fake import REPLY, FakeServerTransport

    class Answered(asyncio.Protocol):
        future: asyncio.Future[bytes]

        def data_received(self, data: bytes) -> None:
            self.future.set_result(data)

    async def run(n: int) -> None:
        loop = asyncio.get_running_loop()
        protocol = Answered()
        transport = FakeServerTransport(loop, protocol, REPLY)
        for _ in range(n):
            protocol.future = loop.create_future()
            transport.write(ONE_GET)
            await protocol.future

    return run


def _bare_gets() -> Callable[[int], Any]:
    """n GETs through the bare multiplexer (calibration:bare) against the same fake nodes."""
    from ...testing.fake import fake_bare

    return _gets_through(fake_bare)


def _connection_gets(preset: str) -> Callable[[int], Any]:
    """n GETs sent, already encoded, on one connection of the preset (its submit, writer,
    parser and delivery stages) to a fake node: a whole GET less its command method,
    routing and encoding."""
    from ...testing.fake import fake_client

    async def run(n: int) -> None:
        client = fake_client(route_stages(preset))
        execute = client._pool.connections()[0].execute
        for _ in range(100):  # warm: free lists and the writer's tick in place
            await execute(ONE_GET)
        for _ in range(n):
            await execute(ONE_GET)
        await client.close()

    return run


def _build_cases() -> dict[str, Case]:
    cases: list[Case] = [
        Case("floor", "loop", "get", _loop_gets, asynchronous=True),
        Case("floor", "node", "get", _node_gets, asynchronous=True),
        Case("floor", "bare", "get", _bare_gets, asynchronous=True),
        # the harness of a stage case, a call of a trivial builtin: taken off each stage's
        # case where the cases are added up as parts of a GET
        Case("floor", "call", "builtin", _call(len, b"")),
    ]
    for preset in ROUTES:
        cases.append(Case("route", preset, "get", partial(_route_gets, preset), asynchronous=True))
    for preset in ("optimized", *(("native",) if "native" in REGISTRY["submit"] else ())):
        cases.append(Case("connection", preset, "get", partial(_connection_gets, preset), asynchronous=True))
    for way in TABLE_READS:
        cases.append(Case("table_read", way, "s16383", partial(_table_read, way, 16383)))
    for variant, slot_of in SLOT_HASH.items():
        for length in KEY_LENGTHS:
            cases.append(Case("slot_hash", variant, f"k{length}", _call(slot_of, _key(length))))
    for variant, slot_map in SLOT_MAP.items():
        for slot in (0, 8000, 16383):
            cases.append(Case("slot_map", variant, f"s{slot}", partial(_lookup, slot_map, slot)))
    for variant, selector in NODE_SELECT.items():
        for connections in (1, 4):
            cases.append(
                Case("node_select", variant, f"x{connections}", partial(_pick, selector, connections))
            )
    for variant, encode in ENCODER.items():
        command = (b"GET", _key(16))
        cases.append(Case("encoder", variant, "get16", _call(encode, command)))
    for variant, submit in SUBMIT.items():
        cases.append(Case("submit", variant, "cycle", partial(_submit_cycles, submit), asynchronous=True))
    for variant, factory in PARSER.items():
        cases.append(Case("parser", variant, "bulk200", partial(_parse_one, factory)))
    for variant, check in REDIRECT.items():
        for kind, reply in REPLIES.items():
            cases.append(Case("redirect", variant, kind, _call(check, reply)))
    return {case.name: case for case in cases}


CASES = _build_cases()


def case_name(stage: str, variant: str, param: str) -> str:
    """A case's name as a story reads its figures: the one spelling the cases are built
    with, refused (KeyError naming it) when no such case is built."""
    name = _name(stage, variant, param)
    if name not in CASES:
        raise KeyError(
            f"no micro-benchmark case {name!r}; cases of {stage}: {[c.name for c in cases_for(stage)]}"
        )
    return name


def cases_for(stage: str, param: str | None = None) -> list[Case]:
    return [c for c in CASES.values() if c.stage == stage and (param is None or c.param == param)]


def _time_async(case: Case) -> Callable[[int], float]:
    run = case.make()

    def time_func(loops: int) -> float:
        started = time.perf_counter()
        asyncio.run(run(loops))
        return time.perf_counter() - started

    return time_func


def _runner() -> Any:
    """pyperf's runner for the cases: its worker processes start this module
    (`python -m rediscluster_opt.lab.instruments.perfcases --worker ... --cases ...`, pyperf's own
    protocol) and time the cases `--cases` names."""
    import pyperf

    def pass_cases(command: list[str], args: argparse.Namespace) -> None:
        command.extend(["--cases", args.cases])

    runner = pyperf.Runner(
        add_cmdline_args=pass_cases, program_args=("-m", "rediscluster_opt.lab.instruments.perfcases")
    )
    runner.argparser.add_argument("--cases", required=True)
    return runner


def _bench(runner: Any, names: list[str]) -> None:
    from ... import compiled

    runner.metadata["rcopt_build"] = compiled.loaded()  # what the worker ran, for wall_times to check
    for name in names:
        case = CASES[name]
        if case.asynchronous:
            runner.bench_time_func(name, _time_async(case))
        else:
            runner.bench_func(name, case.make())


def time_cases(spec: dict[str, Any]) -> None:
    """The child's entry point (`rediscluster_opt.child`) for wall times: pyperf's master
    process over `spec["cases"]`, writing its suite to `spec["output"]` (pyperf's JSON)."""
    from ... import compiled

    runner = _runner()
    # pyperf's workers get a clean environment: RCOPT_BUILD is passed on, so they run this build
    arguments = [
        "--cases",
        ",".join(spec["cases"]),
        "-o",
        spec["output"],
        "-q",
        "--inherit-environ",
        compiled.ENV,
    ]
    runner.parse_args([*arguments, *spec["options"]])
    _bench(runner, spec["cases"])


def count_calls(spec: dict[str, Any]) -> None:
    """The child's entry point for instruction counts (run under cachegrind): build the
    case, then make `spec["calls"]` calls. The instructions of a run with N calls minus
    those of a run with 0 are the cost of N calls."""
    case = CASES[spec["case"]]
    if case.asynchronous:
        asyncio.run(case.make()(spec["calls"]))
        return
    work = case.make()
    for _ in range(spec["calls"]):
        work()


if __name__ == "__main__":  # a pyperf worker
    runner = _runner()
    arguments = runner.parse_args()
    _bench(runner, arguments.cases.split(","))
