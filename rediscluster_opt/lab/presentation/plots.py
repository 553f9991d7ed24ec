"""matplotlib figures drawn from the frames of `lab.frame` and from story data.

Every figure that shows trials keeps modes and concurrencies apart (one panel per cell),
colours bars by role, and names its workload in the title.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ROLE_COLOURS",
    "bars_by_role",
    "blocks_per_command",
    "latency_percentiles",
    "line_profile_bars",
    "migration_timeline",
    "fault_timelines",
    "profile_costs",
    "concurrency_sweep",
    "cost_waterfall",
    "rest_bars",
    "slot_hash_ns",
    "tls_cost",
    "verdicts",
    "writes_per_command",
]

ROLE_COLOURS = {
    "before": "#8c8c8c",
    "A/A": "#c7c7c7",
    "after": "#1f77b4",
    "isolated": "#9ecae1",
    "variant": "#ff7f0e",
    "peer": "#2ca02c",
    "calibration": "#525252",
}
DPI = 150


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


def _role_legend(fig: Any, used: set[str]) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(color=colour, label=role) for role, colour in ROLE_COLOURS.items() if role in used]
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8)


def latency_percentiles(trials: Any, *, title: str = "") -> Any:
    """One panel per (mode, concurrency): p50/p90/p99/p99.9 per configuration, the median
    over trials as a line and the min-max over trials as a band; log scale."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    cells = _cells(trials)
    fig, axes = _figure(1, max(1, len(cells)))
    columns = ["p50_us", "p90_us", "p99_us", "p99.9_us"]
    names = [c[:-3] for c in columns]
    for index, (mode, level) in enumerate(cells):
        ax = axes[0][index]
        cell = good[(good["mode"] == mode) & (good["concurrency"] == level)]
        for label, group in cell.groupby("config", sort=False):
            line = ax.plot(names, group[columns].median().values, marker="o", label=str(label))[0]
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
    """Each ratio criterion as a point with its interval, its threshold as a tick, and
    the A/A band (the threshold scaled by the control's interval) shaded behind it."""
    ratio_rows = [r for r in rows if r["effect"] and r["effect"]["median"] > 0 and r["threshold"] > 0]
    fig, axes = _figure(1, 1, width=10, height=0.55 * max(3, len(ratio_rows)) + 1.2)
    ax = axes[0][0]
    colours = {"met": "#2ca02c", "NOT met": "#d62728", "inconclusive": "#ff7f0e", "indicative": "#9467bd"}
    for y, row in enumerate(ratio_rows):
        effect, threshold = row["effect"], row["threshold"]
        if row["control"]:
            low, high = min(row["control"]["low"], 1.0), max(row["control"]["high"], 1.0)
            ax.fill_betweenx([y - 0.4, y + 0.4], threshold * low, threshold * high, color="#dddddd")
        ax.plot([threshold, threshold], [y - 0.4, y + 0.4], color="black", linewidth=1)
        ax.errorbar(
            [effect["median"]],
            [y],
            xerr=[[effect["median"] - effect["low"]], [effect["high"] - effect["median"]]],
            fmt="o",
            color=colours.get(row["verdict"], "grey"),
            capsize=3,
        )
    ax.set_yticks(range(len(ratio_rows)))
    ax.set_yticklabels([_wrap(f"{r['criterion']} ({r['verdict']})", 60) for r in ratio_rows], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("measured (log scale); black tick = threshold, grey band = A/A noise around it")
    ax.set_title(_wrap(title or "Verdicts", 80), fontsize=10)
    return fig


def profile_costs(profile: Any, ops: dict[str, float], *, top: int = 10, title: str = "") -> Any:
    """Own time per completed operation (ns) of the top cost centres, qualified names
    (`JoinWriter.send`), one bar per profiled configuration."""
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
    mean = frame.groupby(["config", name])["ns_per_op"].mean().reset_index()
    leaders = mean.groupby(name)["ns_per_op"].max().nlargest(top).index
    table = mean[mean[name].isin(leaders)].pivot(index=name, columns="config", values="ns_per_op")
    table.loc[leaders].plot.barh(ax=ax)
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_xlabel("own time per completed operation, ns (cProfile; profiled runs are slower)")
    ax.set_ylabel("")
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
        )
    ax.axhline(1000, color="red", linestyle="--", label="1 µs (PRD)")
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
    ax.bar([r["variant"] for r in rows], [r["blocks_per_command"] for r in rows], color="#1f77b4")
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
    panel per stage set, the move marked."""
    fig, axes = _figure(2, max(1, len(migrations)), width=5.5, height=3)
    for column, (role, run) in enumerate(migrations.items()):
        points = run.get("timeline") or []
        top, bottom = axes[0][column], axes[1][column]
        times = [p["t_s"] for p in points[1:]]
        rates = [
            (b["ops"] - a["ops"]) / max(1e-9, b["t_s"] - a["t_s"])
            for a, b in zip(points, points[1:], strict=False)
        ]
        top.plot(times, rates)
        top.set_ylabel("ops/s")
        top.set_title(f"{role}: {run['wrong']} wrong, {run['errors']} errors", fontsize=9)
        bottom.plot([p["t_s"] for p in points], [p["ask"] for p in points], label="ASK", color="#1f77b4")
        bottom.set_ylabel("ASK (cumulative)", color="#1f77b4")
        moved = bottom.twinx()  # MOVED counts are few: their own axis keeps them visible
        moved.plot([p["t_s"] for p in points], [p["moved"] for p in points], label="MOVED", color="#d62728")
        moved.set_ylabel("MOVED (cumulative)", color="#d62728")
        bottom.set_xlabel("s since the callers started")
        for ax in (top, bottom):
            if "move_started_s" in run:
                ax.axvspan(run["move_started_s"], run["move_ended_s"], color="#ffdd99", alpha=0.5)
    fig.suptitle(_wrap(title or "Live slot migration (shaded: the slot is moving)"), fontsize=10)
    return fig


def rest_bars(rest_table: list[dict[str, Any]], *, title: str = "") -> Any:
    """req/s per scenario and backend, standalone beside cluster, with the drop written."""
    import numpy as np

    scenarios = list(dict.fromkeys(r["scenario"] for r in rest_table))
    fig, axes = _figure(1, max(1, len(scenarios)), width=4.2, height=3.8)
    for index, scenario in enumerate(scenarios):
        ax = axes[0][index]
        rows = [r for r in rest_table if r["scenario"] == scenario]
        x = np.arange(len(rows))
        standalone = [r["standalone_req_s"] or 0 for r in rows]
        cluster = [r["cluster_req_s"] or 0 for r in rows]
        ax.bar(x - 0.2, standalone, 0.4, label="standalone", color="#9ecae1")
        ax.bar(x + 0.2, cluster, 0.4, label="cluster", color="#1f77b4")
        for i, r in enumerate(rows):
            if r["drop"] is not None:
                ax.annotate(f"{r['drop']:+.0%}", (i + 0.2, cluster[i]), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(x)
        ax.set_xticklabels([r["config"] for r in rows], rotation=25, ha="right", fontsize=7)
        ax.set_title(scenario, fontsize=9)
        ax.set_ylabel("req/s (median)")
    axes[0][0].legend(fontsize=7)
    fig.suptitle(
        _wrap(title or "REST scenarios: standalone vs cluster (label: standalone->cluster drop)"), fontsize=10
    )
    return fig


def tls_cost(measured: dict[str, Any], *, title: str = "") -> Any:
    """TLS / plain per client: throughput and client CPU per op, median with the interval
    as whiskers; 1.0 (no cost) is marked."""
    clients = [k.split(".")[1] for k in measured if k.startswith("tls.") and k.endswith(".throughput")]
    fig, axes = _figure(1, 2, width=5.0, height=3.6)
    for ax, (metric, label) in zip(
        axes[0], (("throughput", "throughput"), ("cpu", "client CPU per op")), strict=True
    ):
        cells = [measured.get(f"tls.{c}.{metric}") for c in clients]
        shown = [(c, cell) for c, cell in zip(clients, cells, strict=True) if cell is not None]
        medians = [cell.median for _, cell in shown]
        errors = [
            [cell.median - cell.low for _, cell in shown],
            [cell.high - cell.median for _, cell in shown],
        ]
        colours = [CLIENT_COLOURS.get(c, "#7f7f7f") for c, _ in shown]
        ax.bar(
            range(len(shown)),
            medians,
            yerr=errors,
            color=colours,
            capsize=4,
            edgecolor="black",
            linewidth=0.5,
        )
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([c for c, _ in shown], rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{label}: TLS / plain", fontsize=9)
    fig.suptitle(_wrap(title or "What TLS costs each client (cluster, interleaved)"), fontsize=10)
    return fig


CLIENT_COLOURS = {"ours": "#1f77b4", "redis-py": "#d62728", "valkey-glide": "#2ca02c", "coredis": "#9467bd"}


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
                    ax.axvline(at, color="#ff7f0e", linestyle="--", linewidth=1)
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


def concurrency_sweep(trials: Any, *, title: str = "") -> Any:
    """Throughput and client CPU per op against concurrency (log scale), one line per
    configuration: the median with min-max whiskers."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    fig, axes = _figure(1, 2, width=5.2, height=3.8)
    for ax, (metric, label) in zip(
        axes[0], (("ops_per_s", "ops/s"), ("client_cpu_us_per_op", "client CPU µs/op")), strict=True
    ):
        for config in dict.fromkeys(good["config"]):
            rows = good[good["config"] == config]
            stats = rows.groupby("concurrency")[metric].agg(["median", "min", "max"]).sort_index()
            ax.errorbar(
                stats.index,
                stats["median"],
                yerr=[stats["median"] - stats["min"], stats["max"] - stats["median"]],
                marker="o",
                capsize=3,
                label=config,
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
    palette = plt.get_cmap("tab20").colors
    fig, axes = _figure(1, 1, width=8.0, height=0.9 * len(arms) + 1.8)
    ax = axes[0][0]
    left = [0.0] * len(arms)
    for index, stage in enumerate(stages):
        widths = [costs[arm].get(stage, 0.0) / 1000 for arm in arms]
        ax.barh(arms, widths, left=left, color=palette[index % len(palette)], label=stage, edgecolor="white")
        for row, (start, width) in enumerate(zip(left, widths, strict=True)):
            if width >= 0.35:
                ax.text(start + width / 2, row, f"{width:.1f}", ha="center", va="center", fontsize=7)
        left = [a + b for a, b in zip(left, widths, strict=True)]
    for row, total in enumerate(left):
        ax.text(total, row, f"  {total:.1f} µs", va="center", fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("µs per GET (in-process, fake server; cProfile shares of the unprofiled time)")
    fig.legend(fontsize=7, loc="outside lower center", ncol=4)
    fig.suptitle(_wrap(title or "Where each µs per GET goes"), fontsize=10)
    return fig
