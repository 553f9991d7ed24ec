"""Explicit batches in the bench (ClientConfig.batch, None for single commands): checked
and named when configured;
a trial keeps as many commands in flight in pipelines as single commands would, counts
every command of a pipeline, and checks every reply."""

import asyncio

import pytest

from rediscluster_opt.bench.adapters import Adapter, ClientConfig
from rediscluster_opt.bench.trial import _closed_loop
from rediscluster_opt.bench.workload import Workload


def test_a_batch_is_named_checked_and_for_the_clients_that_pipeline():
    optimized = ClientConfig.parse("optimized")
    assert ClientConfig("ours", optimized.stages, batch=100).label == "optimized (pipelines of 100)"
    assert ClientConfig("redis-py", batch=100).label == "redis-py (pipelines of 100)"
    assert ClientConfig("valkey-glide", batch=10).batch == 10
    only = "explicit batches apply to ours, redis-py, valkey-glide, compat only"
    with pytest.raises(ValueError, match=only):
        ClientConfig("calibration:bare", batch=10)
    with pytest.raises(ValueError, match="batch"):
        ClientConfig("ours", optimized.stages, batch=0)
    assert ClientConfig("ours", optimized.stages, batch=1).label != optimized.label  # a pipeline of one


def _adapter(answer):
    calls = []

    async def get_many(keys):
        calls.append(len(keys))
        await asyncio.sleep(0)
        return [answer(k) for k in keys]

    return Adapter(None, None, None, None, get_many=get_many), calls


def test_a_pipelined_loop_counts_every_command_and_checks_every_reply():
    work = Workload(key_count=50)
    values = {work.key(i): work.value(i) for i in range(50)}
    adapter, calls = _adapter(values.get)
    plans = [work.operations(seed) for seed in range(2)]
    tally, latencies, _, kinds, wrong = asyncio.run(_closed_loop(adapter, plans, 0.05, record=True, batch=10))
    assert set(calls) == {10} and tally["ops"] == 10 * len(latencies) == 10 * len(calls) > 0
    assert tally["wrong"] == tally["errors"] == 0 and kinds == {} and wrong == []
    broken, _ = _adapter(lambda key: b"not it")
    tally, *_, wrong = asyncio.run(_closed_loop(broken, plans, 0.02, record=False, batch=10))
    assert tally["wrong"] == tally["ops"] > 0 and wrong[0].startswith("GET b'rcopt:bench:")
