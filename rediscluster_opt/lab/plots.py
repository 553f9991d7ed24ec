"""matplotlib figures drawn straight from the frames of `lab.frame`."""

from __future__ import annotations

from typing import Any

__all__ = ["before_after", "latency_percentiles", "line_profile_bars", "profile_shares", "throughput"]


def _axes(ax: Any, figsize: tuple[float, float] = (8, 4)) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, constrained_layout=True)[1]


def throughput(trials: Any, *, by: str = "config", hue: str = "mode", ax: Any = None, title: str = "") -> Any:
    """Median ops/s per `by` (bars, one group per `hue`), whiskers from min to max, every
    trial as a dot."""
    import numpy as np

    ax = _axes(ax)
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    groups = list(dict.fromkeys(good[by]))
    hues = list(dict.fromkeys(good[hue]))
    width = 0.8 / max(1, len(hues))
    for h_index, h in enumerate(hues):
        subset = good[good[hue] == h]
        stats = subset.groupby(by)["ops_per_s"].agg(["median", "min", "max"]).reindex(groups)
        x = np.arange(len(groups)) + h_index * width
        ax.bar(x, stats["median"], width, label=str(h), alpha=0.8)
        ax.errorbar(x, stats["median"], yerr=[stats["median"] - stats["min"], stats["max"] - stats["median"]],
                    fmt="none", ecolor="black", capsize=3)  # fmt: skip
        for i, g in enumerate(groups):
            points = subset[subset[by] == g]["ops_per_s"]
            ax.scatter([x[i]] * len(points), points, s=8, color="black", zorder=3)
    ax.set_xticks(np.arange(len(groups)) + width * (len(hues) - 1) / 2)
    ax.set_xticklabels(groups, rotation=20, ha="right")
    ax.set_ylabel("ops/s (median, min-max)")
    ax.set_title(title or "Throughput")
    ax.legend(title=hue)
    return ax


def latency_percentiles(trials: Any, *, by: str = "config", ax: Any = None, title: str = "") -> Any:
    """Median latency at p50/p90/p99/p99.9 per `by`, on a log scale."""
    ax = _axes(ax)
    good = trials[(trials["status"] == "ok") & trials["valid"]]
    columns = ["p50_us", "p90_us", "p99_us", "p99.9_us"]
    for label, group in good.groupby(by, sort=False):
        ax.plot([c[:-3] for c in columns], group[columns].median().values, marker="o", label=str(label))
    ax.set_yscale("log")
    ax.set_ylabel("latency, µs (median over trials)")
    ax.set_title(title or "Latency percentiles")
    ax.legend(fontsize="small")
    return ax


def before_after(trials: Any, before: str, after: str, *, ax: Any = None, title: str = "") -> Any:
    """Throughput of two configs side by side per mode, with the ratio of their medians
    written above each pair."""
    pair = trials[trials["config"].isin([before, after])]
    ax = throughput(pair, by="mode", hue="config", ax=ax, title=title or f"{before} -> {after}")
    good = pair[(pair["status"] == "ok") & pair["valid"]]
    medians = good.groupby(["mode", "config"])["ops_per_s"].median()
    for index, mode in enumerate(dict.fromkeys(good["mode"])):
        if (mode, before) in medians and (mode, after) in medians:
            ratio = medians[(mode, after)] / medians[(mode, before)]
            top = max(medians[(mode, before)], medians[(mode, after)])
            ax.annotate(f"x{ratio:.2f}", (index + 0.2, top), ha="center", va="bottom")
    return ax


def profile_shares(profile: Any, *, top: int = 10, ax: Any = None, title: str = "") -> Any:
    """Share of own time of the top cost centres, one bar group per config."""
    ax = _axes(ax, (8, 5))
    if profile.empty:
        ax.set_title("no profile data")
        return ax
    mean = profile.groupby(["config", "function"])["own_share"].mean().reset_index()
    leaders = mean.groupby("function")["own_share"].max().nlargest(top).index
    table = mean[mean["function"].isin(leaders)].pivot(index="function", columns="config", values="own_share")
    table.loc[leaders].plot.barh(ax=ax)
    ax.invert_yaxis()
    ax.set_xlabel("share of own time")
    ax.set_title(title or f"Top {top} cost centres (cProfile)")
    return ax


def line_profile_bars(lines: Any, *, top: int = 12, ax: Any = None, title: str = "") -> Any:
    """The most expensive lines (summed time over trials) of the profiled functions."""
    ax = _axes(ax, (9, 5))
    if lines.empty:
        ax.set_title("no line-profile data")
        return ax
    grouped = lines.groupby(["config", "function", "line", "code"])["time_s"].sum().nlargest(top)
    labels = [f"{c} | {f}:{n} {code.strip()[:40]}" for c, f, n, code in grouped.index]
    ax.barh(labels, grouped.values)
    ax.invert_yaxis()
    ax.set_xlabel("time, s (line_profiler)")
    ax.set_title(title or f"Top {top} lines")
    ax.tick_params(axis="y", labelsize=7)
    return ax
