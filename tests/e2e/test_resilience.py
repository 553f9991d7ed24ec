"""Live slot migration and a node stopped mid-load, with concurrent callers."""

import asyncio
import time

import pytest

from rediscluster_opt import (
    ClusterClient,
    ClusterError,
    RedisConnectionError,
    RedisTimeoutError,
    Stages,
)
from rediscluster_opt.testing.migration import move_slot

MIGRATION_STAGES = [Stages.baseline(), Stages.optimized()]  # composed and shaped (fused)


@pytest.mark.parametrize("stages", MIGRATION_STAGES, ids=lambda s: s.label())
async def test_live_slot_migration_under_load(local_cluster, stages, prefix):
    client = await ClusterClient.connect(local_cluster.seeds, stages=stages)
    async with client:
        tag = f"{{{prefix}}}"
        keys = [f"{tag}:{i}" for i in range(120)]
        await client.mset({k: f"value-{k}" for k in keys})
        slot = client._slot_of(tag.encode())
        masters = list(client.topology.masters)
        source = client.topology.slot_table()[slot]
        target = next(m for m in masters if m != source)
        stop = asyncio.Event()
        checked = 0

        async def reader_writer(n: int) -> None:
            nonlocal checked
            i = 0
            while not stop.is_set():
                key = keys[(n * 7 + i) % len(keys)]
                assert await client.get(key) == f"value-{key}".encode()
                # a bounded set of fresh keys: the slot's key count, and so the time the
                # migration takes, does not grow with the client's speed
                fresh = f"{tag}:w{n}:{i % 64}"
                assert await client.set(fresh, fresh) is True
                assert await client.get(fresh) == fresh.encode()
                checked += 1
                i += 1

        workers = [asyncio.ensure_future(reader_writer(n)) for n in range(16)]
        await asyncio.sleep(0.2)
        moved = await asyncio.to_thread(move_slot, slot, source, target, masters, 0.02)
        started = time.monotonic()
        await asyncio.sleep(0.3)  # load continues after the move: MOVED, then the refresh
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), 30)  # any wrong value or error fails here

        assert moved >= len(keys)
        assert client.counters["ask"] > 0, client.counters
        assert client.counters["moved"] > 0, client.counters
        assert client._lookup(slot) == target
        assert checked > 100
        assert time.monotonic() - started < 10
        # Put the slot back for the other tests.
        await asyncio.to_thread(move_slot, slot, target, source, masters)


async def test_node_stopped_mid_load_then_restarted(local_cluster, prefix):
    client = await ClusterClient.connect(
        local_cluster.seeds, stages=Stages.optimized(), command_timeout=2, retry_attempts=2
    )
    async with client:
        keys = [f"{prefix}:{i}" for i in range(200)]
        victim_port = local_cluster.ports[-1]
        victim = f"127.0.0.1:{victim_port}"
        table = client.topology.slot_table()
        assert any(table[client._slot_of(k.encode())] == victim for k in keys)
        outcomes = {"ok": 0, "typed_errors": 0}
        stop = asyncio.Event()

        async def worker(n: int) -> None:
            i = 0
            while not stop.is_set():
                key = keys[(n * 13 + i) % len(keys)]
                value = f"{n}-{i}".encode()
                try:
                    assert await client.set(key, value) is True
                    got = await client.get(key)
                    assert got is None or isinstance(got, bytes)
                    outcomes["ok"] += 1
                except (RedisConnectionError, RedisTimeoutError, ClusterError):
                    outcomes["typed_errors"] += 1
                    await asyncio.sleep(0.01)
                i += 1

        workers = [asyncio.ensure_future(worker(n)) for n in range(20)]
        try:
            await asyncio.sleep(0.3)
            await asyncio.to_thread(local_cluster.stop_node, victim_port)
            await asyncio.sleep(1.0)
            assert outcomes["typed_errors"] > 0
        finally:
            await asyncio.to_thread(local_cluster.start_node, victim_port)
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(asyncio.gather(*workers), 30)  # nothing hangs

        # Service resumes on every node, the restarted one included.
        deadline = time.monotonic() + 15
        while True:
            try:
                await client.mset({k: "back" for k in keys})
                assert await client.mget(*keys) == [b"back"] * len(keys)
                break
            except (RedisConnectionError, ClusterError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        assert outcomes["ok"] > 0
