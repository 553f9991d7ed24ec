"""US-011: runtime settings, the PRD's "RTS flags may need tuning per iteration" in
Python's terms: the garbage collector, the event loop and the allocator, each against the
default."""

from __future__ import annotations

import dataclasses
import statistics
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import headline_level
from rediscluster_opt.lab.parameters import BENCH, Parameters
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, CPU_AA, NEGLIGIBLE, TARGET, THROUGHPUT_AA, Story, StoryRun

PRESETS = ("optimized", "baseline")
BEYOND_SMOKE = "a run beyond smoke (a smoke run keeps to the optimized preset)"
# setting -> (what it is, how it changes the default configuration)
SETTINGS: dict[str, tuple[str, dict[str, Any]]] = {
    "gc freeze": ("gc.freeze() after the warm-up", {"gc": "freeze"}),
    "gc off": ("the collector off for the measured window", {"gc": "off"}),
    "asyncio": ("asyncio's own event loop instead of uvloop", {"loop": "asyncio"}),
    "malloc": ("the C library's malloc for every object (PYTHONMALLOC=malloc)", {"allocator": "malloc"}),
}


def metric(preset: str, setting: str, figure: str = "throughput") -> str:
    """`figure` ('throughput' or 'cpu') of `preset` with `setting`, over its default."""
    return f"runtime.{preset}.{setting.replace(' ', '_')}.{figure}"


def collections_metric(preset: str, setting: str) -> str:
    """Young-generation collections per 1,000 operations in the measured window."""
    return f"runtime.{preset}.{setting.replace(' ', '_')}.gc_per_1k_ops"


def _configs(smoke: bool) -> dict[tuple[str, str], ClientConfig]:
    """(preset, setting) -> configuration; 'default' is the preset as it ships. A smoke run
    keeps to the optimized preset."""
    out = {}
    for preset in PRESETS[:1] if smoke else PRESETS:
        default = ClientConfig.parse(preset)
        out[(preset, "default")] = default
        for setting, (_, change) in SETTINGS.items():
            out[(preset, setting)] = dataclasses.replace(default, **change)
    return out


def _per_1k_ops(record: dict[str, Any], label: str) -> float | None:
    values = [
        t["gc"]["collections"][0] / t["ops"] * 1000
        for t in record["trials"]
        if t["config"] == label and t.get("status") == "ok" and t.get("gc") and t.get("ops")
    ]
    return statistics.median(values) if values else None


def run(story: Story, params: Parameters) -> StoryRun:
    configs = _configs(params.smoke)
    default = configs[("optimized", "default")]
    twin = engine.twin(default)
    record = engine.bench(params, [default, twin, *(c for k, c in configs.items() if k != ("optimized", "default"))],
                          story.id)  # fmt: skip
    where: dict[str, Any] = {"concurrency": headline_level(params.concurrency)}
    measured = engine.aa_control(record, twin.label, default.label, **where)
    for (preset, setting), config in configs.items():
        if setting != "default":
            base = configs[(preset, "default")].label
            throughput, cpu = engine.ratio_pair(record, config.label, base, **where)
            measured |= {metric(preset, setting): throughput, metric(preset, setting, "cpu"): cpu}
    for (preset, setting), config in configs.items():
        found = _per_1k_ops(record, config.label)
        measured[collections_metric(preset, setting)] = engine.exact(found)
    roles = {"optimized": default.label, AA: twin.label}
    return engine.save_run(story, params, record, measured, extra={"roles": roles})


def paragraph(run: StoryRun) -> str:
    """The answer first: which setting pays on the optimized preset, by how much, beyond
    the A/A noise; then every criterion as the other stories list them."""
    rows = {r["metric"]: r for r in run.acceptance}
    said = []
    for setting, (what, _) in SETTINGS.items():
        row = rows.get(metric("optimized", setting))
        if row and row["effect"]:
            said.append(f"{what}: throughput {row['measured']} of the default ({row['verdict']})")
    paying = [r for r in run.acceptance if r["verdict"] == "met"]
    answer = (
        "Tuning pays beyond the A/A noise for: " + "; ".join(r["criterion"] for r in paying) + "."
        if paying
        else "No setting pays beyond the A/A noise here: the defaults (uvloop, the collector as Python "
        "sets it, pymalloc) stay."
    )
    aa = rows.get(metric("optimized", "gc freeze"), {}).get("aa", "")
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)}).", answer]
    if said:
        lines.append("On the optimized preset, " + "; ".join(said) + (f"; A/A {aa}." if aa else "."))
    young = run.measured.get(collections_metric("optimized", "default"))
    if young is not None:  # why the collector settings can (or cannot) matter
        lines.append(
            f"By default the collector made {young.median:.2f} young collections per 1,000 operations "
            "in the measured window."
        )
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def _pays(setting: str, figure: str, headline: bool = False) -> Criterion:
    what, _ = SETTINGS[setting]
    higher = figure == "throughput"
    text = f"{what} pays (optimized): {'throughput' if higher else 'client CPU per op'}, {setting} / default"
    control = THROUGHPUT_AA if higher else CPU_AA
    return Criterion(text, metric("optimized", setting, figure), ">=" if higher else "<=", 1, TARGET, control,
                     headline=headline, before=control, equivalence=NEGLIGIBLE)  # fmt: skip


STORY = Story(
    "US-011", "runtime", "Runtime settings: the garbage collector, the event loop, the allocator",
    """The PRD leaves GHC's runtime flags "to tune per iteration". Python's counterparts are the
garbage collector, the event loop and the allocator. Each is measured against the default,
interleaved in one run with an A/A twin of the default: `gc.freeze()` after the warm-up (what is
alive then is never scanned again), the collector off for the measured window, asyncio's own loop
instead of uvloop, and the C library's `malloc` for every object instead of CPython's small-object
allocator (`PYTHONMALLOC=malloc`, set when the trial's process starts), on the optimized preset
and (in the default mode) on the baseline. Young-generation collections per 1,000 operations are
recorded beside them.""",
    run,
    criteria=(
        _pays("gc freeze", "throughput", headline=True),
        _pays("gc freeze", "cpu", headline=True),
        _pays("gc off", "throughput"),
        _pays("gc off", "cpu"),
        Criterion("uvloop pays (optimized): throughput, asyncio / uvloop", metric("optimized", "asyncio"), "<", 1,
                  TARGET, THROUGHPUT_AA, before=THROUGHPUT_AA),
        _pays("malloc", "throughput"),
        _pays("malloc", "cpu"),
    ),
    recorded=(
        *(Recorded(f"baseline: {SETTINGS[s][0]}, throughput / default", metric("baseline", s), "{:.2f}",
                   needs=BEYOND_SMOKE) for s in SETTINGS),
        *(Recorded(f"young collections per 1,000 ops, optimized, {s}", collections_metric("optimized", s), "{:.2f}")
          for s in ("default", *SETTINGS)),
    ),
    parameters=BENCH,
    cells=without_profiles,  # the settings change the runtime around the same code: no profiles
    paragraph=paragraph,
)  # fmt: skip
