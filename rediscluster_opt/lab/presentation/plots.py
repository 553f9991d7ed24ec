"""matplotlib figures drawn from the frames of `lab.frame` and from story data.

Every figure that shows trials keeps modes and concurrencies apart (one panel per cell),
colours bars by role, and names its workload in the title.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from ...results.stats import Interval

__all__ = [
    "CLIENT_COLOURS",
    "NO_DATA",
    "ROLE_COLOURS",
    "VERDICT_COLOURS",
    "bars_by_role",
    "blocks_per_command",
    "latency_percentiles",
    "line_profile_bars",
    "migration_timeline",
    "fault_timelines",
    "flame_graph",
    "profile_costs",
    "concurrency_sweep",
    "cost_waterfall",
    "empty_panels",
    "rest_bars",
    "rss_over_time",
    "slot_hash_ns",
    "tls_cost",
    "verdicts",
    "NOT_COUNTED",
    "writes_per_command",
    "scaling_curves",
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


def _wrap(text: str, width: int = 90) -> str:
    import textwrap

    return textwrap.fill(text, width)


def _figure(rows: int, columns: int, width: float = 4.6, height: float = 3.6) -> tuple[Any, Any]:
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
    fig, axes = _figure(len(metrics), max(1, len(cells)), width=max(4.6, 0.9 * good["config"].nunique()))
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
    _role_legend(fig, set(roles.get(c, "variant") for c in good["config"]))
    fig.suptitle(_wrap(title or "Throughput and CPU per op"), fontsize=10)
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


def _role_legend(fig: Any, used: set[str]) -> None:
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
    fig, axes = _figure(1, max(1, len(cells)))
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
    fig.suptitle(_wrap(title or "Latency percentiles (median over trials, band = min-max)"), fontsize=10)
    return fig


def verdicts(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    """Every measured criterion as a point with its interval, one panel per unit (ratios on
    a log axis, counts, ns, seconds... on linear axes from zero), the threshold as a black
    tick and the band the A/A noise widens it into shaded behind it. Colour is the verdict
    (VERDICT_COLOURS); a hollow point counts neither way; an arrow is a censored bound (a
    value only known to be larger). Criteria with no figure are counted in the footer."""
    import matplotlib.pyplot as plt

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
            ax.xaxis.set_major_formatter(_plain_numbers())
            ax.xaxis.set_minor_formatter(plt.NullFormatter())
        else:  # linear, with zero and the threshold in view (a panel of zeros spans 0 to 1)
            low, high = min(0.0, *values), max(0.0, *values)
            margin = 0.08 * ((high - low) or 1.0)
            ax.set_xlim(low - margin, (high or 1.0) + margin)
        ax.set_yticks(range(len(panel)))
        labels = [f"{r['criterion']} ({_state_text(r)})" for r in panel]
        ax.set_yticklabels([_wrap(text, 70) for text in labels], fontsize=7)
        ax.set_ylim(len(panel) - 0.5, -0.5)
        ax.set_xlabel(f"{unit}{' (log scale)' if ax.get_xscale() == 'log' else ''}", fontsize=8)
    missing = Counter(r["verdict"] for r in rows if not r["effect"])
    note = "; ".join(f"{n} {state}" for state, n in missing.items())
    footer = (
        "black tick: threshold; grey band: widened by the A/A noise; hollow: not counted; arrow: censored"
    )
    fig.supxlabel(footer + (f". Not drawn: {note}." if note else ""), fontsize=7)
    fig.suptitle(_wrap(title or "Verdicts", 80), fontsize=10)
    return fig


def _state_text(row: dict[str, Any]) -> str:
    return str(row["verdict"]) + (f", restates {row['restates']}" if row.get("restates") else "")


def profile_costs(
    profile: Any,
    ops: dict[str, float],
    roles: dict[str, str] | None = None,
    *,
    top: int = 10,
    title: str = "",
) -> Any:
    """Own time per completed operation (ns) of the top cost centres, qualified names
    (`JoinWriter.send`), one bar per profiled configuration coloured by role: the mean
    over the profiled repeats, whiskers from the lowest to the highest."""
    import numpy as np

    fig, axes = _figure(1, 1, width=9, height=5)
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
    fig, axes = _figure(1, 1, width=10, height=5)
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


def slot_hash_ns(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    """ns per CRC16 slot hash against key length, per variant, with the PRD's 1 µs line."""
    fig, axes = _figure(1, 1, width=7, height=4)
    ax = axes[0][0]
    variants = dict.fromkeys(r["variant"] for r in rows if r["stage"] == "slot_hash")
    styles = line_styles(variants, variant_roles("slot_hash"))
    for variant in variants:
        points = sorted(
            (int(r["param"][1:]), r["ns"])
            for r in rows
            if r["stage"] == "slot_hash" and r["variant"] == variant
        )
        x = [p[0] for p in points]
        ax.errorbar(
            x,
            [p[1]["median"] for p in points],
            yerr=[
                [p[1]["median"] - p[1]["low"] for p in points],
                [p[1]["high"] - p[1]["median"] for p in points],
            ],
            marker="o",
            capsize=3,
            label=variant,
            **styles[variant],
        )
    ax.axhline(1000, color=MARK, linestyle="--", label="1 µs (PRD)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("key length, bytes")
    ax.set_ylabel("ns per call (pyperf median, 95% interval)")
    ax.legend(fontsize=8)
    ax.set_title(title or "Slot hash cost by key length")
    return fig


def blocks_per_command(rows: list[dict[str, Any]], *, title: str = "") -> Any:
    fig, axes = _figure(1, 1, width=6, height=3.5)
    ax = axes[0][0]
    roles = variant_roles("submit")
    colours = [ROLE_COLOURS[roles.get(r["variant"], "variant")] for r in rows]
    ax.bar(
        [r["variant"] for r in rows], [r["blocks_per_command"] for r in rows], color=colours, edgecolor=MARK
    )
    for i, r in enumerate(rows):
        ax.annotate(
            f"{r['blocks_per_command']:.1f} ({r['bytes_per_command']:.0f} B)",
            (i, r["blocks_per_command"]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylabel("memory blocks held per pending command")
    ax.set_title(title or "What a waiting command holds (tracemalloc)")
    return fig


def writes_per_command(trials: Any, roles: dict[str, str], *, title: str = "") -> Any:
    return bars_by_role(
        trials, roles, metrics=("writes_per_command",), title=title or "Socket writes per command"
    )


def migration_timeline(migrations: dict[str, dict[str, Any]], *, title: str = "") -> Any:
    """Throughput per 50 ms and cumulative ASK/MOVED during the live slot migration, one
    column per stage set on one shared time axis, y axes from zero; the move is shaded and
    its duration is in each column's title (the servers carry the load while they migrate,
    so the move's length differs with the client)."""
    fig, axes = _figure(2, max(1, len(migrations)), width=5.5, height=3)
    end = max((p["t_s"] for run in migrations.values() for p in run.get("timeline") or []), default=1.0)
    for column, (role, run) in enumerate(migrations.items()):
        points = run.get("timeline") or []
        top, bottom = axes[0][column], axes[1][column]
        times = [p["t_s"] for p in points[1:]]
        rates = [
            (b["ops"] - a["ops"]) / max(1e-9, b["t_s"] - a["t_s"])
            for a, b in zip(points, points[1:], strict=False)
        ]
        top.plot(times, rates, color=ROLE_COLOURS["after" if "after" in role else "before"])
        top.set_ylabel("ops/s")
        took = (
            f"move took {run['move_ended_s'] - run['move_started_s']:.1f} s, "
            if "move_started_s" in run
            else ""
        )
        top.set_title(f"{role}: {took}{run['wrong']} wrong, {run['errors']} errors", fontsize=9)
        bottom.plot([p["t_s"] for p in points], [p["ask"] for p in points], label="ASK", color=MARK)
        bottom.plot([p["t_s"] for p in points], [p["moved"] for p in points], "--", label="MOVED", color=MARK)
        bottom.set_yscale("symlog")  # MOVED counts are few beside ASK's: both stay visible
        bottom.yaxis.set_major_formatter(_plain_numbers())
        bottom.set_ylabel("redirects (cumulative)")
        bottom.set_xlabel("s since the callers started")
        bottom.legend(fontsize=7, loc="upper left")
        for ax in (top, bottom):
            ax.set_xlim(0, end)
            ax.set_ylim(bottom=0)
            if "move_started_s" in run:
                ax.axvspan(run["move_started_s"], run["move_ended_s"], color="#ffdd99", alpha=0.5)
    fig.suptitle(_wrap(title or "Live slot migration (shaded: the slot is moving)"), fontsize=10)
    return fig


def rest_bars(
    rest_table: list[dict[str, Any]], roles: dict[str, str] | None = None, *, title: str = ""
) -> Any:
    """req/s per scenario and backend: standalone (hatched, lighter) beside cluster, each
    bar the median over the repeats with min-max whiskers, coloured by the backend's role;
    above each pair, how much throughput the backend loses from standalone to cluster."""
    import numpy as np

    roles = roles or {}
    scenarios = list(dict.fromkeys(r["scenario"] for r in rest_table))
    fig, axes = _figure(1, max(1, len(scenarios)), width=4.4, height=4.0)
    for index, scenario in enumerate(scenarios):
        ax = axes[0][index]
        rows = [r for r in rest_table if r["scenario"] == scenario]
        x = np.arange(len(rows))
        colours = [
            ROLE_COLOURS.get(roles.get(r["config"], r["config"]), ROLE_COLOURS["variant"]) for r in rows
        ]
        for offset, mode, style in (
            (-0.2, "standalone", {"alpha": 0.45, "hatch": "//"}),
            (0.2, "cluster", {}),
        ):
            medians = [r[f"{mode}_req_s"] or 0 for r in rows]
            whiskers = [
                [m - (r.get(f"{mode}_req_s_min") or m) for m, r in zip(medians, rows, strict=True)],
                [(r.get(f"{mode}_req_s_max") or m) - m for m, r in zip(medians, rows, strict=True)],
            ]
            ax.bar(x + offset, medians, 0.4, yerr=whiskers, capsize=2, color=colours, edgecolor=MARK,
                   linewidth=0.5, label=mode, **style)  # fmt: skip
        for i, r in enumerate(rows):
            if r["drop"] is not None:
                top = max(r.get("cluster_req_s_max") or 0, r.get("standalone_req_s_max") or 0)
                ax.annotate(f"drop {r['drop']:.0%}", (i, top), ha="center", va="bottom", fontsize=6)
        ax.set_xticks(x)
        ax.set_xticklabels([r["config"] for r in rows], rotation=25, ha="right", fontsize=7)
        ax.set_title(scenario, fontsize=9)
        ax.set_ylabel("req/s (median, min-max)")
        ax.set_ylim(top=ax.get_ylim()[1] * 1.08)
    handles, _ = axes[0][0].get_legend_handles_labels()
    axes[0][0].legend(handles, ["standalone (hatched)", "cluster"], fontsize=7)
    fig.suptitle(
        _wrap(title or "REST scenarios: standalone vs cluster; 'drop' is the throughput lost from standalone "
              "to cluster"), fontsize=10,
    )  # fmt: skip
    return fig


def tls_cost(measured: dict[str, Any], *, title: str = "") -> Any:
    """TLS / plain per client: throughput and client CPU per op, median with the interval
    as whiskers and written on the bar, on log axes (one client's cost may be 30 times
    another's); 1.0, no cost, is marked."""
    clients = [k.split(".")[1] for k in measured if k.startswith("tls.") and k.endswith(".throughput")]
    fig, axes = _figure(1, 2, width=5.0, height=3.8)
    for ax, (metric, label) in zip(
        axes[0], (("throughput", "throughput"), ("cpu", "client CPU per op")), strict=True
    ):
        shown = [(c, cell) for c in clients if (cell := measured.get(f"tls.{c}.{metric}")) is not None]
        medians = [cell.median for _, cell in shown]
        errors = [
            [cell.median - cell.low for _, cell in shown],
            [cell.high - cell.median for _, cell in shown],
        ]
        colours = [CLIENT_COLOURS.get(c, ROLE_COLOURS["peer"]) for c, _ in shown]
        ax.bar(
            range(len(shown)), medians, yerr=errors, color=colours, capsize=4, edgecolor=MARK, linewidth=0.5
        )
        for i, (_, cell) in enumerate(shown):
            ax.annotate(f"{cell.median:.2f}", (i, cell.high), ha="center", va="bottom", fontsize=7)
        ax.axhline(1.0, color=MARK, linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_plain_numbers())
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([c for c, _ in shown], rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{label}: TLS / plain (log scale)", fontsize=9)
    fig.suptitle(_wrap(title or "What TLS costs each client (cluster, interleaved)"), fontsize=10)
    return fig


def _plain_numbers() -> Any:
    """A tick formatter that writes 0.5, 2, 30 rather than 10^0."""
    import matplotlib.pyplot as plt

    return plt.FuncFormatter(lambda value, _: f"{value:g}")


def fault_timelines(trials: list[dict[str, Any]], *, title: str = "") -> Any:
    """One fault: successes per 250 ms on the faulty node (solid) and elsewhere (dotted),
    errors as bars below, one panel per client; the fault at 0 s, the promotion or
    restart marked. Trials of the first repeat only, so each panel is one run."""
    first = {t["client"]: t for t in trials if t.get("repeat") == 0 and t.get("status") == "ok"}
    fig, axes = _figure(2, max(1, len(first)), width=4.6, height=2.6)
    for column, (client, trial) in enumerate(first.items()):
        top, bottom = axes[0][column], axes[1][column]
        colour = CLIENT_COLOURS.get(client, "#555555")
        for part, style in (("victim", "-"), ("elsewhere", ":")):
            rows = trial["timeline"][part]
            top.plot(
                [r["t"] - 0.5 for r in rows], [r["ok"] * 4 for r in rows], style, color=colour, label=part
            )
            bottom.bar(
                [r["t"] - 0.5 for r in rows],
                [r["errors"] + r["wrong"] for r in rows],
                width=0.22,
                color=colour if part == "victim" else "#aaaaaa",
                alpha=0.8,
                label=part,
            )
        for ax in (top, bottom):
            ax.axvline(0, color="black", linewidth=0.8)
            for name, at in trial["marks"].items():
                if name in ("promotion", "restart"):
                    ax.axvline(at, color=MARK, linestyle="--", linewidth=1)
        recovery = trial.get("recovery_s")
        after = (
            f", served {recovery:.2f} s after {'/'.join(k for k in trial['marks'] if k != 'fault')}"
            if recovery is not None
            else ""
        )
        top.set_title(f"{client}: {trial['wrong']} wrong, {trial['errors']} errors{after}", fontsize=8)
        top.set_ylabel("ok ops/s")
        bottom.set_ylabel("errors / 250 ms")
        bottom.set_xlabel("s since the fault (dashed: promotion or restart)")
        top.legend(fontsize=7, loc="lower right")
    fig.suptitle(_wrap(title), fontsize=10)
    return fig


def rss_over_time(trials: list[dict[str, Any]], limit_mb: float, *, title: str = "") -> Any:
    """A fault that is itself the load (the write flood): each client's RSS growth over
    time, one line per run, the peak marked, against the criterion's limit (dashed); the
    flood starts at 0 and ends at the dotted line of its colour."""
    fig, axes = _figure(1, 1, width=8.0, height=4.0)
    ax = axes[0][0]
    labelled: set[str] = set()
    for trial in (t for t in trials if t.get("status") == "ok"):
        client = trial["client"]
        colour = CLIENT_COLOURS.get(client, ROLE_COLOURS["peer"])
        peaks = [t["peak_rss_growth_mb"] for t in trials if t.get("status") == "ok" and t["client"] == client]
        label = None if client in labelled else f"{client} (peak {max(peaks):.0f} MB)"
        labelled.add(client)
        series = trial.get("rss_growth_mb") or []
        if series:
            ax.plot([t for t, _ in series], [mb for _, mb in series], color=colour, label=label)
        end = trial["marks"].get("end")
        if end is not None:  # older records kept only the peak: drawn at the flood's end
            ax.axvline(end, color=colour, linestyle=":", linewidth=1)
            if not series:
                ax.plot([end], [trial["peak_rss_growth_mb"]], "o", color=colour, label=label)
    ax.axhline(limit_mb, color=MARK, linestyle="--", linewidth=1, label=f"criterion: < {limit_mb:g} MB")
    ax.axvline(0, color=MARK, linewidth=0.8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("s since the flood started")
    ax.set_ylabel("client RSS growth, MB")
    ax.legend(fontsize=7)
    fig.suptitle(_wrap(title or "Client memory under the write flood"), fontsize=10)
    return fig


# Flame graph frames are tinted by where their code lives, pale so that role colours keep
# their meaning: our package, Python's standard library, any other package.
FLAME_TINTS = {"ours": "#c6dbef", "stdlib": "#e5e5e5", "other": "#fdf0b4"}


def flame_graph(stacks: dict[str, int], *, title: str = "", min_share: float = 0.002) -> Any:
    """Folded stacks ('function (file);...' -> samples, root first; see
    bench.profiling.fold_stacks) as a flame graph: the root at the bottom, each frame as
    wide as its share of the samples, children ordered by weight, labels where they fit
    (the function's name; its file in the frame's tint). Frames under `min_share` of the
    samples are left out."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    total = sum(stacks.values()) or 1
    tree: dict[tuple[str, ...], int] = Counter()
    for stack, count in stacks.items():
        frames = tuple(stack.split(";"))
        for depth in range(1, len(frames) + 1):
            tree[frames[:depth]] += count
    depth = max((len(path) for path in tree), default=1)
    fig, axes = _figure(1, 1, width=12, height=0.26 * depth + 1.2)
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
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda share, _: f"{share:.0%}"))
    ax.set_xlabel(f"share of {total:,} samples (frames under {min_share:.1%} left out)")
    for spine in ("top", "right", "left"):
        ax.spines[spine].set_visible(False)
    ax.set_title(_wrap(title or "Flame graph", 110), fontsize=9)
    return fig


def _origin(file: str) -> str:
    """Whose code a py-spy file name ('package/module.py', shortened) is: FLAME_TINTS' key."""
    import sys

    top = file.split("/", 1)[0].removesuffix(".py")
    if top == "rediscluster_opt":
        return "ours"
    return "stdlib" if top in sys.stdlib_module_names else "other"


def concurrency_sweep(trials: Any, roles: dict[str, str] | None = None, *, title: str = "") -> Any:
    """Throughput and client CPU per op against concurrency (log scale), one line per
    configuration: the median with min-max whiskers."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    fig, axes = _figure(1, 2, width=5.2, height=3.8)
    for ax, (metric, label) in zip(
        axes[0], (("ops_per_s", "ops/s"), ("client_cpu_us_per_op", "client CPU µs/op")), strict=True
    ):
        styles = line_styles(good["config"], roles or {})
        for config, style in styles.items():
            rows = good[good["config"] == config]
            stats = rows.groupby("concurrency")[metric].agg(["median", "min", "max"]).sort_index()
            ax.errorbar(
                stats.index,
                stats["median"],
                yerr=[stats["median"] - stats["min"], stats["max"] - stats["median"]],
                marker="o",
                capsize=3,
                label=config,
                **style,
            )
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrency (tasks in flight)")
        ax.set_ylabel(label)
        ax.set_xticks(sorted(set(good["concurrency"])))
        ax.set_xticklabels([str(c) for c in sorted(set(good["concurrency"]))])
    axes[0][0].legend(fontsize=7)
    fig.suptitle(_wrap(title or "Throughput and CPU per op by concurrency"), fontsize=10)
    return fig


def cost_waterfall(costs: dict[str, dict[str, float]], *, title: str = "") -> Any:
    """Where each µs of a GET goes, per arm: stacked bars of ns per GET by stage, the same
    stage in the same colour across arms, labelled where a segment is large enough."""
    import matplotlib.pyplot as plt

    arms = list(costs)
    stages = list(dict.fromkeys(stage for arm in arms for stage in costs[arm]))
    # Stages in order along one colour scale (blue to yellow): green and red mean verdicts.
    palette = [plt.get_cmap("cividis")(i / max(1, len(stages) - 1)) for i in range(len(stages))]
    fig, axes = _figure(1, 1, width=8.0, height=0.9 * len(arms) + 1.8)
    ax = axes[0][0]
    left = [0.0] * len(arms)
    for index, stage in enumerate(stages):
        widths = [costs[arm].get(stage, 0.0) / 1000 for arm in arms]
        colour = palette[index]
        ax.barh(arms, widths, left=left, color=colour, label=stage, edgecolor="white")
        ink = "white" if sum(colour[:3]) / 3 < 0.45 else "black"  # readable on a dark segment
        for row, (start, width) in enumerate(zip(left, widths, strict=True)):
            if width >= 0.35:
                ax.text(
                    start + width / 2, row, f"{width:.1f}", ha="center", va="center", fontsize=7, color=ink
                )
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for row, total in enumerate(left):
        ax.text(total, row, f"  {total:.1f} µs", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("µs per GET (in-process, fake server; cProfile shares of the unprofiled time)")
    fig.legend(fontsize=7, loc="outside lower center", ncol=4)
    fig.suptitle(_wrap(title or "Where each µs per GET goes"), fontsize=10)
    return fig


def scaling_curves(
    points: list[dict[str, Any]],
    panels: Sequence[tuple[str, str]],
    *,
    x_label: str,
    references: dict[str, dict[str, float]] | None = None,
    title: str = "",
) -> Any:
    """Cost against the size of the work, log-log: one panel per (metric, y label), one
    line per (client, series), the median with the range of its repeats. Each point is
    {"client", "series", "x", metric: {"median", "low", "high"}}; colours are clients',
    line styles tell series apart. `references`: client -> metric -> a level drawn as a
    dashed line of the client's colour (standalone, for the cluster-size sweep)."""
    fig, axes = _figure(1, len(panels), width=4.6, height=3.8)
    series = list(dict.fromkeys(p["series"] for p in points))
    for ax, (metric, label) in zip(axes[0], panels, strict=True):
        lines = dict.fromkeys((p["client"], p["series"]) for p in points if metric in p)
        for client, name in lines:
            mine = [p for p in points if (p["client"], p["series"]) == (client, name) and metric in p]
            drawn = sorted(mine, key=lambda p: p["x"])
            xs = [p["x"] for p in drawn]
            medians = [p[metric]["median"] for p in drawn]
            ax.errorbar(
                xs,
                medians,
                yerr=[
                    [m - p[metric]["low"] for m, p in zip(medians, drawn, strict=True)],
                    [p[metric]["high"] - m for m, p in zip(medians, drawn, strict=True)],
                ],  # fmt: skip
                marker="o",
                capsize=3,
                color=CLIENT_COLOURS.get(client, ROLE_COLOURS["peer"]),
                linestyle=("-", "--", ":", "-.")[series.index(name) % 4],
                label=f"{client} {name}".strip(),
            )
        for client, levels in (references or {}).items():
            if metric in levels:
                ax.axhline(levels[metric], color=CLIENT_COLOURS.get(client, ROLE_COLOURS["peer"]),
                           linestyle=(0, (2, 2)), linewidth=1, label=f"{client} standalone")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(label)
        ticks = sorted({p["x"] for p in points})
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7)
        ax.minorticks_off()
    axes[0][0].legend(fontsize=6)
    fig.suptitle(_wrap(title or f"Cost by {x_label}"), fontsize=10)
    return fig
