"""The headline ratios in runs of their own: figures from a record, a history entry per
run, and the spread of the quiet runs at one commit (what the README renders)."""

import pytest

from rediscluster_opt.lab.headline import AA_ARM, HEADLINES, KIND, headline_entry, headline_figures, spread
from rediscluster_opt.results.history import write_entry

RATES = {"optimized": 100.0, AA_ARM: 101.0, "baseline": 20.0, "redis-py": 10.0, "valkey-glide": 25.0,
         "calibration:bare": 125.0, "native": 110.0, "compat": 70.0}  # fmt: skip


def _record(commit, scale=1.0, contaminated=False):
    trials = []
    for repeat in range(3):
        for config, rate in RATES.items():
            for mode, factor in (("cluster", 1.0), ("standalone", 1.25)):
                ops = rate * factor * (scale if config == "optimized" else 1)
                trials.append({
                    "index": len(trials), "repeat": repeat, "config": config, "mode": mode, "concurrency": 64,
                    "status": "ok", "valid": True, "ops_per_s": ops,
                    "machine": {"foreign": 0.4 if contaminated else 0.01}, "contaminated": contaminated,
                })  # fmt: skip
    env = {"cpu_model": "X", "cpu_count": 2, "git": {"commit": commit, "dirty": False}, "python": "3.11"}
    return {"trials": trials, "environment": env, "created": "2026-12-06T10:00:00Z"}


def test_a_run_gives_every_headline_ratio_and_an_entry_at_its_commit():
    figures = headline_figures(_record("c" * 40))
    assert figures["optimized_over_baseline"].median == 5.0
    assert figures["optimized_over_bare"].median == 0.8
    assert figures["cluster_over_standalone"].median == 0.8
    assert figures["aa"].median == 1.01
    assert figures["native_over_bare"].median == 0.88 and figures["dropin_over_native_api"].median == 0.7
    entry = headline_entry(_record("c" * 40))
    assert entry["kind"] == KIND and entry["commit"] == "c" * 40
    metrics = entry["stories"]["headline"]["metrics"]
    assert (
        set(metrics) == {h.name for h in HEADLINES}
        and metrics["optimized_over_glide"]["effect"]["median"] == 4.0
    )
    assert entry["stories"]["headline"]["machine"]["quiet"]


def test_the_spread_is_taken_over_the_quiet_runs_at_the_commit(tmp_path):
    for scale, created in ((1.0, "T1"), (1.1, "T2"), (0.9, "T3")):
        entry = headline_entry(_record("c" * 40, scale))
        entry["created"] = f"2026-12-06{created}"
        write_entry(entry, tmp_path)
    loud = headline_entry(_record("c" * 40, 3.0, contaminated=True))
    loud["created"] = "2026-12-06T4"
    write_entry(loud, tmp_path)
    other = headline_entry(_record("d" * 40, 2.0))
    other["created"] = "2026-12-06T5"
    write_entry(other, tmp_path)
    found, runs = spread(tmp_path, "c" * 7, "optimized_over_baseline")
    assert runs == 3 and (found.median, found.low, found.high) == pytest.approx((5.0, 4.5, 5.5))
    assert spread(tmp_path, "e" * 7, "optimized_over_baseline") == (None, 0)
    # the reference's own median is one of the runs
    found, runs = spread(tmp_path, "c" * 7, "optimized_over_baseline", also=[6.0])
    assert runs == 4 and (found.median, found.low, found.high) == pytest.approx((5.25, 4.5, 6.0))
