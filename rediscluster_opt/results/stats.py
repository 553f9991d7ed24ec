"""Paired statistics and three-state verdicts.

An A-vs-B comparison is a list of ratios, one per interleaved repeat (A and B ran seconds
apart, so machine drift cancels within a pair). It is summarised by the median ratio and a
95 % interval: a bootstrap over the pairs when there are at least `MIN_BOOTSTRAP` of them,
otherwise the exact min-max, labelled as such (a bootstrap of three numbers says nothing
the three numbers do not).

A verdict compares an interval with a threshold, widened by the A/A control's spread (the
same configuration run as two arms): an effect only counts when it clears both the
threshold and the noise the control shows. The states follow `pyperf compare_to` and
`asv compare`: met, NOT met, inconclusive; "not measured" when there is no figure.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "COMPARISONS",
    "MIN_BOOTSTRAP",
    "Interval",
    "VERDICTS",
    "interval",
    "ratio_of_medians",
    "verdict",
]

MIN_BOOTSTRAP = 5
CONFIDENCE = 0.95
RESAMPLES = 4000
VERDICTS = ("met", "NOT met", "inconclusive", "not measured")
COMPARISONS = (">=", ">", "<=", "<")


@dataclass(frozen=True)
class Interval:
    """A median with the interval around it. `method` says how the interval was made:
    'bootstrap 95%', 'min-max' (fewer than MIN_BOOTSTRAP samples) or 'exact' (one
    deterministic figure, e.g. an instruction count)."""

    median: float
    low: float
    high: float
    n: int
    method: str

    @property
    def width(self) -> float:
        """Relative width, (high - low) / median: how noisy the figure is."""
        return (self.high - self.low) / abs(self.median) if self.median else float("inf")

    def text(self, fmt: str = "{:.2f}") -> str:
        if self.method == "exact":
            return fmt.format(self.median)
        return f"{fmt.format(self.median)} [{fmt.format(self.low)}–{fmt.format(self.high)}]"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Interval | None:
        return cls(**data) if data else None

    @classmethod
    def exact(cls, value: float) -> Interval:
        return cls(value, value, value, 1, "exact")


def interval(values: Sequence[float], *, seed: int = 0) -> Interval | None:
    """Median of `values` with a 95 % percentile-bootstrap interval of the median, or the
    min-max below MIN_BOOTSTRAP values. The bootstrap is seeded, so a record always
    yields the same interval. None for no values."""
    data = [float(v) for v in values if v is not None]
    if not data:
        return None
    median = statistics.median(data)
    if len(data) < MIN_BOOTSTRAP:
        return Interval(median, min(data), max(data), len(data), "min-max")
    import numpy as np

    low, high = _central(_resampled_medians(data, np.random.default_rng(seed)))
    return Interval(median, low, high, len(data), f"bootstrap {CONFIDENCE:.0%}")


def ratio_of_medians(
    numerator: Sequence[float], denominator: Sequence[float], *, seed: int = 0
) -> Interval | None:
    """median(numerator) / median(denominator) for two independent samples (two runs,
    say), with a 95 % interval from resampling each sample on its own; min-max of the
    ratio's extremes when either has fewer than MIN_BOOTSTRAP values."""
    a = [float(v) for v in numerator if v is not None]
    b = [float(v) for v in denominator if v is not None and v]
    if not a or not b:
        return None
    point = statistics.median(a) / statistics.median(b)
    n = min(len(a), len(b))
    if n < MIN_BOOTSTRAP:
        return Interval(point, min(a) / max(b), max(a) / min(b), n, "min-max")
    import numpy as np

    rng = np.random.default_rng(seed)
    low, high = _central(_resampled_medians(a, rng) / _resampled_medians(b, rng))
    return Interval(point, low, high, n, f"bootstrap {CONFIDENCE:.0%}")


def _resampled_medians(values: Sequence[float], rng: Any) -> Any:
    """The medians of RESAMPLES resamples (with replacement) of `values`."""
    import numpy as np

    sample = np.asarray(values)
    return np.median(sample[rng.integers(0, len(sample), size=(RESAMPLES, len(sample)))], axis=1)


def _central(estimates: Any) -> tuple[float, float]:
    """The central CONFIDENCE range of bootstrap estimates (percentile method)."""
    import numpy as np

    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(estimates, [tail, 100 - tail])
    return float(low), float(high)


def verdict(
    effect: Interval | None, comparison: str, threshold: float, control: Interval | None = None
) -> str:
    """'met' when the whole interval clears the threshold by more than the control's
    spread, 'NOT met' when the whole interval misses it by more than that spread,
    'inconclusive' otherwise, 'not measured' without an effect.

    The control is an A/A ratio (ideally 1.0); its interval, stretched to include 1.0,
    scales the threshold into a band [threshold * low, threshold * high] that the effect
    must clear."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}; choose one of {', '.join(COMPARISONS)}")
    if effect is None:
        return "not measured"
    low_factor = min(control.low, 1.0) if control else 1.0
    high_factor = max(control.high, 1.0) if control else 1.0
    band_low, band_high = threshold * low_factor, threshold * high_factor
    if threshold < 0:  # scaling a negative threshold flips the band
        band_low, band_high = band_high, band_low
    if comparison in (">=", ">"):
        clears = effect.low >= band_high if comparison == ">=" else effect.low > band_high
        misses = effect.high < band_low if comparison == ">=" else effect.high <= band_low
    else:
        clears = effect.high <= band_low if comparison == "<=" else effect.high < band_low
        misses = effect.low > band_high if comparison == "<=" else effect.low >= band_high
    if clears:
        return "met"
    if misses:
        return "NOT met"
    return "inconclusive"
