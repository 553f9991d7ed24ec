from experiments.us010_resilience import FAULT_NAMES


def test_one_timeline_per_fault_instead_of_speed_plots(quick_run):
    summary = quick_run.summary("US-010")
    assert {f"US-010_fault_{f}.png" for f in FAULT_NAMES.value("quick")} == set(summary["figures"])
