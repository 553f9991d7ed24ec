"""The figures only this story draws (plots.py has the shared ones and the colours)."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.lab.presentation import plots

__all__ = ["concurrency_sweep", "cost_waterfall"]


def concurrency_sweep(trials: Any, roles: dict[str, str] | None = None, *, title: str = "") -> Any:
    """Throughput and client CPU per op against concurrency (log scale), one line per
    configuration: the median with min-max whiskers."""
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    fig, axes = plots.figure(1, 2, width=5.2, height=3.8)
    for ax, (metric, label) in zip(
        axes[0], (("ops_per_s", "ops/s"), ("client_cpu_us_per_op", "client CPU µs/op")), strict=True
    ):
        styles = plots.line_styles(good["config"], roles or {})
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
    fig.suptitle(plots.wrap(title or "Throughput and CPU per op by concurrency"), fontsize=10)
    return fig


def cost_waterfall(costs: dict[str, dict[str, float]], *, title: str = "") -> Any:
    """Where each µs of a GET goes, per arm: stacked bars of ns per GET by stage, the same
    stage in the same colour across arms, labelled where a segment is large enough."""
    import matplotlib.pyplot as plt

    arms = list(costs)
    stages = list(dict.fromkeys(stage for arm in arms for stage in costs[arm]))
    # Stages in order along one colour scale (blue to yellow): green and red mean verdicts.
    palette = [plt.get_cmap("cividis")(i / max(1, len(stages) - 1)) for i in range(len(stages))]
    fig, axes = plots.figure(1, 1, width=8.0, height=0.9 * len(arms) + 1.8)
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
    fig.suptitle(plots.wrap(title or "Where each µs per GET goes"), fontsize=10)
    return fig
