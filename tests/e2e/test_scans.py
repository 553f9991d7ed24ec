"""Scans on the real cluster: every master's keys with MATCH and TYPE, the keys of a slot
that migrates (or whose master fails) during the scan not lost, a hash's fields across its
slot's move, Redis's glob rules as the server applies them; the drop-in's scans equal to
redis-py's."""

from __future__ import annotations

import asyncio
import signal

import pytest

from rediscluster_opt import ClusterClient
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.core.glob import glob_matches
from rediscluster_opt.testing.faults import replica_of, signal_node, wait_for_promotion
from rediscluster_opt.testing.migration import move_slot
from tests.unit.test_scan_rules import CASES


async def test_scan_iter_finds_every_key_with_match_and_type(client, prefix):
    strings = [f"{prefix}:s{i}" for i in range(300)]
    for key in strings:
        await client.set(key, "v")
    await client.sadd(f"{prefix}:set", "m")
    found = [key async for key in client.scan_iter(match=f"{prefix}:*", count=50)]
    assert sorted(set(found)) == sorted(k.encode() for k in [*strings, f"{prefix}:set"])
    sets = [key async for key in client.scan_iter(match=f"{prefix}:*", type="set")]
    assert sets == [f"{prefix}:set".encode()]
    if isinstance(client, ClusterClient):  # Redis 7.0 has no CLUSTERSCAN: the per-master walk ran
        assert client.router.clusterscan is False


async def test_redis_glob_rules_are_the_servers(local_cluster, prefix):
    """core.glob (used for keys read again after a move) agrees with KEYS on the server."""
    host, port = split_address(local_cluster.standalone_address)
    subjects = sorted({s for _, yes, no in CASES for s in [*yes, *no] if b"\n" not in s})
    for subject in subjects:
        command(host, port, "SET", prefix.encode() + subject, "1")
    for pattern, _, _ in CASES:
        theirs = {k[len(prefix) :] for k in command(host, port, "KEYS", prefix.encode() + pattern)}
        ours = {s for s in subjects if glob_matches(prefix.encode() + pattern, prefix.encode() + s)}
        assert ours == theirs, pattern


async def test_keys_of_a_slot_migrating_during_the_scan_are_not_lost(local_cluster, prefix):
    """The slot moves from the last master scanned to the first, after the first is done:
    SCAN alone would miss every key of it."""
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        masters = list(client.topology.masters)
        table = client.topology.slot_table()
        tag = next(
            f"{prefix}{i}"
            for i in range(100_000)
            if table[client.router.slot_for(f"{{{prefix}{i}}}")] == masters[-1]
        )
        moving = [f"{{{tag}}}:{i}" for i in range(50)]
        others = [f"{prefix}:o{i}" for i in range(200)]
        for key in [*moving, *others]:
            await client.set(key, "v")
        slot = client.router.slot_for(moving[0])
        found, moved = [], False
        try:
            async for key in client.scan_iter(match=f"*{prefix}*", count=10):
                found.append(key)
                if not moved and table[client.router.slot_for(key)] != masters[0]:
                    # the first master is done: move the slot onto it
                    await asyncio.to_thread(move_slot, slot, masters[-1], masters[0], masters)
                    moved = True
            assert moved
            assert set(found) == {k.encode() for k in [*moving, *others]}
        finally:
            await asyncio.to_thread(move_slot, slot, masters[0], masters[-1], masters)


async def test_a_hash_scanned_across_its_slots_move_gives_every_field(local_cluster, prefix):
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        key = f"{prefix}:hash"
        fields = {f"f{i}".encode(): str(i).encode() for i in range(2000)}  # a hashtable, not a listpack
        await client.hset(key, mapping=fields)
        slot = client.router.slot_for(key)
        source = client.topology.slot_table()[slot]
        target = next(m for m in client.topology.masters if m != source)
        masters = list(client.topology.masters)
        got, moved = {}, False
        try:
            async for field, value in client.hscan_iter(key, count=20):
                got[field] = value
                if not moved:
                    await asyncio.to_thread(move_slot, slot, source, target, masters)
                    moved = True
            assert got == fields
        finally:
            await asyncio.to_thread(move_slot, slot, target, source, masters)


@pytest.mark.fault_matrix  # make test-faults; a SIGKILL failover of pub/sub runs in make test
async def test_a_scan_outlives_a_masters_failover(replica_cluster, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    masters = list(client.topology.masters)
    keys = [f"{prefix}:{i}" for i in range(600)]
    for key in keys:
        await client.set(key, "v")
    await asyncio.sleep(0.5)  # the replicas have them (WAIT is refused on a shared connection)
    victim = masters[1]
    host, port = split_address(victim)
    found, failed = [], False
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=10):
            found.append(key)
            if not failed:  # the second master dies before it is scanned
                signal_node(replica_cluster, port, signal.SIGKILL)
                await asyncio.to_thread(wait_for_promotion, host, replica_of(replica_cluster, victim), 30)
                failed = True
        assert set(found) == {k.encode() for k in keys}
    finally:
        await client.close()
        await asyncio.to_thread(replica_cluster.start_node, port)
        await asyncio.to_thread(replica_cluster.wait_healthy, 60)


# -- the drop-in ---------------------------------------------------------------------------
compat = pytest.importorskip("rediscluster_opt.compat")


async def test_the_drop_ins_scans_equal_redis_pys(pair, prefix):
    theirs, ours = pair
    for i in range(120):
        await ours.set(f"{prefix}:k{i}", i)
    await ours.hset(f"{prefix}:h", mapping={f"f{i}": i for i in range(300)})
    await ours.sadd(f"{prefix}:s", *range(300))
    await ours.zadd(f"{prefix}:z", {f"m{i}": i for i in range(300)})
    for name, call in [
        ("scan", lambda c: c.scan_iter(match=f"{prefix}:k*", count=20)),
        ("scan type", lambda c: c.scan_iter(match=f"{prefix}:*", _type="hash")),
        ("hscan", lambda c: c.hscan_iter(f"{prefix}:h", match="f1*")),
        ("sscan", lambda c: c.sscan_iter(f"{prefix}:s", count=30)),
        ("zscan", lambda c: c.zscan_iter(f"{prefix}:z", score_cast_func=int)),
    ]:
        assert sorted([x async for x in call(ours)]) == sorted([x async for x in call(theirs)]), name
    with pytest.raises(compat.UnsupportedOption, match="target_nodes"):
        [x async for x in ours.scan_iter(target_nodes=compat.RedisCluster.PRIMARIES)]
