"""The figures only this story draws (plots.py has the shared ones and the colours)."""

from __future__ import annotations

from typing import Any

from rediscluster_opt.lab.presentation import plots

__all__ = ["fault_timelines", "rss_over_time"]


def fault_timelines(trials: list[dict[str, Any]], *, title: str = "") -> Any:
    """One fault: successes per 250 ms on the faulty node (solid) and elsewhere (dotted),
    errors as bars below, one panel per client; the fault at 0 s, the promotion or
    restart marked. Trials of the first repeat only, so each panel is one run."""
    first = {t["client"]: t for t in trials if t.get("repeat") == 0 and t.get("status") == "ok"}
    fig, axes = plots.figure(2, max(1, len(first)), width=4.6, height=2.6)
    for column, (client, trial) in enumerate(first.items()):
        top, bottom = axes[0][column], axes[1][column]
        colour = plots.CLIENT_COLOURS.get(client, "#555555")
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
                    ax.axvline(at, color=plots.MARK, linestyle="--", linewidth=1)
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
    fig.suptitle(plots.wrap(title), fontsize=10)
    return fig


def rss_over_time(trials: list[dict[str, Any]], limit_mb: float, *, title: str = "") -> Any:
    """A fault that is itself the load (the write flood): each client's RSS growth over
    time, one line per run, the peak marked, against the criterion's limit (dashed); the
    flood starts at 0 and ends at the dotted line of its colour."""
    fig, axes = plots.figure(1, 1, width=8.0, height=4.0)
    ax = axes[0][0]
    labelled: set[str] = set()
    for trial in (t for t in trials if t.get("status") == "ok"):
        client = trial["client"]
        colour = plots.CLIENT_COLOURS.get(client, plots.ROLE_COLOURS["peer"])
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
    ax.axhline(limit_mb, color=plots.MARK, linestyle="--", linewidth=1, label=f"criterion: < {limit_mb:g} MB")
    ax.axvline(0, color=plots.MARK, linewidth=0.8)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("s since the flood started")
    ax.set_ylabel("client RSS growth, MB")
    ax.legend(fontsize=7)
    fig.suptitle(plots.wrap(title or "Client memory under the write flood"), fontsize=10)
    return fig


# Flame graph frames are tinted by where their code lives, pale so that role colours keep
# their meaning: our package, Python's standard library, any other package.
