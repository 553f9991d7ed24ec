from experiments.us014_refresh_interval.heal import heal_times
from rediscluster_opt.bench.adapters import Target


def test_a_silent_move_heals_within_about_one_refresh_interval(local_cluster):
    """The periodic refresh is what heals it: each time lies within one interval of the
    stale view (plus a refresh's round trip), and the trial times every repeat."""
    found = heal_times(Target(seeds=tuple(local_cluster.seeds)), refresh_interval=0.3, repeats=4, seed=7)
    assert len(found["heal_s"]) == 4 and found["summary"]["n"] == 4
    assert all(0 < t < 0.3 + 0.2 for t in found["heal_s"]), found["heal_s"]


def test_the_story_answers_with_the_cost_and_the_heal_time(quick_run):
    summary = quick_run.summary("US-014")
    measured = {r["metric"]: r for r in summary["acceptance"]}
    assert measured["refresh.0.25s.throughput"]["effect"] and measured["refresh.never.throughput"]["effect"]
    assert "heals in a median" in summary["paragraph"]
