"""Micro-benchmarks of single stage variants (the cases of `lab.perfcases`), three ways:

- `wall_times`: pyperf in worker processes (calibration, warm-ups), ns per call as mean ±
  std and the order-statistic interval of the median; Welch's t-test between two variants.
- `instruction_counts`: valgrind's cachegrind, instructions per call. Deterministic, so a
  verdict on them does not depend on the machine's noise. Skipped, with the reason, where
  valgrind cannot run.
- `hot_path_checks`: in-process and exact: bytes allocated at the peak (transient
  allocations included) and lock operations per call.

Plus `allocations_per_pending_command` for the submit stage (what a waiting command holds).
"""

from __future__ import annotations

import asyncio
import functools
import gc
import hashlib
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ... import compiled
from ...bench.sync import run_sync
from ...child import run_child, start_child
from ...core.resp import encode_command
from ...results import interval
from ...stages import SUBMIT
from .perfcases import CASES, count_calls, time_cases

__all__ = [
    "allocations_per_pending_command",
    "hot_path_checks",
    "instruction_counts",
    "significance",
    "wall_times",
]

# pyperf settings: a smoke run only proves the pipeline (one worker, fixed loops, no
# calibration run); the default gives 3 x 3 values.
PYPERF_OPTIONS = {
    True: ["-p", "1", "-n", "3", "-w", "1", "--loops", "1000"],
    False: ["-p", "3", "-n", "3", "-w", "1", "--min-time", "0.05"],
}


def _describe(name: str) -> dict[str, str]:
    case = CASES[name]
    return {"case": name, "stage": case.stage, "variant": case.variant, "param": case.param}


def build_env(build: str | None) -> dict[str, str] | None:
    """The environment of a measuring child on our client's `build` (None: this one's)."""
    return None if build is None else compiled.environ(build)


def wall_times(names: Sequence[str], smoke: bool = False, build: str | None = None) -> list[dict[str, Any]]:
    """ns per call for each case, measured by pyperf (one worker process per value set),
    on our client's `build` (pure or compiled; None: this process's)."""
    import pyperf

    unknown = [name for name in names if name not in CASES]
    if unknown or not names:
        raise ValueError(f"unknown or no micro-benchmark case(s) {unknown}; known: {', '.join(CASES)}")
    with tempfile.TemporaryDirectory(prefix="rcopt-pyperf-") as folder:
        output = os.path.join(folder, "suite.json")
        spec = {"cases": list(names), "output": output, "options": PYPERF_OPTIONS[smoke]}
        run_child(time_cases, spec, timeout=1800, env=build_env(build))
        suite = pyperf.BenchmarkSuite.load(output)
    rows = []
    for bench in suite.get_benchmarks():
        ran = bench.get_metadata().get("rcopt_build")
        if build is not None and ran != build:
            raise RuntimeError(
                f"pyperf's workers for {bench.get_name()} ran the {ran} build, not the {build} one"
            )
        values = [v * 1e9 for v in bench.get_values()]
        spread = interval(values)
        rows.append(
            {
                **_describe(bench.get_name()),
                "build": ran,
                "ns_mean": bench.mean() * 1e9,
                "ns_std": bench.stdev() * 1e9 if len(values) > 1 else 0.0,
                "ns": spread.as_dict() if spread else None,
                "values_ns": values,
            }
        )
    return rows


def significance(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Two-sided p-value of Welch's t-test between two samples (None below 2 each)."""
    if len(a) < 2 or len(b) < 2:
        return None
    from scipy import stats

    return float(stats.ttest_ind(a, b, equal_var=False).pvalue)


def valgrind_problem() -> str | None:
    """Why cachegrind cannot run here, or None when it can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian package valgrind; the bootstrap installs it as root)"
    probe = subprocess.run(
        ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.returncode != 0:
        return f"valgrind cannot run here: {probe.stderr.strip()[-200:]}"
    return None


# A run of the stories counts some cases more than once (a stage story and US-018 both
# count the pure stage cases, US-018 and US-021 the pure preset's GET). A count is
# deterministic for one source, build and spec, so within one run (`lab.main` names a
# folder here for its duration) the second asks the first's answer instead of spending
# two more valgrind runs; outside a run every count is made afresh.
COUNTS_ENV = "RCOPT_COUNTS_CACHE"


PACKAGE = pathlib.Path(__file__).resolve().parents[2]


@functools.cache
def _sources_digest() -> str:
    """What a count depends on in this process: the package's sources and built
    extensions, the interpreter."""
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix in (".py", ".pyx", ".so") and "__pycache__" not in path.parts:
            digest.update(path.relative_to(PACKAGE).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _count_env(build: str | None) -> dict[str, str]:
    """A counting child's environment: a fixed hash seed keeps dict and set layouts, and so
    the count, the same every run; the run's count folder is left out, so a count is the
    same inside a run and outside one."""
    env = {**(build_env(build) or os.environ), "PYTHONHASHSEED": "0"}
    env.pop(COUNTS_ENV, None)
    return env


def _cache_file(name: str, calls: int, build: str | None) -> pathlib.Path | None:
    """Where this run keeps the count of `name` at `calls` on `build`; None outside a run."""
    folder = os.environ.get(COUNTS_ENV)
    if not folder:
        return None
    # The child's whole environment: even its size moves some counts (by 10 instructions
    # per call of a 3,000-instruction slot hash case), so a count serves only a child that
    # would have seen the same.
    key = json.dumps([name, calls, sorted(_count_env(build).items()), _sources_digest()])
    return pathlib.Path(folder) / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.count"


def bytecode_ready() -> None:
    """Every module of the package compiled to its cached bytecode before a count. A
    child that finds no bytecode for a module compiles it, a cost of its own that the
    subtraction does not cancel when the bytecode appears between a count's two children
    (written by one of them, or by another process: in a fresh clone, beside the unit
    tests, one count of a case came out 71,000 instructions per call and its repeat
    1,256; one child compiling the whole package and its pair not differ by 839,000)."""
    import compileall

    compileall.compile_dir(str(PACKAGE), quiet=2)


def _instructions(name: str, calls: int, pair: int, build: str | None = None) -> int:
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    env = _count_env(build)
    # `pair`, the calls of the count this one is subtracted from, names the child's stable
    # folder too: a 0-call run is then never the same child as another caller's 0-call run
    # going on right now (a story's, beside the unit tests), which would take the name and
    # send this one to a random folder, whose characters move the count
    spec = {"case": name, "calls": calls, "pair": pair}
    child = start_child(count_calls, spec, prefix=valgrind, env=env, stable=True)
    child.result(900)
    for line in child.output.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            return int(line.split(":", 1)[1].strip().replace(",", ""))
    raise RuntimeError(f"cachegrind gave no instruction count for {name}: {child.output[-800:]}")


# Calls per count of a whole GET in-process (about 85,000 instructions each): 5,000 give
# the per-call figure within 0.1 % of 20,000 (a run-once cost is spread over fewer calls)
# at two thirds of the time under valgrind, where start-up is most of a case's time.
def whole_get_calls(smoke: bool) -> int:
    """Calls per cachegrind count of a whole-GET case, in a smoke run or a measuring one."""
    return 2_000 if smoke else 5_000


def instruction_counts(names: Sequence[str], calls: int = 20_000, build: str | None = None) -> dict[str, Any]:
    """{"rows": instructions per call per case} or {"rows": [], "skipped": reason}. Each
    case runs twice under cachegrind, with `calls` calls and with none; the difference
    divided by `calls` is its cost, start-up and set-up excluded."""
    problem = valgrind_problem()
    if problem:
        return {"rows": [], "skipped": problem}
    # This process's build by name, so every story's child of one build has one
    # environment, and a case counted by two stories is counted once (COUNTS_ENV).
    build = build or compiled.loaded()
    files = {name: _cache_file(name, calls, build) for name in names}
    known = {name: float(f.read_text()) for name, f in files.items() if f is not None and f.exists()}
    missing = [name for name in names if name not in known]
    jobs = [(name, n) for name in missing for n in (0, calls)]
    if jobs:
        bytecode_ready()
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        found = pool.map(lambda job: _instructions(job[0], job[1], calls, build), jobs)
        counts = dict(zip(jobs, found, strict=True))
    per_call = {name: (counts[(name, calls)] - counts[(name, 0)]) / calls for name in missing}
    for name, value in per_call.items():
        if (file := files[name]) is not None:  # written whole, then named: never half read
            partial = file.with_suffix(f".{os.getpid()}.tmp")
            partial.write_text(repr(value))
            partial.replace(file)
    rows = [
        {
            **_describe(name),
            "instructions_per_call": known.get(name, per_call.get(name)),
            "calls": calls,
            "counted_earlier_in_this_run": name in known,
        }
        for name in names
    ]
    return {"rows": rows, "skipped": None}


def stage_and_get_counts(names: Sequence[str], smoke: bool, build: str | None = None) -> dict[str, Any]:
    """`instruction_counts` of `names`: the whole GETs (the cases of param "get") at
    `whole_get_calls`, the stage cases at the calls every story counts them with (so a run
    counts each once)."""
    whole_gets = [name for name in names if CASES[name].param == "get"]
    stage_cases = [name for name in names if name not in whole_gets]
    stages = instruction_counts(stage_cases, calls=2_000 if smoke else 20_000, build=build)
    if stages["skipped"]:
        return stages
    gets = instruction_counts(whole_gets, calls=whole_get_calls(smoke), build=build)
    return {"rows": [*stages["rows"], *gets["rows"]], "skipped": None}


_LOCK_CALLS = ("acquire", "release", "__enter__", "__exit__", "locked")


def _lock_operations(work: Any, calls: int) -> int:
    """C-level lock methods called while running `work` `calls` times (sys.setprofile
    sees every call into a builtin method, `lock.__exit__` of a `with` block included)."""
    seen = [0]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "c_call" and "lock" in type(getattr(arg, "__self__", None)).__name__.lower():
            if getattr(arg, "__name__", "") in _LOCK_CALLS:
                seen[0] += 1

    sys.setprofile(hook)
    try:
        for _ in range(calls):
            work()
    finally:
        sys.setprofile(None)
    return seen[0]


def _peak_allocation(work: Any, calls: int) -> tuple[int, float]:
    """(bytes allocated at the peak above the start, blocks still held per call) over
    `calls` calls, after one warm-up call. A call that allocates anything, even a
    temporary freed at once, raises the peak."""
    work()
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        repeat = itertools.repeat(None, calls)  # made before the peak is reset: not counted
        start, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in repeat:
            work()
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
        gc.enable()
    held = sum(s.count_diff for s in after.compare_to(before, "filename") if "tracemalloc" not in str(s))
    return max(0, peak - start), held / calls


def hot_path_checks(names: Sequence[str], calls: int = 1000) -> list[dict[str, Any]]:
    """Per synchronous case: peak bytes allocated during `calls` calls and lock
    operations per call. Exact counts, not timings. The harness itself (calling an empty
    function the same way) is measured too and subtracted."""
    harness_peak, harness_held = _peak_allocation(lambda: None, calls)
    rows = []
    for name in names:
        case = CASES[name]
        if case.asynchronous:
            continue
        work = case.make()
        peak, held = _peak_allocation(work, calls)
        peak, held = max(0, peak - harness_peak), max(0.0, held - harness_held)
        locks = _lock_operations(work, calls)
        rows.append(
            {
                **_describe(name),
                "calls": calls,
                "peak_bytes_allocated": peak,
                "blocks_held_per_call": held,
                "lock_operations_per_call": locks / calls,
            }
        )
    return rows


def allocations_per_pending_command(pending: int = 2000) -> list[dict[str, Any]]:
    """Memory blocks and bytes held per command while it waits for its reply, for each
    submit variant (tracemalloc, before vs. with `pending` commands in flight)."""

    async def measure(cls: Any) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        submit = cls(loop, lambda payload: None, 60.0)
        payload = encode_command((b"GET", b"k"))

        def start_all() -> list[Any]:
            waiters = [submit.call(payload) for _ in range(pending)]
            return [asyncio.ensure_future(w) if asyncio.iscoroutine(w) else w for w in waiters]

        # Warm the free lists and pools the variant uses, then count what one more
        # round of pending commands holds.
        for _ in range(2):
            waiters = start_all()
            await asyncio.sleep(0)
            submit.deliver_many([b"v"] * pending)
            await asyncio.gather(*waiters)
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        waiters = start_all()
        await asyncio.sleep(0)
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        stats = after.compare_to(before, "filename")
        submit.deliver_many([b"v"] * pending)
        await asyncio.gather(*waiters)
        return {
            "blocks_per_command": sum(s.count_diff for s in stats) / pending,
            "bytes_per_command": sum(s.size_diff for s in stats) / pending,
        }

    return [{"variant": name, **run_sync(functools.partial(measure, cls))} for name, cls in SUBMIT.items()]
