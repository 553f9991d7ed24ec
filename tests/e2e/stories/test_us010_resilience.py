from rediscluster_opt.lab.main import modes


def test_one_timeline_per_fault_instead_of_speed_plots(quick_run):
    summary = quick_run.summary("US-010")
    assert {f"US-010_fault_{f}.png" for f in modes()["quick"]["faults"]} == set(summary["figures"])
