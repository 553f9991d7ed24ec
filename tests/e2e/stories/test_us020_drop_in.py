"""US-020's quick run: the drop-in measured against redis-py and the native API in one run."""


def test_the_story_says_how_much_of_the_lead_survives(quick_run):
    summary = quick_run.summary("US-020")
    rows = {r["metric"]: r for r in summary["acceptance"]}
    over_redis_py = rows["drop_in.over_redis_py.throughput"]
    assert over_redis_py["effect"] and over_redis_py["aa"]  # measured, beside its A/A
    recorded = {r["metric"]: r["value"] for r in summary["recorded"]}
    share = recorded["drop_in.over_optimized.throughput"]
    assert 0 < share["low"] <= share["median"] <= share["high"]
    assert "x redis-py's cluster GET throughput" in summary["paragraph"]
    assert "of the native API's" in summary["paragraph"]
