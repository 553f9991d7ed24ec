"""Acceptance criteria as data, and their evaluation against measured figures.

A story declares its criteria (text, metric, comparison, threshold, source); running it
yields `measured`: metric name -> `Interval`. Evaluation is the same for every story:
the effect's interval against the threshold, widened by the metric's A/A control where
one exists (see `results.stats.verdict`). A criterion whose metric was not measured says
so; it is never met by default. One the run could not measure on its target (a migration
a foreign cluster does not allow, a comparison with no standalone server) is "skipped"
with the reason. Facts that are only recorded (a baseline figure, a
profile's top 5) are `Recorded` items, listed apart and never counted as met.

A criterion only counts when it discriminates: one the "before" configuration (or the
A/A twin standing in for it) meets as well is "holds before too", and a latency criterion
that only restates throughput (p50 in a closed loop is about connections / rate) is shown
but not counted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..results.stats import COMPARISONS, VERDICTS, Interval, clears, equivalence_band, noise_band, verdict

__all__ = [
    "HOLDS_BEFORE",
    "RESTATED",
    "STATES",
    "VERDICT_COLUMNS",
    "Criterion",
    "Recorded",
    "evaluate",
    "headline",
    "recorded",
    "skip_reason",
    "tally",
    "verdict_rows",
]

SOURCES = ("PRD", "project target")
HOLDS_BEFORE = "holds before too"  # the before configuration meets it as well: not evidence
RESTATED = "restates another"  # shown with its verdict, counted under the figure it restates
STATES = (*VERDICTS, HOLDS_BEFORE, "skipped", RESTATED)  # what `tally` counts


@dataclass(frozen=True)
class Criterion:
    """`metric` names an entry of the story's measured figures; `control` names the A/A
    interval of the same kind of figure (None for deterministic counts, which have no
    run-to-run noise). `headline` marks the throughput and CPU-per-op verdicts, of which
    the one on the steadier metric leads the story's summary."""

    text: str
    metric: str
    comparison: str
    threshold: float
    source: str
    control: str | None = None
    fmt: str = "{:.2f}"
    headline: bool = False
    needs: str = ""  # what the figure needs beyond a plain run (e.g. "cachegrind"), said when missing
    # The same figure with the "before" configuration (or its A/A twin) in place of the
    # "after": when its whole interval clears the threshold too, the criterion does not
    # tell before from after and is "holds before too".
    before: str | None = None
    additive: bool = False  # the threshold is a difference, and `control` an A/A difference
    restates: str = ""  # the figure this criterion only restates (e.g. "throughput"): not counted
    unit: str = "ratio"  # what the figure counts: verdict plots draw one panel per unit
    # A stated negligible band (0.05: no effect beyond +-5 %): an interval wholly inside it
    # (widened by the control) is "equivalent", the answer "it does not matter".
    equivalence: float | None = None

    def __post_init__(self) -> None:
        if self.comparison not in COMPARISONS:
            raise ValueError(f"criterion {self.text!r}: unknown comparison {self.comparison!r}")
        if self.source not in SOURCES:
            raise ValueError(f"criterion {self.text!r}: source must be one of {SOURCES}")
        if self.equivalence is not None and not 0 < self.equivalence < 1:
            raise ValueError(
                f"criterion {self.text!r}: equivalence is a band such as 0.05, not {self.equivalence}"
            )


@dataclass(frozen=True)
class Recorded:
    """A figure the story records and shows, with no threshold to meet."""

    text: str
    metric: str
    fmt: str = "{:,.0f}"
    needs: str = ""  # what the figure needs beyond a plain run, said when it is missing


def skip_reason(metric: str, skipped: Mapping[str, str]) -> str | None:
    """Why `metric` was skipped: its own entry, or one for a prefix ending in '.'."""
    return next((why for key, why in skipped.items() if metric == key or metric.startswith(key + ".")), None)


def _shown(value: Interval | None, fmt: str, skipped_because: str | None, needs: str) -> str:
    """How a figure reads in a table: its interval, why this target skipped it, or that
    it was not measured (and what it needs)."""
    if value is not None:
        return value.text(fmt)
    if skipped_because:
        return f"skipped: {skipped_because}"
    return "not measured" + (f" (needs {needs})" if needs else "")


def _met_by_both(c: Criterion, effect: Interval | None, before: Interval, control: Interval | None) -> bool:
    """Whether the effect clears the criterion's noise band and the before figure clears
    the bare threshold too: then the criterion does not tell before from after (however
    few the pairs, which is why an indicative verdict is checked as well)."""
    band = noise_band(c.threshold, control, c.additive)
    return (
        effect is not None
        and clears(effect, c.comparison, *band)
        and clears(before, c.comparison, c.threshold, c.threshold)
    )


def evaluate(
    criteria: Iterable[Criterion],
    measured: Mapping[str, Interval | None],
    skipped: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """`skipped`: metric (or metric prefix) -> why the run left it out."""
    rows = []
    for c in criteria:
        effect = measured.get(c.metric)
        control = measured.get(c.control) if c.control else None
        before = measured.get(c.before) if c.before else None
        state = verdict(
            effect, c.comparison, c.threshold, control, additive=c.additive, equivalence=c.equivalence
        )
        if before is not None and state in ("met", "indicative") and _met_by_both(c, effect, before, control):
            state = HOLDS_BEFORE
        why = skip_reason(c.metric, skipped or {}) if effect is None else None
        if why is not None:
            state = "skipped"
        rows.append(
            {
                "criterion": c.text,
                "metric": c.metric,
                "comparison": c.comparison,
                "threshold": c.threshold,
                "source": c.source,
                "headline": c.headline,
                "effect": effect.as_dict() if effect else None,
                "control": control.as_dict() if control else None,
                "control_metric": c.control or "",
                "additive": c.additive,
                "unit": c.unit,
                "measured": _shown(effect, c.fmt, why, c.needs),
                "interval": effect.label if effect else "",
                "needs": why or c.needs,
                "aa": control.text(c.fmt if c.additive else "{:.2f}") if control else "",
                "before": before.text(c.fmt) if before else "",
                "restates": c.restates,
                "verdict": state,
                "met": state == "met",
                "equivalence": _band_text(c, control) if c.equivalence is not None else "",
            }
        )
    return rows


def _band_text(c: Criterion, control: Interval | None) -> str:
    """The negligible band as a reader takes it: "+-5 %", and with the A/A noise it was
    widened by on this run, "(0.93-1.08 with the A/A)"."""
    assert c.equivalence is not None
    low, high = equivalence_band(c.equivalence, control, c.additive)
    stated = f"+-{c.equivalence:.0%}"
    if control is None:
        return stated
    return (
        f"{stated} ({low:.2f}–{high:.2f} with the A/A)"
        if not c.additive
        else f"{stated} ({low:+.2f}–{high:+.2f})"
    )


def recorded(
    items: Iterable[Recorded],
    measured: Mapping[str, Interval | None],
    skipped: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    out = []
    for item in items:
        value = measured.get(item.metric)
        why = skip_reason(item.metric, skipped or {}) if value is None else None
        out.append(
            {
                "item": item.text,
                "metric": item.metric,
                "value": value.as_dict() if value else None,
                "measured": _shown(value, item.fmt, why, item.needs),
                "needs": why or item.needs,
            }
        )
    return out


VERDICT_COLUMNS = ("criterion", "source", "needs", "measured", "interval", "A/A", "before", "verdict")


def verdict_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Evaluated criteria as table rows (VERDICT_COLUMNS), for the notebook and summary.md:
    one that restates another figure says so beside its verdict."""
    return [
        {
            "criterion": r["criterion"],
            "source": r["source"],
            "needs": f"{r['comparison']} {r['threshold']:g}",
            "measured": r["measured"],
            "interval": r.get("interval") or "-",
            "A/A": r["aa"] or "-",
            "before": r.get("before") or "-",
            "verdict": r["verdict"]
            + (f": no effect beyond {r['equivalence']}" if r["verdict"] == "equivalent" else "")
            + (f" (restates {r['restates']})" if r.get("restates") else ""),
        }
        for r in rows
    ]


def tally(rows: list[dict[str, Any]]) -> dict[str, int]:
    """Criteria per state; one that restates another figure counts under RESTATED, not
    under its verdict."""
    counts = dict.fromkeys(STATES, 0)
    for row in rows:
        counts[RESTATED if row.get("restates") else row["verdict"]] += 1
    return counts


def headline(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The story's lead verdict: among the headline criteria, the one whose A/A control
    is narrowest (the steadier metric on this machine); the first headline criterion when
    none has a control."""
    leads = [r for r in rows if r["headline"]]
    if not leads:
        return None
    with_control = [r for r in leads if r["control"]]
    if not with_control:
        return leads[0]
    return min(with_control, key=lambda r: Interval(**r["control"]).width)
