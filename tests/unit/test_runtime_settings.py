"""A trial's runtime settings: the collector (ClientConfig.gc), set up and restored
around the measured window; the allocator, chosen for the trial's process; the pooled
submit's free-list cap. Each is named in the label and checked."""

import gc
import os

import pytest

from rediscluster_opt.bench.adapters import ClientConfig, process_env
from rediscluster_opt.bench.trial import _CollectorMode
from rediscluster_opt.child import run_child
from tests import child_entries


def test_a_gc_mode_is_part_of_the_configuration():
    frozen = ClientConfig.parse("optimized")
    frozen = ClientConfig("ours", frozen.stages, gc="freeze")
    assert frozen.label == "optimized (gc freeze)" and frozen.as_dict()["gc"] == "freeze"
    assert (
        ClientConfig("ours", frozen.stages, gc="off", loop="asyncio").label == "optimized (gc off) (asyncio)"
    )
    with pytest.raises(ValueError, match="unknown gc mode 'never'"):
        ClientConfig("ours", gc="never")
    with pytest.raises(ValueError, match="applies to our client's trials only"):
        ClientConfig("redis-py", gc="off")


def test_the_window_runs_with_the_collector_as_asked_and_gets_it_back():
    assert gc.isenabled()
    off = _CollectorMode("off")
    assert not gc.isenabled()
    junk = [[i] for i in range(100_000)]  # would trigger young collections if it could
    assert off.end() == [0, 0, 0] and gc.isenabled()
    frozen = _CollectorMode("freeze")
    assert gc.get_freeze_count() > 0
    frozen.end()
    assert gc.get_freeze_count() == 0
    default = _CollectorMode("default")
    cycles = []
    for _ in range(2_000):
        node = [None]
        node[0] = node
        cycles.append(node)
    del junk, cycles
    assert default.end()[0] > 0  # the young generation was collected as Python decides


def test_the_allocator_is_the_trial_process_s_own_and_overrides_an_inherited_one(monkeypatch):
    stages = ClientConfig.parse("optimized").stages
    on_malloc = ClientConfig("ours", stages, allocator="malloc")
    assert on_malloc.label == "optimized (malloc)" and ClientConfig("redis-py", allocator="malloc").label
    with pytest.raises(ValueError, match="unknown allocator 'jemalloc'"):
        ClientConfig("ours", allocator="jemalloc")
    with pytest.raises(ValueError, match="Python clients only"):
        ClientConfig("calibration:redis-benchmark", allocator="malloc")
    monkeypatch.setenv("PYTHONMALLOC", "malloc")  # what the shell exported must not decide
    default = ClientConfig("ours", stages)
    assert run_child(child_entries.allocator, {}, timeout=60, env=process_env(default.allocator)) == {
        "allocator": "pymalloc"
    }
    monkeypatch.delenv("PYTHONMALLOC")
    found = run_child(child_entries.allocator, {}, timeout=60, env=process_env(on_malloc.allocator))
    assert found == {"allocator": "malloc"} and "PYTHONMALLOC" not in os.environ


def test_a_free_list_cap_is_for_the_pooled_submit_only():
    pooled = ClientConfig.parse("optimized:submit=pooled")
    capped = ClientConfig("ours", pooled.stages, free_cap=8)
    assert capped.label.endswith("(free cap 8)") and capped.as_dict()["free_cap"] == 8
    assert ClientConfig("ours", pooled.stages, free_cap=0).free_cap == 0  # no record kept at all
    with pytest.raises(ValueError, match="pooled submit only"):
        ClientConfig("ours", ClientConfig.parse("optimized:submit=future").stages, free_cap=8)
    with pytest.raises(ValueError, match="pooled submit only"):
        ClientConfig("redis-py", free_cap=8)
    with pytest.raises(ValueError, match="free_cap"):
        ClientConfig("ours", pooled.stages, free_cap=-1)


def test_cluster_options_are_checked_named_and_ours_only():
    stages = ClientConfig.parse("optimized").stages
    often = ClientConfig("ours", stages, cluster_options={"refresh_interval": 0.5})
    assert often.label == "optimized (refresh_interval=0.5)"
    never = ClientConfig("ours", stages, cluster_options={"refresh_interval": None})
    assert never.label == "optimized (refresh_interval=None)"
    with pytest.raises(ValueError, match="cluster options \\['read_from'\\] do not apply"):
        ClientConfig("ours", stages, cluster_options={"read_from": "replica"})
    with pytest.raises(ValueError, match="do not apply here"):
        ClientConfig("redis-py", cluster_options={"refresh_interval": 1.0})
    with pytest.raises(ValueError, match="refresh_interval"):
        ClientConfig("ours", stages, cluster_options={"refresh_interval": 0})
    assert ClientConfig("ours", stages, cluster_options={"min_refresh_interval": 0}).label.endswith("=0)")
