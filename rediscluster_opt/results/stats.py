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

A criterion may also state a negligible band (`equivalence`, say 0.05: no effect beyond
+-5 %): an interval that lies wholly inside it, widened by the control's spread as the
threshold is, is "equivalent", a decided "it does not matter" (the two one-sided tests'
idea: the interval excludes every effect as large as the band). Inconclusive is then left
for intervals that reach past the band without clearing the threshold.
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
    "clears",
    "equivalence_band",
    "interval",
    "median_coverage",
    "noise_band",
    "paired_interval",
    "ratio_of_medians",
    "verdict",
]

# ratio_of_medians: below this many values per sample, min-max. A percentile bootstrap of
# the median of five values returns about their min-max while claiming 95 %: it is only
# taken from ten up, and labelled with what it is (its coverage for such n is not known).
MIN_BOOTSTRAP = 10
CONFIDENCE = 0.95
INDICATIVE_BELOW = 0.90
RESAMPLES = 4000
ORDER_STATISTIC = "order statistic"
VERDICTS = ("met", "NOT met", "equivalent", "inconclusive", "indicative", "not measured")
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
    # Which of "low", "median" and "high" are only lower bounds: they fell on a value that is
    # censored (a recovery that had not happened when its run's window closed).
    at_least: tuple[str, ...] = ()

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

        def shown(name: str) -> str:
            return (">" if name in self.at_least else "") + fmt.format(getattr(self, name))

        return f"{shown('median')} [{shown('low')}–{shown('high')}]"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Interval | None:
        if not data:
            return None
        return cls(**{**data, "at_least": tuple(data.get("at_least", ()))})

    @classmethod
    def exact(cls, value: float) -> Interval:
        return cls(value, value, value, 1, "exact")


def median_coverage(n: int, k: int) -> float:
    """The probability that the k-th smallest and the k-th largest of n independent draws
    from a continuous distribution enclose its median: 1 - 2 P(Binomial(n, 1/2) < k)."""
    below: float = sum(math.comb(n, i) for i in range(k)) / 2**n
    return max(0.0, 1 - 2 * below)


def interval(values: Sequence[float], censored: Sequence[float] = ()) -> Interval | None:
    """Median of `values` with its order-statistic interval: the k-th smallest and k-th
    largest value for the largest k whose coverage stays at or above CONFIDENCE (the
    min-max, k = 1, when even that falls short, with the coverage it has). None for no
    values.

    `censored` are right-censored values: runs whose event had not happened when they
    ended, each known only to exceed its value. They rank above every observed value, and
    a bound (or the median) that falls on one is marked in `at_least`."""
    observed = sorted(float(v) for v in values if v is not None)
    data = [(v, False) for v in observed] + [(float(v), True) for v in sorted(censored)]
    if not data:
        return None
    n = len(data)
    k = 1
    while k + 1 <= n // 2 and median_coverage(n, k + 1) >= CONFIDENCE:
        k += 1
    middle = data[(n - 1) // 2 : n // 2 + 1]  # one value for odd n, two for even
    median = (statistics.mean(v for v, _ in middle), any(is_censored for _, is_censored in middle))
    bounds = {"low": data[k - 1], "median": median, "high": data[n - k]}
    at_least = tuple(name for name, (_, is_censored) in bounds.items() if is_censored)
    return Interval(
        median[0], data[k - 1][0], data[n - k][0], n, ORDER_STATISTIC, median_coverage(n, k), at_least
    )


def paired_interval(numerator: Sequence[float], denominator: Sequence[float]) -> Interval | None:
    """The median of the ratios of paired values (the i-th of one over the i-th of the
    other, as interleaved rounds pair them) with its order-statistic interval."""
    return interval([a / b for a, b in zip(numerator, denominator, strict=False) if b])


def ratio_of_medians(
    numerator: Sequence[float], denominator: Sequence[float], *, seed: int = 0
) -> Interval | None:
    """median(numerator) / median(denominator) for two independent samples (two runs,
    say), with a nominal 95 % interval from resampling each sample on its own (its real
    coverage for so few values is not known, so none is stated); min-max of the ratio's
    extremes when either has fewer than MIN_BOOTSTRAP values."""
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
    return Interval(point, low, high, n, f"percentile bootstrap, nominal {CONFIDENCE:.0%}")


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


def noise_band(threshold: float, control: Interval | None, additive: bool = False) -> tuple[float, float]:
    """The band an effect must clear: the threshold widened by the A/A control's spread.
    A ratio control (ideally 1.0), stretched to include 1.0, scales the threshold into
    [threshold * low, threshold * high]; a difference control (`additive`, ideally 0),
    stretched to include 0, shifts it into [threshold + low, threshold + high]."""
    if control is None:
        return threshold, threshold
    if additive:
        return threshold + min(control.low, 0.0), threshold + max(control.high, 0.0)
    band = threshold * min(control.low, 1.0), threshold * max(control.high, 1.0)
    return (band[1], band[0]) if threshold < 0 else band  # scaling a negative threshold flips it


def equivalence_band(band: float, control: Interval | None, additive: bool = False) -> tuple[float, float]:
    """The region of "no effect that matters": 1 +- band for a ratio (0 +- band for a
    difference), widened by the A/A control's spread as `noise_band` widens a threshold."""
    if additive:
        low, high = -band, band
        if control is not None:
            low, high = low + min(control.low, 0.0), high + max(control.high, 0.0)
        return low, high
    low, high = 1 - band, 1 + band
    if control is not None:
        low, high = low * min(control.low, 1.0), high * max(control.high, 1.0)
    return low, high


def clears(effect: Interval, comparison: str, low: float, high: float) -> bool:
    """Whether the whole interval lies on the criterion's side of the band [low, high]."""
    if comparison in (">=", ">"):
        return effect.low >= high if comparison == ">=" else effect.low > high
    if "high" in effect.at_least:  # its top is only a lower bound: it clears no upper limit
        return False
    return effect.high <= low if comparison == "<=" else effect.high < low


def verdict(
    effect: Interval | None,
    comparison: str,
    threshold: float,
    control: Interval | None = None,
    *,
    additive: bool = False,
    equivalence: float | None = None,
) -> str:
    """'met' when the whole interval clears the threshold by more than the control's
    spread (`noise_band`), 'NOT met' when the whole interval misses it by more than that
    spread, 'equivalent' when neither and the whole interval lies inside the negligible
    band `equivalence` (`equivalence_band`), 'inconclusive' otherwise, 'not measured'
    without an effect; 'indicative' in place of met, NOT met or equivalent when the
    effect's interval covers less than INDICATIVE_BELOW.
    A censored median (most runs never saw the event within their window) at or past an
    upper limit misses it: "recovers within 1 s" is not met by a run still waiting."""
    if comparison not in COMPARISONS:
        raise ValueError(f"unknown comparison {comparison!r}; choose one of {', '.join(COMPARISONS)}")
    if effect is None:
        return "not measured"
    band_low, band_high = noise_band(threshold, control, additive)
    if comparison in ("<", "<=") and "median" in effect.at_least and effect.median >= threshold:
        return "NOT met"
    opposite = {">=": "<", ">": "<=", "<=": ">", "<": ">="}[comparison]
    met = clears(effect, comparison, band_low, band_high)
    missed = clears(effect, opposite, band_low, band_high)
    negligible = False
    if equivalence is not None and not (met or missed):
        low, high = equivalence_band(equivalence, control, additive)
        negligible = low <= effect.low and effect.high <= high and not effect.at_least
    if (met or missed or negligible) and effect.indicative:
        return "indicative"
    if met:
        return "met"
    if missed:
        return "NOT met"
    if negligible:
        return "equivalent"
    return "inconclusive"
