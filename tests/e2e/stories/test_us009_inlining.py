from experiments.us009_inlining import FRAMES_OVER_BARE


def test_the_sweep_and_the_in_process_cost_breakdown(quick_run):
    summary = quick_run.summary("US-009")
    assert {"US-009_concurrency_sweep.png", "US-009_cost_waterfall.png"} <= set(summary["figures"])
    assert any(r["metric"] == FRAMES_OVER_BARE and r["effect"] for r in summary["acceptance"])
    assert any(path.endswith("_US-009-sweep.json") for path in summary["records"])
