"""The stage explorer without a browser: its controls come from the registry, a plan
names the chosen combination apart from the presets, a bad target is a message (the
widgets stay usable), and a history row reads a real record's figures."""

import asyncio

import pytest

pytest.importorskip("ipywidgets")

from rediscluster_opt.lab.presentation.explorer import CHOSEN, Explorer, Plan, history_row  # noqa: E402
from rediscluster_opt.stages import OPTIMIZED, REGISTRY  # noqa: E402


def test_one_dropdown_per_stage_with_every_registered_variant(tmp_path):
    explorer = Explorer(tmp_path)
    assert set(explorer.stage_pickers) == set(REGISTRY)
    for stage, picker in explorer.stage_pickers.items():
        assert list(picker.options) == list(REGISTRY[stage]) and picker.value == OPTIMIZED[stage]
    explorer.stage_pickers["writer"].value = "direct"
    explorer.peers["valkey-glide"].value = True
    explorer.trial_s.value = 0.5
    plan = explorer.plan()
    assert plan.stages["writer"] == "direct" and plan.peers == ("valkey-glide",) and plan.trial_s == 0.5
    labels = [c.label for c in plan.configs()]
    assert labels == [
        CHOSEN,
        "baseline",
        "optimized",
        "valkey-glide",
    ]  # distinct, even when chosen == optimized


def test_an_unreachable_target_is_a_message_and_the_button_comes_back(tmp_path):
    explorer = Explorer(tmp_path)
    explorer.seeds.value = "127.0.0.1:1"
    row = asyncio.run(explorer.run(explorer.plan()))
    assert row is None and "run failed" in explorer.status.value and "unreachable" in explorer.status.value
    assert not explorer.run_button.disabled and explorer.history == []


def test_a_bad_stage_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="unknown implementation 'bogus'"):
        Plan(stages={**OPTIMIZED, "writer": "bogus"}).configs()


def test_a_history_row_from_records():
    trial = {"status": "ok", "valid": True, "mode": "cluster", "concurrency": 8}
    record = {
        "created": "2026-11-26T17:00:00Z",
        "parameters": {
            "explorer": {"stages": {**OPTIMIZED, "writer": "direct"}, "mode": "cluster", "concurrency": 8}
        },
        "summary": {
            "rows": [
                {"config": c, "ops_per_s": {"median": ops}, "cpu_us_per_op": {"median": 10.0}}
                for c, ops in ((CHOSEN, 900.0), ("baseline", 300.0), ("optimized", 1000.0))
            ]
        },
        "trials": [
            {**trial, "config": c, "repeat": r, "ops_per_s": ops * (1 + r / 10), "ops": 1, "client_cpu_s": 1}
            for r in range(2)
            for c, ops in ((CHOSEN, 900.0), ("optimized", 1000.0))
        ],
    }
    profile = {
        "trials": [{"profile": {"top": [{"qualname": "JoinWriter.send", "rank": 1, "own_share": 0.2}]}}]
    }
    row = history_row(record, profile)
    assert row["stages (vs optimized)"] == "writer=direct" and row["chosen ops/s"] == 900.0
    assert row["chosen / optimized"].startswith("0.90") and row["top function"] == "JoinWriter.send"
    assert row["machine"] == "not known"  # these trials hold no machine figures
    for t, foreign in zip(record["trials"], (0.02, 0.4, 0.01, 0.03), strict=True):
        t["machine"], t["contaminated"] = {"foreign": foreign}, foreign > 0.1
    assert history_row(record, profile)["machine"] == "busy in 1 of 4 trials"
    for t in record["trials"]:
        t["machine"], t["contaminated"] = {"foreign": 0.02}, False
    assert history_row(record, profile)["machine"] == "quiet"


def test_a_look_re_runs_no_trial(tmp_path, monkeypatch):
    """The explorer waits for no quiet second: a trial measured while the laptop was busy
    is kept, and its machine figures say so (the history's machine column)."""
    from rediscluster_opt.bench import runner
    from rediscluster_opt.lab.presentation import explorer as module

    calls = []
    monkeypatch.setattr(runner, "run_benchmark", lambda configs, **options: calls.append(options) or {})
    monkeypatch.setattr(module, "save_record", lambda record, folder: folder)
    module.run_plan(Plan(folder=str(tmp_path)))
    assert [c["reruns"] for c in calls] == [0, 0]  # the comparison and its profile
