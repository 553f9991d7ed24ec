"""The figures only this story draws (plots.py has the shared ones and the colours)."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.lab.presentation import plots

__all__ = ["rest_bars", "tls_cost"]


def rest_bars(
    rest_table: list[dict[str, Any]], roles: dict[str, str] | None = None, *, title: str = ""
) -> Any:
    """req/s per scenario and backend: standalone (hatched, lighter) beside cluster, each
    bar the median over the repeats with min-max whiskers, coloured by the backend's role;
    above each pair, how much throughput the backend loses from standalone to cluster."""
    import numpy as np

    roles = roles or {}
    scenarios = list(dict.fromkeys(r["scenario"] for r in rest_table))
    fig, axes = plots.figure(1, max(1, len(scenarios)), width=4.4, height=4.0)
    for index, scenario in enumerate(scenarios):
        ax = axes[0][index]
        rows = [r for r in rest_table if r["scenario"] == scenario]
        x = np.arange(len(rows))
        colours = [
            plots.ROLE_COLOURS.get(roles.get(r["config"], r["config"]), plots.ROLE_COLOURS["variant"])
            for r in rows
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
            ax.bar(x + offset, medians, 0.4, yerr=whiskers, capsize=2, color=colours, edgecolor=plots.MARK,
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
        plots.wrap(title or "REST scenarios: standalone vs cluster; 'drop' is the throughput lost from standalone "
              "to cluster"), fontsize=10,
    )  # fmt: skip
    return fig


def tls_cost(measured: dict[str, Any], *, title: str = "") -> Any:
    """TLS / plain per client: throughput and client CPU per op, median with the interval
    as whiskers and written on the bar, on log axes (one client's cost may be 30 times
    another's); 1.0, no cost, is marked."""
    clients = [k.split(".")[1] for k in measured if k.startswith("tls.") and k.endswith(".throughput")]
    fig, axes = plots.figure(1, 2, width=5.0, height=3.8)
    for ax, (metric, label) in zip(
        axes[0], (("throughput", "throughput"), ("cpu", "client CPU per op")), strict=True
    ):
        shown = [(c, cell) for c in clients if (cell := measured.get(f"tls.{c}.{metric}")) is not None]
        medians = [cell.median for _, cell in shown]
        errors = [
            [cell.median - cell.low for _, cell in shown],
            [cell.high - cell.median for _, cell in shown],
        ]
        colours = [plots.CLIENT_COLOURS.get(c, plots.ROLE_COLOURS["peer"]) for c, _ in shown]
        ax.bar(
            range(len(shown)),
            medians,
            yerr=errors,
            color=colours,
            capsize=4,
            edgecolor=plots.MARK,
            linewidth=0.5,
        )
        for i, (_, cell) in enumerate(shown):
            ax.annotate(f"{cell.median:.2f}", (i, cell.high), ha="center", va="bottom", fontsize=7)
        ax.axhline(1.0, color=plots.MARK, linestyle="--", linewidth=1)
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plots.plain_numbers())
        ax.set_xticks(range(len(shown)))
        ax.set_xticklabels([c for c, _ in shown], rotation=20, ha="right", fontsize=8)
        ax.set_title(f"{label}: TLS / plain (log scale)", fontsize=9)
    fig.suptitle(plots.wrap(title or "What TLS costs each client (cluster, interleaved)"), fontsize=10)
    return fig
