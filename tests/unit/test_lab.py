"""The lab's pure parts: notebook parameter validation and publishing a reference run."""

import pytest

from rediscluster_opt.lab.parameters import NotebookParameterError, Parameters, check_parameters
from rediscluster_opt.lab.stories import STORIES, cumulative_stages
from rediscluster_opt.stages import Stages


def test_defaults_and_normalisation():
    params = check_parameters(seeds="127.0.0.1:7000", concurrency=64, standalone="")
    assert params.seeds == ("127.0.0.1:7000",) and params.concurrency == (64,) and params.standalone is None
    assert check_parameters() == Parameters()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"duration": 0}, "'duration': must be positive"),
        ({"warmup": -1}, "'warmup': must be >= 0"),
        ({"repeats": 2.5}, "'repeats': must be a positive integer"),
        ({"concurrency": []}, "'concurrency': must be a non-empty list"),
        ({"seeds": ["h:70000"]}, "'seeds': bad address"),
        ({"peers": ["jedis"]}, "'peers': must be a list drawn from redis-py"),
        ({"smoke": "yes"}, "'smoke': must be True or False"),
        ({"durations": 1}, "unknown notebook parameter(s) durations"),
    ],
)
def test_bad_parameters_are_named(values, message):
    with pytest.raises(NotebookParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_parameters(**values)


def test_cumulative_configuration_ends_at_the_optimized_preset():
    assert cumulative_stages("US-002") == Stages.baseline().replace(slot_hash="crc_hqx", slot_map="flat")
    assert cumulative_stages("US-007") == Stages.optimized()
    assert [s for s in STORIES] == [f"US-00{i}" for i in range(1, 9)]


def test_publishing_a_reference_run_keeps_the_records_beside_it(tmp_path):
    from rediscluster_opt.lab.main import publish_reference

    run = tmp_path / "runs" / "r1"
    (run / "figures").mkdir(parents=True)
    (run / "figures" / "US-002_throughput.png").write_bytes(b"png")
    (run / "figures" / "US-002.summary.json").write_text(
        '{"story": "US-002", "title": "t", "headline": "h", "acceptance": [], "figures": '
        '["US-002_throughput.png"], "records": []}'
    )
    reference = tmp_path / "reference"
    (reference / "figures").mkdir(parents=True)
    (reference / "figures" / "old.png").write_bytes(b"old")
    (reference / "20260101T000000Z_client-bench.json").write_text("{}")
    summary = publish_reference(run, tmp_path, "default")
    assert (reference / "20260101T000000Z_client-bench.json").exists()
    assert sorted(p.name for p in (reference / "figures").iterdir()) == [
        "US-002.summary.json", "US-002_throughput.png"]  # fmt: skip
    assert "[throughput](figures/US-002_throughput.png)" in summary.read_text()


def test_before_after_writes_the_ratio_of_medians():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from rediscluster_opt.lab.plots import before_after

    rows = [
        {"config": c, "mode": m, "ops_per_s": v, "status": "ok", "valid": True}
        for c, m, v in [("a", "cluster", 100), ("a", "cluster", 300), ("b", "cluster", 500),
                        ("a", "standalone", 100), ("b", "standalone", 150)]
    ]  # fmt: skip
    ax = before_after(pd.DataFrame(rows), "a", "b")
    assert [t.get_text() for t in ax.texts] == ["x2.50", "x1.50"]
