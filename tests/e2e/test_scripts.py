"""Registered scripts on the real cluster: run by SHA1, sent again with EVAL where a node
lacks it (after SCRIPT FLUSH, on the master a slot migrated to, on a promoted replica),
keys in several slots refused before anything is sent; the native API and the drop-in."""

from __future__ import annotations

import asyncio
import signal

import pytest

from rediscluster_opt import ClusterClient, CrossSlotError
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.testing.faults import keys_on, replica_of, signal_node, wait_for_promotion
from rediscluster_opt.testing.migration import move_slot

COUNTER = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
SWAP = "local a = redis.call('GET', KEYS[1]); redis.call('SET', KEYS[1], redis.call('GET', KEYS[2])); redis.call('SET', KEYS[2], a); return a"  # noqa: E501


def cached_on(address: str, sha: bytes) -> bool:
    return command(*split_address(address), "SCRIPT", "EXISTS", sha) == [1]


async def test_a_script_runs_by_sha_and_survives_a_script_flush(client, local_cluster, prefix):
    counter = client.register_script(COUNTER)
    assert await counter(keys=[f"{prefix}:n"], args=[2]) == 2
    for address in [*local_cluster.seeds, local_cluster.standalone_address]:
        command(*split_address(address), "SCRIPT", "FLUSH")
    assert await counter(keys=[f"{prefix}:n"], args=[3]) == 5  # NOSCRIPT, then EVAL: run once
    assert await client.get(f"{prefix}:n") == b"5"
    swap = client.register_script(SWAP)
    await client.mset({f"{{{prefix}}}a": "1", f"{{{prefix}}}b": "2"})
    assert await swap(keys=[f"{{{prefix}}}a", f"{{{prefix}}}b"]) == b"1"
    assert await client.mget(f"{{{prefix}}}a", f"{{{prefix}}}b") == [b"2", b"1"]


async def test_keys_in_several_slots_are_refused_before_sending(local_cluster, prefix):
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        swap = client.register_script(SWAP)
        with pytest.raises(CrossSlotError, match="EVALSHA"):
            await swap(keys=[f"{prefix}:a", f"{prefix}:b"])
        with pytest.raises(CrossSlotError, match="MGET"):  # any command whose keys the rule knows
            await client.execute_command("MGET", f"{prefix}:x", f"{prefix}:y")


async def test_a_script_follows_its_keys_slot_to_another_master(local_cluster, prefix):
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        key = f"{prefix}:moving"
        counter = client.register_script(COUNTER)
        assert await counter(keys=[key], args=[1]) == 1
        slot = client.router.slot_for(key)
        source = client.topology.slot_table()[slot]
        target = next(m for m in client.topology.masters if m != source and not cached_on(m, counter.sha))
        masters = list(client.topology.masters)
        await asyncio.to_thread(move_slot, slot, source, target, masters)
        try:
            assert await counter(keys=[key], args=[1]) == 2  # MOVED, NOSCRIPT, EVAL there
            assert cached_on(target, counter.sha)
        finally:
            await asyncio.to_thread(move_slot, slot, target, source, masters)


@pytest.mark.fault_matrix  # make test-faults; a SIGKILL failover of pub/sub runs in make test
async def test_a_script_runs_on_the_promoted_replica(replica_cluster, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    key = keys_on(victim, client.topology.slot_table(), 1, prefix)[0].decode()
    counter = client.register_script(COUNTER)
    try:
        assert await counter(keys=[key], args=[1]) == 1
        await asyncio.sleep(0.5)  # replicated (WAIT is refused on a shared connection)
        signal_node(replica_cluster, port, signal.SIGKILL)
        promoted = replica_of(replica_cluster, victim)
        await asyncio.to_thread(wait_for_promotion, host, promoted, 30)
        assert not cached_on(f"{host}:{promoted}", counter.sha)  # a cache is not replicated
        for _ in range(50):  # until the client has the promotion (a typed error meanwhile)
            try:
                assert await counter(keys=[key], args=[1]) == 2
                break
            except Exception:
                await asyncio.sleep(0.2)
        else:
            raise AssertionError("the script never ran on the promoted replica")
    finally:
        await client.close()
        await asyncio.to_thread(replica_cluster.start_node, port)
        await asyncio.to_thread(replica_cluster.wait_healthy, 60)


async def test_the_drop_ins_registered_script_across_a_move_and_its_slot_check(local_cluster, prefix):
    compat = pytest.importorskip("rediscluster_opt.compat")
    from redis import exceptions as redis_errors

    host, port = split_address(local_cluster.seeds[0])
    async with compat.RedisCluster(host=host, port=port) as client:
        key = f"{prefix}:facade"
        counter = client.register_script(COUNTER)
        assert await counter(keys=[key], args=[1]) == 1
        native = await client._connected()
        slot = native.router.slot_for(key)
        source = native.topology.slot_table()[slot]
        target = next(m for m in native.topology.masters if m != source)
        masters = list(native.topology.masters)
        await asyncio.to_thread(move_slot, slot, source, target, masters)
        try:
            command(*split_address(target), "SCRIPT", "FLUSH")
            assert await counter(keys=[key], args=[1]) == 2
        finally:
            await asyncio.to_thread(move_slot, slot, target, source, masters)
        swap = client.register_script(SWAP)
        with pytest.raises(redis_errors.RedisClusterException, match="slot"):
            await swap(keys=[f"{prefix}:a", f"{prefix}:b"])
