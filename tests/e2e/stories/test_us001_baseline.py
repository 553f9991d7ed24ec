from experiments.us001_baseline import CPU_AA, THROUGHPUT_AA


def test_the_baseline_records_its_noise_floor_and_meets_nothing(quick_run):
    summary = quick_run.summary("US-001")
    assert not summary["acceptance"]
    recorded = {r["item"]: r for r in summary["recorded"]}
    assert any("A/A" in item for item in recorded)
    measured = {r["metric"] for r in summary["recorded"] if r["value"] is not None}
    assert {THROUGHPUT_AA, CPU_AA} <= measured
    assert any(path.endswith("_US-001-rest.json") for path in summary["records"])
