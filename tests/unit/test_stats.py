"""Paired statistics and three-state verdicts (no server)."""

import statistics

import pytest

from rediscluster_opt.results.stats import MIN_BOOTSTRAP, Interval, interval, ratio_of_medians, verdict


def test_fewer_than_five_pairs_give_the_exact_min_max_labelled_as_such():
    found = interval([1.10, 1.30, 1.20])
    assert found == Interval(1.20, 1.10, 1.30, 3, "min-max")
    assert found.text() == "1.20 [1.10–1.30]"
    assert interval([]) is None


def test_a_constant_sample_has_a_zero_width_bootstrap_interval():
    found = interval([1.25] * 8)
    assert (found.median, found.low, found.high, found.n) == (1.25, 1.25, 1.25, 8)
    assert found.method == "bootstrap 95%"


def test_bootstrap_interval_of_the_median_is_inside_the_sample_and_seeded():
    sample = [0.91, 0.97, 1.02, 1.04, 1.05, 1.08, 1.13, 1.30, 1.41]
    found = interval(sample)
    assert found.median == statistics.median(sample) == 1.05
    # The median of a resample of 9 lies between the 2nd and 8th order statistics
    # with far more than 95 % probability, so the interval can never reach the extremes.
    assert sample[1] <= found.low <= found.median <= found.high <= sample[-2]
    assert interval(sample) == found  # seeded: a record always gives the same interval


def test_more_pairs_of_the_same_spread_give_a_narrower_interval():
    few = interval([0.9, 1.0, 1.1, 0.95, 1.05])
    many = interval([0.9, 1.0, 1.1, 0.95, 1.05] * 8)
    assert MIN_BOOTSTRAP == 5 and many.high - many.low < few.high - few.low


@pytest.mark.parametrize(
    ("effect", "comparison", "threshold", "control", "expected"),
    [
        (Interval(1.30, 1.22, 1.37, 5, "b"), ">=", 1.0, None, "met"),
        (Interval(0.80, 0.75, 0.85, 5, "b"), ">=", 1.0, None, "NOT met"),
        (Interval(1.02, 0.97, 1.08, 5, "b"), ">=", 1.0, None, "inconclusive"),  # straddles
        # clears 1.0, but not the A/A noise: 1.05's low end is inside [0.93, 1.08]
        (Interval(1.10, 1.05, 1.15, 5, "b"), ">=", 1.0, Interval(1.0, 0.93, 1.08, 5, "b"), "inconclusive"),
        (Interval(1.30, 1.22, 1.37, 5, "b"), ">=", 1.0, Interval(1.0, 0.93, 1.08, 5, "b"), "met"),
        # lower is better
        (Interval(0.60, 0.55, 0.66, 5, "b"), "<=", 1.0, Interval(1.0, 0.97, 1.04, 5, "b"), "met"),
        (Interval(1.20, 1.15, 1.30, 5, "b"), "<=", 1.0, None, "NOT met"),
        # exact counts: no interval, no control
        (Interval.exact(0.0), "<=", 0, None, "met"),
        (Interval.exact(3.0), "<=", 0, None, "NOT met"),
        (Interval.exact(1.0), "<", 1, None, "NOT met"),
        (Interval.exact(-0.2), "<", 0, None, "met"),
        (None, ">=", 1.0, None, "not measured"),
    ],
)
def test_verdicts(effect, comparison, threshold, control, expected):
    assert verdict(effect, comparison, threshold, control) == expected


def test_the_control_widens_the_threshold_into_a_band_on_both_sides():
    control = Interval(1.0, 0.90, 1.10, 5, "b")
    # 5x target: the band is [4.5, 5.5]; 4.99 [4.88-5.11] sits inside it
    assert verdict(Interval(4.99, 4.88, 5.11, 5, "b"), ">=", 5, control) == "inconclusive"
    assert verdict(Interval(4.0, 3.9, 4.4, 5, "b"), ">=", 5, control) == "NOT met"
    assert verdict(Interval(6.0, 5.6, 6.4, 5, "b"), ">=", 5, control) == "met"


def test_an_unknown_comparison_is_named():
    with pytest.raises(ValueError, match="unknown comparison '=='"):
        verdict(Interval.exact(1.0), "==", 1.0)


def test_ratio_of_medians_of_two_independent_samples():
    found = ratio_of_medians([2.0, 2.2, 2.1], [1.0, 1.1])
    assert found.median == pytest.approx(2.1 / 1.05)
    assert (found.low, found.high, found.method) == (pytest.approx(2.0 / 1.1), pytest.approx(2.2), "min-max")
    many = ratio_of_medians([2.0, 2.1, 2.2, 2.05, 2.15], [1.0, 1.05, 1.1, 1.02, 1.08])
    assert many.low < many.median < many.high and many.method.startswith("bootstrap")
    assert ratio_of_medians([], [1.0]) is None


def test_processes_merge_by_samples_never_by_averaging_percentiles():
    from rediscluster_opt.bench.trial import merge_results, percentiles

    def result(samples_ns, ops_per_s, cpu):
        return {
            "ops": len(samples_ns), "errors": 0, "wrong": 0, "valid": True, "error_kinds": {"Timeout": 1},
            "wrong_examples": [], "elapsed_s": 1.0, "ops_per_s": ops_per_s, "client_cpu_s": cpu,
            "latency_us": percentiles(samples_ns), "event_loop": "uvloop", "start_skew_s": 0.01,
            "latency_samples_ns": samples_ns,
            "io": {"writes": 10, "reads": 10, "replies": len(samples_ns)},
        }  # fmt: skip

    fast = result([1_000] * 90, 90.0, 0.5)  # 90 replies of 1 µs
    slow = result([100_000] * 10, 10.0, 0.25)  # 10 replies of 100 µs
    merged = merge_results([fast, slow])
    assert merged["ops"] == 100 and merged["ops_per_s"] == 100.0 and merged["client_cpu_s"] == 0.75
    assert merged["latency_us"]["p50"] == 1.0 and merged["latency_us"]["p99"] == 100.0  # from 100 samples
    assert merged["latency_us"]["p50"] != (fast["latency_us"]["p50"] + slow["latency_us"]["p50"]) / 2
    assert merged["error_kinds"] == {"Timeout": 2} and merged["processes"] == 2
    assert [p["ops"] for p in merged["per_process"]] == [90, 10] and "latency_samples_ns" not in merged
    assert merged["io"]["writes_per_command"] == 0.2
