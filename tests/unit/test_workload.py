"""The closed loop's operation plans: seeded, uniform over the key space, the GET share
the workload names, and every expected value the one its key was written with."""

import itertools

import pytest

from rediscluster_opt.bench.workload import Workload

SHARES = [("get", 1.0, 1.0), ("set", 0.0, 0.0), ("mixed", 0.77, 0.83)]  # GET share: lowest, highest


@pytest.mark.parametrize(("kind", "low", "high"), SHARES)
def test_a_plan_has_the_workloads_get_share_and_matching_values(kind, low, high):
    work = Workload(kind=kind, key_count=500, value_size=64)
    plan = list(itertools.islice(work.operations(7), 8192))
    share = sum(is_get for is_get, _, _ in plan) / len(plan)
    assert low <= share <= high
    prefix = work.key_prefix.encode()
    for _, key, value in plan[:500]:
        index = int(key[len(prefix) :])
        assert 0 <= index < 500 and value == work.value(index) and len(value) == 64


def test_plans_are_seeded_cycle_and_cover_the_key_space():
    work = Workload(key_count=100)
    first = list(itertools.islice(work.operations(1, length=1000), 2000))
    assert first == list(itertools.islice(work.operations(1, length=1000), 2000))  # same seed, same plan
    assert first[:1000] == first[1000:]  # a plan of 1000 operations, cycled
    assert first[:1000] != list(itertools.islice(work.operations(2, length=1000), 1000))
    assert len({key for _, key, _ in first}) == 100  # 1000 uniform draws over 100 keys reach them all
