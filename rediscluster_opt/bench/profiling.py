"""Turn cProfile, line_profiler and py-spy output into plain data for result records."""

from __future__ import annotations

import importlib
import io
import linecache
import pstats
import sysconfig
from collections import Counter
from typing import Any

from ..workspace import PACKAGE_PARENT

__all__ = ["MACHINERY", "cprofile_top", "fold_stacks", "line_profile_rows", "portable", "resolve_function"]

# Files of the machinery around the measured code (the child's entry, runpy, the event
# loops, importlib, threads), as py-spy names them: their frames are folded away, so a
# flame graph starts where the trial's own code does.
MACHINERY = (
    "runpy.py",
    "asyncio/",
    "<frozen ",
    "selectors.py",
    "threading.py",
    "concurrent/",
    "uvloop/",
    "rediscluster_opt/child.py",
)


def fold_stacks(raw: str) -> dict[str, int]:
    """py-spy's raw output (a line per stack: 'frame;frame;... count', each frame
    'function (file:line)') as stacks of 'function (file)', root first, with the
    MACHINERY frames dropped and line numbers too (one function, one frame), so that the
    same code path sums to one stack."""
    stacks: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_function_and_file(frame) for frame in stack.split(";")]
        kept = [f"{name} ({file})" for name, file in frames if not file.startswith(MACHINERY)]
        stacks[";".join(kept) or "(event loop)"] += int(count)
    return dict(stacks)


def _function_and_file(frame: str) -> tuple[str, str]:
    name, _, where = frame.rpartition(" (")
    return (name or frame), where.rstrip(")").rsplit(":", 1)[0]


def _hot_path() -> list[str]:
    """The functions the stories look at with line_profiler, by dotted name: the
    composed routes, and every registered variant's per-command functions as the
    variant's own traits name them (`stages.traits`). A trial of our client adds the
    functions its configuration really runs (`Client.hot_functions`), generated
    routes included."""
    from ..stages import REGISTRY
    from ..stages.traits import hot_names

    routes = ["rediscluster_opt.client.client.Client._route"]
    return list(dict.fromkeys([*routes, *hot_names(REGISTRY)]))


HOT_PATH = _hot_path()


def resolve_function(dotted: str) -> Any:
    """'package.module.Class.method' -> the function object; ValueError names the part
    that does not exist."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            if not hasattr(obj, attr):
                raise ValueError(f"cannot profile {dotted!r}: {attr!r} not found")
            obj = getattr(obj, attr)
        return obj
    raise ValueError(f"cannot profile {dotted!r}: no importable module in it")


def cprofile_top(profile: Any, limit: int = 25) -> dict[str, Any]:
    """Top cost centres by own time, with their share of all own time."""
    stats = pstats.Stats(profile)
    total = sum(row[2] for row in stats.stats.values()) or 1e-12  # type: ignore[attr-defined]  # pstats keeps its table in an undocumented attribute
    qualnames = _qualnames(profile)
    rows = []
    for (filename, lineno, name), (cc, ncalls, tottime, cumtime, _) in stats.stats.items():  # type: ignore[attr-defined]  # pstats keeps its table in an undocumented attribute
        rows.append(
            {
                "function": name,
                "qualname": qualnames.get((filename, lineno, name), name),
                "location": f"{_short(filename)}:{lineno}",
                "calls": ncalls,
                "primitive_calls": cc,
                "own_s": tottime,
                "cum_s": cumtime,
                "own_share": tottime / total,
            }
        )
    rows.sort(key=lambda r: r["own_s"], reverse=True)
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]  # pstats keeps its table in an undocumented attribute
    stats.sort_stats("tottime").print_stats(limit)
    return {"total_own_s": total, "top": rows[:limit], "text": portable(text.getvalue())}


def _qualnames(profile: Any) -> dict[tuple[str, int, str], str]:
    """pstats keys name functions by bare name (`send`); the code objects behind them know
    the class too (`JoinWriter.send`), which is what a reader of a profile needs."""
    names = {}
    for entry in profile.getstats():
        code = entry.code
        if hasattr(code, "co_qualname"):
            names[(code.co_filename, code.co_firstlineno, code.co_name)] = code.co_qualname
    return names


def line_profile_rows(profiler: Any) -> dict[str, Any]:
    """Per-line hits and time for each profiled function, plus line_profiler's text."""
    stats = profiler.get_stats()
    functions = []
    for (filename, first_line, name), timings in stats.timings.items():
        total = sum(t for _, _, t in timings) or 1
        lines = [
            {
                "line": lineno,
                "hits": hits,
                "time_s": t * stats.unit,
                "per_hit_ns": t * stats.unit / hits * 1e9 if hits else 0.0,
                "share": t / total,
                "code": linecache.getline(filename, lineno).rstrip(),
            }
            for lineno, hits, t in timings
        ]
        functions.append(
            {
                "function": name,
                "location": f"{_short(filename)}:{first_line}",
                "total_s": sum(line["time_s"] for line in lines),
                "lines": lines,
            }
        )
    text = io.StringIO()
    profiler.print_stats(stream=text, stripzeros=True)
    return {"functions": functions, "text": portable(text.getvalue())}


# Where source files live on this machine, and how records name them instead: the
# package relative to the repository, the standard library and site-packages by tag.
_PLACES = (
    (sysconfig.get_paths()["purelib"] + "/", "<site-packages>/"),
    (str(PACKAGE_PARENT) + "/", ""),
    (sysconfig.get_paths()["stdlib"] + "/", "<stdlib>/"),
)


def portable(text: str) -> str:
    """`text` (a profiler's report, a file name) with this machine's paths made relative."""
    for place, name in _PLACES:
        text = text.replace(place, name)
    return text


def _short(filename: str) -> str:
    marker = "rediscluster_opt/"
    return filename[filename.rfind(marker) :] if marker in filename else portable(filename)
