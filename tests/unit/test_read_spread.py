"""Where a read goes with read_from and replica_choice (the router alone, no I/O): the
primary, a replica, or any node of the slot's shard, at random or each in turn."""

import pytest

from rediscluster_opt import ClusterClient
from rediscluster_opt.core.topology import SlotRange, Topology

PRIMARY, R1, R2 = "127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"


async def targets(count, **options):
    client = ClusterClient([PRIMARY], **options)
    try:
        client.router.install(Topology((SlotRange(0, 16383, PRIMARY, (R1, R2)),)))
        reads = [client.router.target(5, True) for _ in range(count)]
        assert client.router.target(5, False) == PRIMARY  # writes: the primary, always
        return reads
    finally:
        await client.close()


async def test_round_robin_takes_each_node_of_the_shard_in_turn():
    assert await targets(6, read_from="any", replica_choice="round_robin") == [PRIMARY, R1, R2] * 2
    assert await targets(4, read_from="prefer_replica", replica_choice="round_robin") == [R1, R2] * 2


async def test_random_choice_reaches_every_node_it_may_choose():
    assert set(await targets(300, read_from="any")) == {PRIMARY, R1, R2}
    assert set(await targets(300, read_from="replica")) == {R1, R2}


async def test_a_shard_without_replicas_serves_prefer_replica_and_any_from_its_primary():
    client = ClusterClient([PRIMARY], read_from="any", replica_choice="round_robin")
    try:
        client.router.install(Topology((SlotRange(0, 16383, PRIMARY),)))
        assert [client.router.target(1, True) for _ in range(3)] == [PRIMARY] * 3
        client.router.read_from = "replica"
        assert client.router.target(1, True) is None  # none yet: the slow path waits for one
    finally:
        await client.close()


def test_an_unknown_replica_choice_is_named():
    with pytest.raises(ValueError, match="replica_choice must be one of random, round_robin, got 'next'"):
        ClusterClient([PRIMARY], replica_choice="next")
