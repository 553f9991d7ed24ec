"""US-009's in-process measurements: the client against a server-less fake transport
(`lab.inprocess`), so the figures are the client's own cost, free of the servers' noise.

- frames per GET for each arm (deterministic);
- ns per GET, the arms interleaved within each repeat, with an A/A twin of "composed";
- where a GET's time goes, by stage: cProfile's own-time shares scaled to the unprofiled
  ns per GET (the profiler inflates small functions, so shares, not its ns, are used);
- the GET encoding on its own: the prebuilt RESP prefix of the shaped methods against
  `hiredis.pack_command` of an argument tuple, as the fused route encodes it.

Each runs in a child process: a notebook kernel owns an event loop, and uvloop must be
installed before one starts.
"""

from __future__ import annotations

import timeit
from typing import Any, cast

from rediscluster_opt.child import run_child
from rediscluster_opt.lab.instruments import inprocess
from rediscluster_opt.results import Interval, interval, paired_interval
from rediscluster_opt.stages import Stages

__all__ = ["ARMS", "encode_ns", "in_process", "measure", "measured_in_process"]

# arm label -> stages (or the bare calibration arm)
ARMS: dict[str, Any] = {
    "composed": Stages.optimized().replace(dispatch="composed"),
    "composed (A/A twin)": Stages.optimized().replace(dispatch="composed"),
    "fused": Stages.optimized().replace(dispatch="fused"),
    "shaped": Stages.optimized().replace(dispatch="shaped"),
    inprocess.BARE: inprocess.BARE,
}
TWIN = "composed (A/A twin)"
IN_PROCESS_REPEATS = 9  # interleaved rounds of the in-process arms: 9 pairs, as every criterion has


def encode_ns(repeats: int, number: int) -> dict[str, list[float]]:
    """ns per GET encoding, the two ways interleaved per repeat."""
    from hiredis import pack_command

    key = b"rcopt:bench:1234"
    ways = {
        "prefix": lambda: b"*2\r\n$3\r\nGET\r\n$%d\r\n%b\r\n" % (len(key), key),
        "pack_command": lambda: pack_command(cast("tuple[Any, ...]", (b"GET", key))),
    }
    out: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            out[name].append(timeit.timeit(way, number=number) / number * 1e9)
    return out


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """The child's entry point (`rediscluster_opt.child`): everything, in this process (on
    uvloop when it is installed); `spec["smoke"]` makes it short."""
    smoke = bool(spec["smoke"])
    try:
        import uvloop

        uvloop.install()
        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    repeats, calls = (2, 3_000) if smoke else (IN_PROCESS_REPEATS, 20_000)
    modes = ("cluster",) if smoke else ("cluster", "standalone")
    arms = {label: arm for label, arm in ARMS.items() if label != TWIN}
    result: dict[str, Any] = {"loop": loop, "calls": calls, "repeats": repeats, "modes": {}}
    for mode in modes:
        ns = inprocess.interleaved_ns(ARMS, mode, repeats=repeats, calls=calls)
        frames = {label: inprocess.frames_per_get(arm, mode) for label, arm in arms.items()}
        shares = {label: inprocess.cost_centres(arm, mode, calls=calls) for label, arm in arms.items()}
        result["modes"][mode] = {"ns": ns, "frames": frames, "shares": shares}
    result["encode_ns"] = encode_ns(repeats, 20_000 if smoke else 200_000)
    return result


def in_process(smoke: bool) -> dict[str, Any]:
    """`measure` in a fresh process, so the interpreter's state is the same every run."""
    return run_child(measure, {"smoke": smoke}, timeout=900)


def waterfall(data: dict[str, Any], mode: str = "cluster") -> dict[str, dict[str, float]]:
    """arm -> stage -> ns per GET: each arm's cost-centre shares times its median ns."""
    figures = data["modes"][mode]
    out = {}
    for label, shares in figures["shares"].items():
        total = interval(figures["ns"][label])
        if total is not None:
            out[label] = {stage: share * total.median for stage, share in shares.items()}
    return out


# The figures `measured_in_process` gives, by the names a story's criteria read them.
INPROCESS_GAIN, INPROCESS_AA = "inprocess.gain", "inprocess.aa"  # ns per GET, shaped / composed; A/A
INPROCESS_FUSED, INPROCESS_OVER_BARE = "inprocess.fused", "inprocess.over_bare"
FRAMES_COMPOSED, FRAMES_SHAPED, FRAMES_OVER_BARE = "frames.composed", "frames.shaped", "frames.over_bare"
FRAMES_OVER_BARE_BEFORE = "frames.over_bare.composed"
PREFIX_VS_PACK = "encode.prefix_vs_pack"


def measured_in_process(data: dict[str, Any]) -> dict[str, Interval | None]:
    """The in-process figures: paired ns-per-GET ratios, frame counts, encoding cost."""
    cluster = data["modes"]["cluster"]
    ns, frames = cluster["ns"], cluster["frames"]
    encode = data["encode_ns"]
    return {
        INPROCESS_GAIN: paired_interval(ns["shaped"], ns["composed"]),
        INPROCESS_AA: paired_interval(ns[TWIN], ns["composed"]),
        INPROCESS_FUSED: paired_interval(ns["fused"], ns["composed"]),
        INPROCESS_OVER_BARE: paired_interval(ns["shaped"], ns[inprocess.BARE]),
        FRAMES_COMPOSED: Interval.exact(frames["composed"]),
        FRAMES_SHAPED: Interval.exact(frames["shaped"]),
        FRAMES_OVER_BARE: Interval.exact(frames["shaped"] - frames[inprocess.BARE]),
        FRAMES_OVER_BARE_BEFORE: Interval.exact(frames["composed"] - frames[inprocess.BARE]),
        PREFIX_VS_PACK: paired_interval(encode["prefix"], encode["pack_command"]),
    }


def in_process_table(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Per mode and arm: frames per GET and ns per GET (median [min-max])."""
    rows = []
    for mode, figures in data["modes"].items():
        for label, values in figures["ns"].items():
            spread = interval(values)
            rows.append(
                {
                    "mode": mode,
                    "arm": label,
                    "frames per GET": figures["frames"].get(label),
                    "ns per GET": round(spread.median) if spread else None,
                    "ns min": round(min(values)),
                    "ns max": round(max(values)),
                }
            )
    return rows
