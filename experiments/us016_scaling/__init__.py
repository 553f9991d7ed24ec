"""US-016: how cost grows with the work, measured rather than assumed: the cluster's size
(N masters at several concurrencies, against standalone), the value size, and the key
count, with the bare multiplexer and valkey-glide in the same runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rediscluster_opt.bench.adapters import ClientConfig, Target
from rediscluster_opt.bench.target import node_addresses
from rediscluster_opt.bench.workload import Workload
from rediscluster_opt.lab import engine
from rediscluster_opt.lab.criteria import Criterion, Recorded
from rediscluster_opt.lab.engine import headline_level
from rediscluster_opt.lab.parameters import BENCH, Parameters, integers, positive_integer
from rediscluster_opt.lab.presentation import notebook as nb
from rediscluster_opt.lab.presentation.builder import without_profiles
from rediscluster_opt.lab.story import AA, TARGET, THROUGHPUT_AA, Own, Story, StoryRun
from rediscluster_opt.results import Interval, paired_ratio

from . import charts
from .scaling import clusters_of, curve_point

BARE, GLIDE = "calibration:bare", "valkey-glide"
SIZES = Own(
    "cluster_sizes",
    {"default": (3, 12), "full": (3, 6, 12, 24), "quick": (3,)},
    integers,
    "masters of the clusters swept beside the lab's own five (started and stopped by the story)",
)
LEVELS = Own(
    "scale_levels",
    {"default": (64,), "full": (16, 64, 256), "quick": (32,)},
    integers,
    "concurrencies of the cluster-size sweep",
)
VALUES = Own(
    "value_sizes",
    {"default": (16, 200, 65536), "full": (16, 200, 4096, 65536), "quick": (16,)},
    integers,
    "value sizes (B) swept at the headline concurrency (the run's own is read off the size sweep)",
)
KEYS = Own(
    "key_counts",
    {"default": (1000, 10000, 100000), "full": (1000, 10000, 100000, 1000000), "quick": (1000,)},
    integers,
    "key counts swept at the headline concurrency (the run's own is read off the size sweep)",
)
REPEATS = Own(
    "scale_repeats",
    {"default": 9, "full": 9, "quick": 2},
    positive_integer,
    "repeats of the size sweep and of each sweep's largest point, which the criteria read (the smaller "
    "value and key points take at most five)",
)
# Repeats of a value or key sweep point below the largest: recorded on the curves, read by
# no criterion (those read the largest point, at every repeat), so five pairs (min-max
# coverage 94 %) give their spread at about half the cost, as US-008's TLS figures do.
CONTEXT_REPEATS = 5
DATA_BUDGET = 64 * 1024 * 1024  # bytes of values a point of the value sweep writes at most
BEYOND_SMOKE = "the peer valkey-glide (a smoke run leaves the peers out)"  # fmt: skip


def metric(sweep: str, point: str, figure: str) -> str:
    """`figure` ('over_bare', 'over_glide': paired throughput ratios) at `point` of
    `sweep` ('masters', 'value', 'keys'); point 'largest' is the sweep's largest."""
    return f"scale.{sweep}.{point}.{figure}"


def clients(params: Parameters) -> list[ClientConfig]:
    """Ours (the optimized preset), the bare multiplexer, and valkey-glide beyond smoke."""
    peers = [] if params.smoke or GLIDE not in params.peers else [ClientConfig.parse(GLIDE)]
    return [ClientConfig.parse("optimized"), ClientConfig.parse(BARE), *peers]


def swept_sizes(requested: tuple[int, ...], target_masters: int) -> tuple[int, ...]:
    """The sizes to start clusters of: the target is measured as it is, so a size equal to
    its own is not started twice."""
    return tuple(n for n in dict.fromkeys(requested) if n != target_masters)


def at_size(config: ClientConfig, masters: int) -> ClientConfig:
    return dataclasses.replace(config, name=f"{config.label} N={masters}")


def _ratios(
    record: dict[str, Any], ours: str, others: dict[str, str], **where: Any
) -> dict[str, Interval | None]:
    """figure -> ours over each other client, paired per repeat."""
    return {figure: paired_ratio(record, ours, label, **where) for figure, label in others.items()}


@dataclasses.dataclass
class _Findings:
    """What the sweeps find, point by point: the ratios of ours over the other clients
    (`measured`) and each client's curve points."""

    arms: list[ClientConfig]
    measured: dict[str, Interval | None] = dataclasses.field(default_factory=dict)
    points: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def ratios_at(
        self, record: dict[str, Any], sweep: str, point: str, label_of: Callable[[str], str], **where: Any
    ) -> None:
        names = {c.client: c.label for c in self.arms}
        others = {"over_bare": label_of(names[BARE])}
        if GLIDE in names:
            others["over_glide"] = label_of(names[GLIDE])
        for figure, found in _ratios(record, label_of(names["ours"]), others, **where).items():
            self.measured[metric(sweep, point, figure)] = found

    def collect(
        self, record: dict[str, Any], sweep: str, x: float, label_of: Callable[[str], str], series: str,
        **where: Any,
    ) -> None:  # fmt: skip
        for config in self.arms:
            found = curve_point(record, label_of(config.label), "cluster", where["concurrency"])
            if found:
                self.points.append(
                    {"sweep": sweep, "client": config.client, "series": series, "x": x, **found}
                )


def run(story: Story, params: Parameters) -> StoryRun:
    arms = clients(params)
    ours, twin = arms[0], engine.twin(arms[0])
    levels: tuple[int, ...] = params.own[LEVELS.name]
    headline = headline_level(levels)
    findings = _Findings(arms)
    record, sizes = _size_sweep(story, params, findings, twin)
    findings.measured |= engine.aa_control(record, twin.label, ours.label, concurrency=headline)
    standalone = {c.client: curve_point(record, c.label, "standalone", headline) for c in arms}
    linked = _workload_sweeps(story, params, findings, record, headline)
    extra = {
        "roles": {"optimized": ours.label, AA: twin.label},
        "points": findings.points,
        "standalone": {client: found for client, found in standalone.items() if found},
        "sizes": sizes,
        "headline_level": headline,
    }
    return engine.save_run(story, params, record, findings.measured, extra=extra, linked=linked)


def _size_sweep(
    story: Story, params: Parameters, findings: _Findings, twin: ClientConfig
) -> tuple[dict[str, Any], list[int]]:
    """The cluster-size sweep: every size in one interleaved run, the lab's cluster (the
    target) among them. (its record, the sizes swept)"""
    arms, ours = findings.arms, findings.arms[0]
    repeats: int = params.own[REPEATS.name]
    levels: tuple[int, ...] = params.own[LEVELS.name]
    local = engine.local_cluster(params)
    main_masters = len(node_addresses(params.target, "cluster"))  # the target is a point of the sweep too
    sizes = swept_sizes(params.own[SIZES.name], main_masters) if local else ()
    folder = Path(local.data_dir).parent / "scaling" if local else Path()
    with clusters_of(sizes, folder) as clusters:
        sized = [at_size(c, n) for n in sizes for c in arms]
        targets = {at_size(c, n).label: Target(seeds=tuple(clusters[n].seeds), standalone=None)
                   for n in sizes for c in arms}  # fmt: skip
        record = engine.bench(params, [ours, twin, *arms[1:], *sized], story.id, concurrency=list(levels),
                              repeats=repeats, modes=("cluster", "standalone"), targets=targets)  # fmt: skip
    every = sorted({*sizes, main_masters})
    for masters in every:

        def label_of(label: str, n: int = masters) -> str:
            return label if n == main_masters else f"{label} N={n}"

        for level in levels:
            findings.collect(record, "masters", masters, label_of, f"C={level}", concurrency=level)
            findings.ratios_at(record, "masters", f"{masters}.c{level}", label_of, concurrency=level)
        if masters == every[-1]:
            findings.ratios_at(record, "masters", "largest", label_of, concurrency=headline_level(levels))
    return record, every


def _workload_sweeps(
    story: Story, params: Parameters, findings: _Findings, record: dict[str, Any], headline: int
) -> dict[str, dict[str, Any] | None]:
    """The value and key sweeps: one run per point (the workload is a run's), clients
    interleaved. The point of the run's own workload is the size sweep's at the target,
    measured there. The records each point linked."""
    repeats: int = params.own[REPEATS.name]
    levels: tuple[int, ...] = params.own[LEVELS.name]
    linked: dict[str, dict[str, Any] | None] = {}
    own = Workload(value_size=params.value_size, key_count=params.key_count)
    for sweep, values in (("value", params.own[VALUES.name]), ("keys", params.own[KEYS.name])):
        for x in values:
            work = (_sized(x, max(1, min(params.key_count, DATA_BUDGET // x)), own)
                    if sweep == "value" else Workload(value_size=params.value_size, key_count=x))  # fmt: skip
            if work == own and headline in levels:
                found = record
            else:  # a point no criterion reads is the curve's context: CONTEXT_REPEATS pairs
                found = engine.bench(params, findings.arms, f"{story.id}-{sweep}-{x}", workload=work,
                                     concurrency=[headline],
                                     repeats=repeats if x == max(values) else min(repeats, CONTEXT_REPEATS))  # fmt: skip
                linked[f"{sweep}-{x}"] = found
            findings.collect(found, sweep, x, str, "", concurrency=headline)
            findings.ratios_at(found, sweep, str(x), str, concurrency=headline)
            if x == max(values):
                findings.ratios_at(found, sweep, "largest", str, concurrency=headline)
    return linked


def _sized(value_size: int, key_count: int, own: Workload) -> Workload:
    """A value sweep's workload. Values of another size go under keys of their own, so
    the bench keys that stories running beside this one (a smoke run) read keep theirs."""
    if value_size == own.value_size:
        return Workload(value_size=value_size, key_count=key_count)
    return Workload(value_size=value_size, key_count=key_count, key_prefix=f"{own.key_prefix}v{value_size}:")


def _point(run: StoryRun, sweep: str, client: str, x: float, series: str = "") -> dict[str, Any] | None:
    return next((p for p in run.extra.get("points", []) if (p["sweep"], p["client"], p["x"], p["series"])
                 == (sweep, client, x, series)), None)  # fmt: skip


def _cpu(point: dict[str, Any] | None) -> str:
    return f"{point['cpu_us_per_op']['median']:.2f}" if point and "cpu_us_per_op" in point else "?"


def paragraph(run: StoryRun) -> str:
    """How each cost grows, in one sentence per sweep with its figures, then the criteria."""
    rows = {r["metric"]: r for r in run.acceptance}
    level = run.extra.get("headline_level", 64)
    lines = [f"**{run.story.id} verdict** ({nb.workload_text(run)})."]
    sizes = run.extra.get("sizes") or []
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        series = f"C={level}"
        ours_small, ours_large = (
            _point(run, "masters", "ours", small, series),
            _point(run, "masters", "ours", large, series),
        )
        bare_small, bare_large = (_point(run, "masters", BARE, n, series) for n in (small, large))
        per_write = [p["commands_per_write"]["median"] if p and "commands_per_write" in p else None
                     for p in (ours_small, ours_large)]  # fmt: skip
        writes = (f", and commands per write from {per_write[0]:.1f} to {per_write[1]:.1f} (C/N: {level / small:.1f} "
                  f"to {level / large:.1f})" if None not in per_write else "")  # fmt: skip
        row = rows.get(metric("masters", "largest", "over_bare"))
        lines.append(
            f"From {small} to {large} masters at C={level}, our client CPU per op goes from {_cpu(ours_small)} to "
            f"{_cpu(ours_large)} µs (the bare multiplexer's from {_cpu(bare_small)} to {_cpu(bare_large)}){writes}"
            + (f"; at {large} masters ours is {row['measured']} of the bare arm ({row['verdict']})." if row and row["effect"] else ".")
        )  # fmt: skip
    for sweep, unit, what in (("value", " B", "value size"), ("keys", " keys", "key count")):
        xs = sorted({p["x"] for p in run.extra.get("points", []) if p["sweep"] == sweep})
        if xs:
            first, last = _point(run, sweep, "ours", xs[0]), _point(run, sweep, "ours", xs[-1])
            row = rows.get(metric(sweep, "largest", "over_bare"))
            grows = (
                f"By {what}, from {xs[0]:g}{unit} to {xs[-1]:g}{unit} our CPU per op goes from {_cpu(first)} to "
                f"{_cpu(last)} µs"
                if len(xs) > 1
                else f"At {xs[0]:g}{unit} our CPU per op is {_cpu(first)} µs"
            )
            lines.append(
                grows + (f", {row['measured']} of the bare arm at the largest ({row['verdict']})."
                                      if row and row["effect"] else ".")
            )  # fmt: skip
    return " ".join([*lines, *nb.state_lines(run.acceptance), *nb.warning_lines(run)])


def figures(run: StoryRun, params: Parameters) -> list[Path]:
    out = []
    throughput, cpu = ("ops_per_s", "ops/s"), ("cpu_us_per_op", "client CPU µs/op")
    for sweep, x_label, panels in (
        ("masters", "masters (N)", (throughput, cpu, ("commands_per_write", "commands per write"))),
        ("value", "value size (B)", (throughput, cpu)),
        ("keys", "keys", (throughput, cpu)),
    ):
        points = [p for p in run.extra.get("points", []) if p["sweep"] == sweep]
        if not points:
            continue
        references = ({client: {k: v["median"] for k, v in found.items() if isinstance(v, dict)}
                       for client, found in run.extra.get("standalone", {}).items()} if sweep == "masters" else None)  # fmt: skip
        fig = charts.scaling_curves(points, panels, x_label=x_label, references=references,
                                   title=f"{run.story.id}: cost by {x_label} ({nb.workload_text(run)})")  # fmt: skip
        out.append(nb.save_figure(fig, params, run, f"by_{sweep}"))
    return out


def _largest(
    sweep: str, what: str, threshold: float, figure: str = "over_bare", headline: bool = False
) -> Criterion:
    other = "the bare multiplexer" if figure == "over_bare" else "valkey-glide"
    return Criterion(f"{what}: throughput, ours / {other}", metric(sweep, "largest", figure), ">=", threshold, TARGET,
                     THROUGHPUT_AA, headline=headline, needs="" if figure == "over_bare" else BEYOND_SMOKE)  # fmt: skip


STORY = Story(
    "US-016", "scaling", "How cost grows: cluster size, value size, key count",
    """The design's tax in cluster mode is per-node fan-out: with N masters and C callers each node's write
carries about C/N commands, so the writes' saving shrinks as the cluster grows. Three sweeps, each with the
bare 70-line multiplexer (`calibration:bare`, the design's own limit in Python) and valkey-glide in the same
interleaved run: the cluster's size (local clusters of N masters started beside the target, which is a point
of the sweep too; on a target other than the lab's own cluster only the target is measured), at the
headline concurrency (C = 16, 64 and 256 in the full mode), against standalone, the value size (16 B to
64 KiB; the key count shrinks so no point writes more than 64 MiB), and the key count; the point of the
run's own workload is read off the size sweep's run rather than measured twice. Where ours tracks the bare arm, the cost is the design's; where it
falls behind, it is ours. Plots are log-log.""",
    run,
    criteria=(
        _largest("masters", "At the largest cluster ours keeps 0.90 of the design's limit", 0.9, headline=True),
        _largest("masters", "At the largest cluster ours stays ahead of valkey-glide", 1.0, "over_glide"),
        _largest("value", "At the largest value ours keeps 0.90 of the design's limit", 0.9),
        _largest("keys", "At the largest key count ours keeps 0.90 of the design's limit", 0.9),
    ),
    recorded=(
        *(Recorded(f"ours / bare throughput, {n} masters, C={c}", metric("masters", f"{n}.c{c}", "over_bare"),
                   "{:.2f}", needs=("" if n == 5 else f"cluster_sizes including {n}, ")
                   + f"scale_levels including {c}") for n in (3, 5, 6, 12) for c in (16, 64, 256)),
        *(Recorded(f"ours / bare throughput, {v} B values", metric("value", str(v), "over_bare"), "{:.2f}",
                   needs=f"value_sizes including {v}") for v in (16, 200, 4096, 65536)),
        *(Recorded(f"ours / bare throughput, {k} keys", metric("keys", str(k), "over_bare"), "{:.2f}",
                   needs=f"key_counts including {k}") for k in (1000, 10000, 100000)),
    ),
    parameters=tuple(p for p in BENCH if p not in ("concurrency", "repeats")),  # its own levels and repeats
    own=(SIZES, LEVELS, VALUES, KEYS, REPEATS),
    figures=figures,
    cells=without_profiles,  # the same route at every point: no profiles
    paragraph=paragraph,
)  # fmt: skip
