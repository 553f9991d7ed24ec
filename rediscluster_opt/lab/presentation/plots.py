"""matplotlib figures that several stories draw, from the frames of `lab.frame` and from
story data, and what every figure shares: the colours, a figure of panels (`figure`),
titles wrapped (`wrap`). A figure only one story draws lives with that story
(experiments/).

Every figure that shows trials keeps modes and concurrencies apart (one panel per cell),
colours bars by role, and names its workload in the title.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ...results.stats import Interval

__all__ = [
    "CLIENT_COLOURS",
    "DPI",
    "MARK",
    "NOT_COUNTED",
    "NO_DATA",
    "ROLE_COLOURS",
    "VERDICT_COLOURS",
    "bars_by_role",
    "empty_panels",
    "figure",
    "flame_graph",
    "latency_percentiles",
    "line_profile_bars",
    "line_styles",
    "plain_numbers",
    "profile_costs",
    "role_legend",
    "variant_roles",
    "verdicts",
    "wrap",
]

# One colour, one meaning, in every figure (docs/experiments.md, "Reading the figures"):
# configurations by role, peers by name, verdicts by state. Green and red mean verdicts only;
# black marks thresholds, events and reference lines.
ROLE_COLOURS = {
    "before": "#8c8c8c",
    "A/A": "#c7c7c7",
    "after": "#1f77b4",
    "isolated": "#9ecae1",
    "variant": "#ff7f0e",
    "calibration": "#404040",
    "redis-py": "#9467bd",
    "valkey-glide": "#8c564b",
    "coredis": "#e377c2",
    "aioredis-cluster": "#bcbd22",
    "peer": "#17becf",  # a peer without a colour of its own
}
# Clients by name: ours is the "after" of every comparison, a calibration arm is calibration.
CLIENT_COLOURS = {
    "ours": ROLE_COLOURS["after"],
    "calibration:bare": ROLE_COLOURS["calibration"],
    "calibration:loop": "#7f7f7f",
    **ROLE_COLOURS,
}
VERDICT_COLOURS = {"met": "#2ca02c", "NOT met": "#d62728", "equivalent": "#00a3a3", "inconclusive": "#e6b400"}
# States that count neither way are drawn hollow, edged in the colour they would have had.
NOT_COUNTED = ("indicative", "holds before too")
MARK = "black"
DPI = 150


NO_DATA = "has no data"  # said under a figure with an empty panel (the quick run's tests look for it)


def empty_panels(fig: Any) -> list[str]:
    """The titles (or positions) of a figure's panels that draw no data: only reference
    lines, spans or text, which is what a panel looks like when its data went missing."""

    def draws_data(ax: Any) -> bool:
        artists = [*ax.lines, *ax.patches, *ax.collections, *ax.images]
        return any(a.get_transform().contains_branch(ax.transData) for a in artists)

    return [ax.get_title() or f"panel {i + 1}" for i, ax in enumerate(fig.axes) if not draws_data(ax)]


def wrap(text: str, width: int = 90) -> str:
    import textwrap

    return textwrap.fill(text, width)


def figure(rows: int, columns: int, width: float = 4.6, height: float = 3.6) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(max(6.0, width * columns), height * rows),
        squeeze=False,
        constrained_layout=True,
        dpi=DPI,
    )
    return fig, axes


def _cells(trials: Any) -> list[tuple[str, int]]:
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    return list(dict.fromkeys(zip(good["mode"], good["concurrency"], strict=True)))


def bars_by_role(
    trials: Any,
    roles: dict[str, str],
    *,
    metrics: tuple[str, ...] = ("ops_per_s", "client_cpu_us_per_op"),
    title: str = "",
) -> Any:
    """One row per metric, one panel per (mode, concurrency): the median per configuration
    as a bar coloured by its role, whiskers from min to max, every trial as a dot."""
    import numpy as np

    good = trials[(trials["status"] == "ok") & trials["valid"]]
    cells = _cells(trials)
    fig, axes = figure(len(metrics), max(1, len(cells)), width=max(4.6, 0.9 * good["config"].nunique()))
    labels = {
        "ops_per_s": "ops/s (median, min-max)",
        "client_cpu_us_per_op": "client CPU µs/op (lower is better)",
    }
    for row, metric in enumerate(metrics):
        for column, (mode, level) in enumerate(cells):
            ax = axes[row][column]
            cell = good[(good["mode"] == mode) & (good["concurrency"] == level)]
            configs = list(dict.fromkeys(cell["config"]))
            stats = cell.groupby("config")[metric].agg(["median", "min", "max"]).reindex(configs)
            x = np.arange(len(configs))
            colours = [ROLE_COLOURS[roles.get(c, "variant")] for c in configs]
            ax.bar(x, stats["median"], color=colours, edgecolor="black", linewidth=0.5)
            ax.errorbar(
                x,
                stats["median"],
                yerr=[stats["median"] - stats["min"], stats["max"] - stats["median"]],
                fmt="none",
                ecolor="black",
                capsize=3,
            )
            for i, config in enumerate(configs):
                points = cell[cell["config"] == config][metric]
                ax.scatter([x[i]] * len(points), points, s=8, color="black", zorder=3)
            ax.set_xticks(x)
            ax.set_xticklabels(configs, rotation=25, ha="right", fontsize=7)
            ax.set_ylabel(labels.get(metric, metric))
            ax.set_title(f"{mode}, C={level}", fontsize=9)
    role_legend(fig, set(roles.get(c, "variant") for c in good["config"]))
    fig.suptitle(wrap(title or "Throughput and CPU per op"), fontsize=10)
    return fig


def line_styles(labels: Any, roles: dict[str, str]) -> dict[str, dict[str, str]]:
    """Colour by role for each line; configurations sharing a role are told apart by
    their line style."""
    seen: Counter[str] = Counter()
    out = {}
    for label in dict.fromkeys(labels):
        role = roles.get(label, "variant")
        out[label] = {
            "color": ROLE_COLOURS.get(role, ROLE_COLOURS["variant"]),
            "linestyle": ("-", "--", ":", "-.")[seen[role] % 4],
        }
        seen[role] += 1
    return out


def variant_roles(stage: str) -> dict[str, str]:
    """A stage's variants by role: the baseline preset's is "before", the optimized
    preset's "after", any other a "variant"."""
    from ...stages import BASELINE, OPTIMIZED, REGISTRY

    return {
        variant: "before"
        if variant == BASELINE[stage]
        else "after"
        if variant == OPTIMIZED[stage]
        else "variant"
        for variant in REGISTRY[stage]
    }


def role_legend(fig: Any, used: set[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=role) for role, colour in ROLE_COLOURS.items() if role in used]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)


def latency_percentiles(trials: Any, roles: dict[str, str] | None = None, *, title: str = "") -> Any:
    """One panel per (mode, concurrency): p50/p90/p99/p99.9 per configuration, the median
    over trials as a line coloured by role and the min-max over trials as a band; log
    scale."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    cells = _cells(trials)
    fig, axes = figure(1, max(1, len(cells)))
    columns = ["p50_us", "p90_us", "p99_us", "p99.9_us"]
    names = [c[:-3] for c in columns]
    for index, (mode, level) in enumerate(cells):
        ax = axes[0][index]
        cell = good[(good["mode"] == mode) & (good["concurrency"] == level)]
        styles = line_styles(cell["config"], roles or {})
        for label, group in cell.groupby("config", sort=False):
            style = styles[str(label)]
            line = ax.plot(names, group[columns].median().values, marker="o", label=str(label), **style)[0]
            ax.fill_between(
                names,
                group[columns].min().values,
                group[columns].max().values,
                color=line.get_color(),
                alpha=0.15,
            )
        ax.set_yscale("log")
        ax.set_ylabel("latency, µs")
        ax.set_title(f"{mode}, C={level}", fontsize=9)
        ax.legend(fontsize=6)
    fig.suptitle(wrap(title or "Latency percentiles (median over trials, band = min-max)"), fontsize=10)
    return fig


def verdicts(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    """Every measured criterion as a point with its interval, one panel per unit (ratios on
    a log axis, counts, ns, seconds... on linear axes from zero), the threshold as a black
    tick and the band the A/A noise widens it into shaded behind it. Colour is the verdict
    (VERDICT_COLOURS); a hollow point counts neither way; an arrow is a censored bound (a
    value only known to be larger). Criteria with no figure are counted in the footer."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from ...results.stats import noise_band

    drawn = [r for r in rows if r["effect"]]
    units = list(dict.fromkeys(r.get("unit", "ratio") for r in drawn)) or ["ratio"]
    panels = [[r for r in drawn if r.get("unit", "ratio") == unit] for unit in units]
    heights = [0.45 * max(2, len(p)) + 0.9 for p in panels]
    fig, axes = plt.subplots(
        len(units), 1, figsize=(10, sum(heights)), squeeze=False, constrained_layout=True, dpi=DPI,
        gridspec_kw={"height_ratios": heights},
    )  # fmt: skip
    for ax, unit, panel in zip((a[0] for a in axes), units, panels, strict=True):
        for y, row in enumerate(panel):
            effect, threshold = row["effect"], row["threshold"]
            control = Interval.from_dict(row["control"])
            low, high = noise_band(threshold, control, row.get("additive", False))
            if high > low:
                ax.fill_betweenx([y - 0.4, y + 0.4], low, high, color="#dddddd")
            ax.plot([threshold, threshold], [y - 0.4, y + 0.4], color=MARK, linewidth=1)
            colour = VERDICT_COLOURS.get(row["verdict"], MARK)
            hollow = row["verdict"] in NOT_COUNTED or row.get("restates")
            ax.errorbar(
                [effect["median"]], [y],
                xerr=[[effect["median"] - effect["low"]], [effect["high"] - effect["median"]]],
                fmt="o", color=colour, markerfacecolor="white" if hollow else colour, capsize=3,
            )  # fmt: skip
            if "high" in effect.get("at_least", ()):  # censored: the true value lies further right
                ax.annotate("", (effect["high"] * 1.25 + 0.1, y), (effect["high"], y),
                            arrowprops={"arrowstyle": "->", "color": colour})  # fmt: skip
        values = [v for r in panel for v in (r["effect"]["low"], r["effect"]["high"], r["threshold"])]
        if unit == "ratio" and min(values) > 0:
            ax.set_xscale("log")
            ax.set_xlim(min(values) / 1.3, max(values) * 1.3)
            ticks = [m * 10**e for e in range(-3, 4) for m in (1, 2, 3, 5)]
            ax.set_xticks([t for t in ticks if min(values) / 1.3 <= t <= max(values) * 1.3], minor=False)
            ax.xaxis.set_major_formatter(plain_numbers())
            ax.xaxis.set_minor_formatter(NullFormatter())
        else:  # linear, with zero and the threshold in view (a panel of zeros spans 0 to 1)
            low, high = min(0.0, *values), max(0.0, *values)
            margin = 0.08 * ((high - low) or 1.0)
            ax.set_xlim(low - margin, (high or 1.0) + margin)
        ax.set_yticks(range(len(panel)))
        labels = [f"{r['criterion']} ({_state_text(r)})" for r in panel]
        ax.set_yticklabels([wrap(text, 70) for text in labels], fontsize=7)
        ax.set_ylim(len(panel) - 0.5, -0.5)
        ax.set_xlabel(f"{unit}{' (log scale)' if ax.get_xscale() == 'log' else ''}", fontsize=8)
    missing = Counter(r["verdict"] for r in rows if not r["effect"])
    note = "; ".join(f"{n} {state}" for state, n in missing.items())
    footer = (
        "black tick: threshold; grey band: widened by the A/A noise; hollow: not counted; arrow: censored"
    )
    fig.supxlabel(footer + (f". Not drawn: {note}." if note else ""), fontsize=7)
    fig.suptitle(wrap(title or "Verdicts", 80), fontsize=10)
    return fig


def _state_text(row: dict[str, Any]) -> str:
    return str(row["verdict"]) + (f", restates {row['restates']}" if row.get("restates") else "")


def profile_costs(
    profile: Any,
    ops: dict[tuple[str, int], float],
    roles: dict[str, str] | None = None,
    *,
    top: int = 10,
    title: str = "",
) -> Any:
    """Own time per completed operation (ns) of the top cost centres, qualified names
    (`JoinWriter.send`), one bar per profiled configuration coloured by role: the mean
    over the profiled repeats, whiskers from the lowest to the highest."""
    import numpy as np

    fig, axes = figure(1, 1, width=9, height=5)
    ax = axes[0][0]
    if profile.empty:
        ax.set_title("no profile data")
        return fig
    frame = profile.copy()
    frame["ns_per_op"] = [
        row.own_s / ops[(row.config, row.repeat)] * 1e9 if ops.get((row.config, row.repeat)) else 0
        for row in frame.itertuples()
    ]
    name = "qualname" if "qualname" in frame and frame["qualname"].notna().all() else "function"
    stats = frame.groupby([name, "config"], sort=False)["ns_per_op"].agg(["mean", "min", "max"])
    leaders = stats["mean"].groupby(level=0).max().nlargest(top).index
    configs = list(dict.fromkeys(frame["config"]))
    height = 0.8 / max(1, len(configs))
    styles = line_styles(configs, roles or {})
    for index, config in enumerate(configs):
        rows = stats.xs(config, level="config").reindex(leaders)
        y = np.arange(len(leaders)) + index * height
        whiskers = [rows["mean"] - rows["min"], rows["max"] - rows["mean"]]
        ax.barh(y, rows["mean"], height, color=styles[config]["color"], edgecolor=MARK, linewidth=0.4,
                label=config, xerr=whiskers, capsize=2)  # fmt: skip
    ax.set_yticks(np.arange(len(leaders)) + 0.4 - height / 2)
    ax.set_yticklabels(leaders)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(fontsize=7)
    ax.set_xlabel(
        "own time per completed operation, ns (cProfile: mean, range over repeats; profiled runs are slower)"
    )
    ax.set_title(title or f"Top {top} cost centres")
    return fig


def line_profile_bars(lines: Any, *, top: int = 12, title: str = "") -> Any:
    """The most expensive lines (summed time over trials) of the profiled functions."""
    fig, axes = figure(1, 1, width=10, height=5)
    ax = axes[0][0]
    if lines.empty:
        ax.set_title("no line-profile data")
        return fig
    grouped = lines.groupby(["config", "function", "line", "code"])["time_s"].sum().nlargest(top)
    # a "$" would start matplotlib's mathtext: generated routes hold RESP prefixes ($3\r\n...)
    labels = [f"{f}:{n}  {code.strip()}".replace("$", r"\$") for _c, f, n, code in grouped.index]
    ax.barh(labels, grouped.values * 1e3)
    ax.invert_yaxis()
    ax.set_xlabel("time, ms (line_profiler)")
    ax.set_title(title or f"Top {top} lines")
    ax.tick_params(axis="y", labelsize=7)
    return fig


def plain_numbers() -> Any:
    """A tick formatter that writes 0.5, 2, 30 rather than 10^0."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda value, _: f"{value:g}")


FLAME_TINTS = {"ours": "#c6dbef", "stdlib": "#e5e5e5", "other": "#fdf0b4"}


def flame_graph(stacks: dict[str, int], *, title: str = "", min_share: float = 0.002) -> Any:
    """Folded stacks ('function (file);...' -> samples, root first; see
    bench.profiling.fold_stacks) as a flame graph: the root at the bottom, each frame as
    wide as its share of the samples, children ordered by weight, labels where they fit
    (the function's name; its file in the frame's tint). Frames under `min_share` of the
    samples are left out."""
    from matplotlib.patches import Rectangle
    from matplotlib.ticker import FuncFormatter

    total = sum(stacks.values()) or 1
    tree: dict[tuple[str, ...], int] = Counter()
    for stack, count in stacks.items():
        frames = tuple(stack.split(";"))
        for depth in range(1, len(frames) + 1):
            tree[frames[:depth]] += count
    depth = max((len(path) for path in tree), default=1)
    fig, axes = figure(1, 1, width=12, height=0.26 * depth + 1.2)
    ax = axes[0][0]

    children: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
    for path in sorted(tree, key=lambda p: -tree[p]):
        children.setdefault(path[:-1], []).append(path)

    def draw(path: tuple[str, ...], left: float) -> None:
        for child in children.get(path, []):
            width = tree[child] / total
            if width < min_share:
                continue
            name, _, where = child[-1].rpartition(" (")
            origin = _origin(where)
            y = len(child) - 1
            ax.add_patch(Rectangle((left, y), width, 0.95, facecolor=FLAME_TINTS[origin], edgecolor="white"))
            room = int(width * 220)  # characters that fit at this figure width and font size
            if room >= 4:
                label = name if len(name) <= room else name[: room - 1] + "…"
                ax.text(left + 0.002, y + 0.45, label.replace("$", r"\$"), fontsize=6, va="center")
            draw(child, left)
            left += width

    draw((), 0.0)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, depth)
    ax.set_yticks([])
    ax.xaxis.set_major_formatter(FuncFormatter(lambda share, _: f"{share:.0%}"))
    ax.set_xlabel(f"share of {total:,} samples (frames under {min_share:.1%} left out)")
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.set_title(wrap(title or "Flame graph", 110), fontsize=9)
    return fig


def _origin(file: str) -> str:
    """Whose code a py-spy file name ('package/module.py', shortened) is: FLAME_TINTS' key."""
    import sys

    top = file.split("/", 1)[0].removesuffix(".py")
    if top == "rediscluster_opt":
        return "ours"
    return "stdlib" if top in sys.stdlib_module_names else "other"
