"""Pipelines and failovers that keep every acknowledged write, against real redis-server
processes: checked pipeline loads (rediscluster_opt.testing.pipelines: every reply compared
with what execution in the order queued may give, every acknowledged write read back)
under CLIENT KILL storms, slot migrations, and SIGSTOP and kill -9 failovers, with 1, 2
and 4 connections per node and command timeouts of 1 and 5 s.

Each runs on the optimized preset and on the native one (the Cython stage variants, where
built). The whole matrix (48 runs, about 8 minutes) runs with RCOPT_FAULT_MATRIX=full
(`make test-faults`); by default a covering subset runs (each fault at both timeouts and on
both presets, each connection count at least twice), and RCOPT_FAULT_MATRIX=smoke (the
compiled build's pass in `make test`) runs two."""

import asyncio
import os
import signal
import time

import pytest

from rediscluster_opt import (
    ClusterClient,
    MaybeAppliedError,
    RedisConnectionError,
    RedisTimeoutError,
    Stages,
    native,
)
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.core.slots import crc16_table, hash_tag
from rediscluster_opt.testing.faults import replica_of, signal_node, wait_for_promotion
from rediscluster_opt.testing.migration import move_slot
from rediscluster_opt.testing.pipelines import PipelineLoad
from rediscluster_opt.testing.single_execution import kill_storm

FAULTS = ("client-kill", "migration", "sigstop", "sigkill")
PRESETS = {"optimized": Stages.optimized, "native": Stages.native}
FULL = [
    (fault, connections, timeout, preset)
    for fault in FAULTS for connections in (1, 2, 4) for timeout in (1.0, 5.0) for preset in PRESETS
]  # fmt: skip
COVERING = [
    ("client-kill", 2, 1.0, "optimized"), ("client-kill", 4, 5.0, "native"),
    ("migration", 1, 5.0, "optimized"), ("migration", 4, 1.0, "native"),
    ("sigstop", 4, 5.0, "native"), ("sigstop", 1, 1.0, "optimized"),
    ("sigkill", 2, 5.0, "optimized"), ("sigkill", 4, 1.0, "native"),
]  # fmt: skip
SMOKE = [("client-kill", 2, 1.0, "optimized"), ("sigstop", 2, 1.0, "optimized")]
MATRIX = {"full": FULL, "smoke": SMOKE}.get(os.environ.get("RCOPT_FAULT_MATRIX", ""), COVERING)
LOAD_S = 1.0  # steady load before the fault, and after the cluster healed


def slot_of(text: str) -> int:
    return crc16_table(hash_tag(text.encode())) % 16384


async def client_kill(cluster, client, load):
    stop = asyncio.Event()
    storm = asyncio.ensure_future(kill_storm(client.topology.masters, stop))
    await asyncio.sleep(2.0)
    stop.set()
    assert await storm > 0


async def migration(cluster, client, load):
    """The slot of the workers' tagged keys moves to another master and back, with pauses
    between batches so that ASK and TRYAGAIN are answered along the way."""
    slot = slot_of(f"{{{load.migrating_tag}}}")
    masters = list(client.topology.masters)
    source = client.topology.slot_table()[slot]
    target = next(m for m in masters if m != source)
    for start, end in ((source, target), (target, source)):
        await asyncio.to_thread(move_slot, slot, start, end, masters, 0.01)
        await asyncio.sleep(0.3)


async def failover(cluster, client, load, sig):
    """A master hung (SIGSTOP) or killed (SIGKILL) until its replica is promoted and for
    a second after; then it comes back and rejoins as a replica."""
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    replica = replica_of(cluster, victim)
    signal_node(cluster, port, sig)
    try:
        await asyncio.to_thread(wait_for_promotion, host, replica, 30)
        await asyncio.sleep(1.0)
    finally:
        if sig == signal.SIGSTOP:
            signal_node(cluster, port, signal.SIGCONT)
        else:
            await asyncio.to_thread(cluster.start_node, port)
    await asyncio.to_thread(cluster.wait_healthy, 60)


INJECT = {
    "client-kill": client_kill,
    "migration": migration,
    "sigstop": lambda cluster, client, load: failover(cluster, client, load, signal.SIGSTOP),
    "sigkill": lambda cluster, client, load: failover(cluster, client, load, signal.SIGKILL),
}


FAILOVERS = ("sigstop", "sigkill")  # on the replica cluster; the others on the lab's


@pytest.mark.parametrize(
    ("fault", "connections", "timeout", "preset"),
    [
        pytest.param(f, c, t, p, id=f"{f}-{c}conn-{t:g}s" + ("-native" if p == "native" else ""),
                     marks=[pytest.mark.replica_cluster] if f in FAILOVERS else [])
        for f, c, t, p in MATRIX
    ],
)  # fmt: skip
async def test_checked_pipelines_lose_no_acknowledged_write(
    request, fault, connections, timeout, preset, prefix
):
    if preset == "native" and native.load() is None:
        pytest.skip(f"the native preset: {native.missing()}")
    failing_over = fault in FAILOVERS
    cluster = request.getfixturevalue("replica_cluster" if failing_over else "local_cluster")
    client = await ClusterClient.connect(
        cluster.seeds,
        connections_per_node=connections,
        command_timeout=timeout,
        retry_backoff=0.01,
        stages=PRESETS[preset](),
    )
    load = PipelineLoad(client, prefix, workers=8, depth=8, migrating_tag=f"{prefix}m")
    stop = asyncio.Event()
    async with client:
        running = asyncio.ensure_future(load.run(stop))
        try:
            await asyncio.sleep(LOAD_S)
            await INJECT[fault](cluster, client, load)
            await asyncio.sleep(LOAD_S)
        finally:
            stop.set()
            await asyncio.wait_for(running, 60)
        counters = dict(client.counters)
    summary = (dict(load.counts), load.examples, counters)
    assert load.problems() == 0, summary
    assert load.counts["ok"] > 200 and load.counts["checked"] == 8 * 6, summary
    if fault == "client-kill":
        assert counters["retries"] + counters["maybe_applied"] > 0, summary
    if fault == "migration":
        assert counters["moved"] + counters["ask"] > 0, summary


async def test_a_cancelled_pipeline_sends_nothing_after_its_caller_is_gone(local_cluster, prefix):
    """The issue's run: [MSET a old1 b old1, MSET a old2 b old2] answered TRYAGAIN while
    a is migrated and b is not; the caller cancelled at 0.1 s, the migration finished at
    0.4 s, the same caller's MSET a new b new acknowledged at 0.45 s: 1.2 s later the
    keys hold new, not old2."""
    client = await ClusterClient.connect(local_cluster.seeds, retry_backoff=0.02)
    tag = f"{{{prefix}}}"
    a, b = f"{tag}:a", f"{tag}:b"
    slot = slot_of(tag)
    masters = list(client.topology.masters)
    source = client.topology.slot_table()[slot]
    target = next(m for m in masters if m != source)
    (src_host, src_port), (dst_host, dst_port) = split_address(source), split_address(target)
    async with client:
        await client.mset({a: "before", b: "before"})
        source_id = command(src_host, src_port, "CLUSTER", "MYID")
        target_id = command(dst_host, dst_port, "CLUSTER", "MYID")
        command(dst_host, dst_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        command(src_host, src_port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        try:
            assert command(src_host, src_port, "MIGRATE", dst_host, dst_port, "", 0, 5000, "KEYS", a) == b"OK"
            pipe = client.pipeline()
            pipe.execute_command("MSET", a, "old1", b, "old1").execute_command("MSET", a, "old2", b, "old2")
            running = asyncio.ensure_future(pipe.execute())
            await asyncio.sleep(0.1)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running
            await asyncio.sleep(0.3)
        finally:
            command(src_host, src_port, "MIGRATE", dst_host, dst_port, "", 0, 5000, "KEYS", b)
            for master in masters:
                host, port = split_address(master)
                command(host, port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        await asyncio.sleep(0.05)
        assert await client.mset({a: "new", b: "new"}) is True
        await asyncio.sleep(1.2)
        assert await client.mget(a, b) == [b"new", b"new"]
        assert client.counters["tryagain"] >= 1


async def test_a_blocking_pop_across_a_failover_ends_with_the_element_or_a_typed_error(
    replica_cluster, prefix
):
    """BLPOP(0) waits on a master that then hangs: once its replica is promoted, the
    call ends within seconds, with the element pushed to the new master or a typed
    error saying the node lost the slot, never waiting on the hung node for ever."""
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    key = f"{prefix}:queue"
    owner = client._lookup(client._slot_of(key.encode()))
    host, port = split_address(owner)
    replica = replica_of(replica_cluster, owner)
    async with client:
        waiting = asyncio.ensure_future(client.blpop(key, timeout=0))
        await asyncio.sleep(0.3)
        signal_node(replica_cluster, port, signal.SIGSTOP)
        try:
            await asyncio.to_thread(wait_for_promotion, host, replica, 30)
            pushed = time.monotonic()
            await client.rpush(key, "element")  # to the promoted replica
            try:
                result = await asyncio.wait_for(waiting, 5.0)
            except (MaybeAppliedError, RedisConnectionError, RedisTimeoutError) as exc:
                result = exc
            ended = time.monotonic() - pushed
        finally:
            signal_node(replica_cluster, port, signal.SIGCONT)
            await asyncio.to_thread(replica_cluster.wait_healthy, 60)
        assert result == (key.encode(), b"element") or isinstance(result, MaybeAppliedError), result
        assert ended < 5.0
        if isinstance(result, MaybeAppliedError):
            assert "no longer serves" in str(result) or "lost its slots" in str(result), result
            assert await client.execute_command("LPOP", key) == b"element"  # it was not popped
