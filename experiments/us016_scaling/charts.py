"""The figures only this story draws (plots.py has the shared ones and the colours)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rediscluster_opt.lab.presentation import plots

__all__ = ["scaling_curves"]


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
    fig, axes = plots.figure(1, len(panels), width=4.6, height=3.8)
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
                color=plots.CLIENT_COLOURS.get(client, plots.ROLE_COLOURS["peer"]),
                linestyle=("-", "--", ":", "-.")[series.index(name) % 4],
                label=f"{client} {name}".strip(),
            )
        for client, levels in (references or {}).items():
            if metric in levels:
                ax.axhline(levels[metric], color=plots.CLIENT_COLOURS.get(client, plots.ROLE_COLOURS["peer"]),
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
    fig.suptitle(plots.wrap(title or f"Cost by {x_label}"), fontsize=10)
    return fig
