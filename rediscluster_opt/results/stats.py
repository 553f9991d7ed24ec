"""Paired statistics and three-state verdicts.

An A-vs-B comparison is a list of ratios, one per interleaved repeat (A and B ran seconds
apart, so machine drift cancels within a pair). It is summarised by the median ratio and
the distribution-free order-statistic interval of the median: the k-th smallest and k-th
largest pair, with k as large as keeps the coverage at or above 95 %. That coverage is
exact for any continuous distribution and is known for every n, so the interval says what
it has: 5 pairs give the min-max with 93.8 %, 6 give the min-max with 96.9 %, 2 give
50 %. A percentile bootstrap of the median of so few pairs returns the same min-max while
claiming 95 %.

A verdict compares an interval with a threshold, widened by the A/A control's spread (the
same configuration run as two arms): an effect only counts when it clears both the
threshold and the noise the control shows. The states follow `pyperf compare_to` and
`asv compare`: met, NOT met, inconclusive; "not measured" when there is no figure. An
effect whose interval covers less than `INDICATIVE_BELOW` (90 %) is "indicative" where it
would have been met or NOT met: too few pairs to count either way.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "COMPARISONS",
    "INDICATIVE_BELOW",
    "MIN_BOOTSTRAP",
    "Interval",
    "VERDICTS",
    "interval",
    "median_coverage",
    "ratio_of_medians",
    "verdict",
]

MIN_BOOTSTRAP = 5  # ratio_of_medians: below this many values per sample, min-max
CONFIDENCE = 0.95
INDICATIVE_BELOW = 0.90
RESAMPLES = 4000
ORDER_STATISTIC = "order statistic"
VERDICTS = ("met", "NOT met", "inconclusive", "indicative", "not measured")
COMPARISONS = (">=", ">", "<=", "<")


@dataclass(frozen=True)
class Interval:
    """A median with the interval around it. `method` says how the interval was made:
    'order statistic' (with its exact `coverage` for this n), 'exact' (one deterministic
    figure, e.g. an instruction count), or in older records 'bootstrap 95%' and 'min-max'
    (coverage not known)."""

    median: float
    low: float
    high: float
    n: int
    method: str
    coverage: float | None = None  # the probability the interval holds the true median

    @property
    def label(self) -> str:
        """How the interval was made, for tables: method, n and actual coverage."""
        if self.method == "exact":
            return "exact"
        covered = f", coverage {self.coverage:.1%}" if self.coverage is not None else ""
        return f"{self.method}, n={self.n}{covered}"

    @property
    def indicative(self) -> bool:
        """Too few pairs for a verdict: an interval whose coverage is known to be below
        INDICATIVE_BELOW."""
        return self.coverage is not None and self.coverage < INDICATIVE_BELOW

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


def median_coverage(n: int, k: int) -> float:
    """The probability that the k-th smallest and the k-th largest of n independent draws
    from a continuous distribution enclose its median: 1 - 2 P(Binomial(n, 1/2) < k)."""
    below = sum(math.comb(n, i) for i in range(k)) / 2**n
    return max(0.0, 1 - 2 * below)


def interval(values: Sequence[float]) -> Interval | None:
    """Median of `values` with its order-statistic interval: the k-th smallest and k-th
    largest value for the largest k whose coverage stays at or above CONFIDENCE (the
    min-max, k = 1, when even that falls short, with the coverage it has). None for no
    values."""
    data = sorted(float(v) for v in values if v is not None)
    if not data:
        return None
    n = len(data)
    k = 1
    while k + 1 <= n // 2 and median_coverage(n, k + 1) >= CONFIDENCE:
        k += 1
    coverage = median_coverage(n, k)
    return Interval(statistics.median(data), data[k - 1], data[n - k], n, ORDER_STATISTIC, coverage)


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
    'inconclusive' otherwise, 'not measured' without an effect; 'indicative' in place of
    met or NOT met when the effect's interval covers less than INDICATIVE_BELOW.

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
    if (clears or misses) and effect.indicative:
        return "indicative"
    if clears:
        return "met"
    if misses:
        return "NOT met"
    return "inconclusive"
