"""The collector setting of a trial (ClientConfig.gc): named in the label, checked, and
set up and restored around the measured window."""

import gc

import pytest

from rediscluster_opt.bench.adapters import ClientConfig
from rediscluster_opt.bench.trial import _CollectorMode


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
