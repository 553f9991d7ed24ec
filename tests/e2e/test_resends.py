"""A reply is the server's reply to the one execution that happened, and every wait ends
by the command's deadline: against real redis-server processes, under CLIENT KILL
storms, held dedicated connections, slot moves, failovers and a hung master."""

import asyncio
import signal
import time

import pytest

from rediscluster_opt import ClusterClient, RedisTimeoutError, ResponseError, Stages
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.core.slots import crc16_table, hash_tag
from rediscluster_opt.testing.faults import (
    CheckedLoad,
    keys_on,
    replica_of,
    signal_node,
    wait_for_promotion,
)
from rediscluster_opt.testing.migration import move_slot
from rediscluster_opt.testing.single_execution import SingleExecutionLoad, kill_storm

STORM_S = 2.0


@pytest.mark.parametrize(
    ("stages", "options"),
    [
        (Stages.optimized(), {}),  # retry=True, the default
        (Stages.optimized(), {"resend_writes": False}),
        (Stages.optimized(), {"retry": False}),
        (Stages.baseline(), {}),
    ],
    ids=["optimized-default", "optimized-resend_writes=False", "optimized-retry=False", "baseline-default"],
)
async def test_a_kill_storm_never_changes_a_reply(replica_cluster, stages, options, prefix):
    """CLIENT KILL of every connection every 50 ms over SADD, HSET, SETBIT, SET/DEL, INCR
    and SET/GET: every reply equals a single execution's, every error leaves the data in
    one of the two states the command allows, and the final data equals each worker's
    own history."""
    client = await ClusterClient.connect(replica_cluster.seeds, stages=stages, **options)
    load = SingleExecutionLoad(client.execute_command, f"{prefix}:storm", workers=12)
    stop, storm_stop = asyncio.Event(), asyncio.Event()
    async with client:
        running = asyncio.ensure_future(load.run(stop))
        storm = asyncio.ensure_future(kill_storm(client.topology.masters, storm_stop))
        await asyncio.sleep(STORM_S)
        storm_stop.set()
        killed = await storm
        await asyncio.sleep(0.2)  # a last round with no kill, so every worker reads its end state
        stop.set()
        await asyncio.wait_for(running, 60)
        counters = dict(client.counters)
    summary = (dict(load.counts), load.examples, counters)
    assert killed > 0, summary
    assert load.problems() == 0, summary
    assert load.counts["ok"] > 500, summary
    errors = sum(v for k, v in load.counts.items() if k.startswith("error:"))
    assert load.counts["resolved"] + load.counts["read error"] == errors, (
        summary
    )  # every write's outcome read back
    if options.get("retry", True):
        assert counters["retries"] + counters["maybe_applied"] > 0, (
            summary
        )  # the storm hit commands in flight
    if options.get("resend_writes") is False or options.get("retry") is False:
        assert "error:MaybeAppliedError" in load.counts or "error:RedisConnectionError" in load.counts, (
            summary
        )


async def test_a_blocking_call_with_every_dedicated_connection_held_ends_in_time(local_cluster, prefix):
    """4 dedicated connections held by BLPOP ... 0 (for ever): a fifth BLPOP with timeout
    1 and command_timeout 1 raises within 2 s, naming the wait; BRPOP the same."""
    client = await ClusterClient.connect(local_cluster.seeds, command_timeout=1.0)
    tag = f"{{{prefix}}}"
    async with client:
        await client.rpush(f"{tag}:full", "a", "b")
        holders = [asyncio.ensure_future(client.blpop(f"{tag}:empty", timeout=0)) for _ in range(4)]
        await asyncio.sleep(0.3)
        for name in ("BLPOP", "BRPOP"):
            started = time.monotonic()
            with pytest.raises(RedisTimeoutError, match=f"{name} on .*all 4 are held"):
                await client.execute_command(name, f"{tag}:full", 1)
            assert time.monotonic() - started < 1 + 1 + 1.0  # its timeout + command_timeout (+ slack)
        await client.rpush(f"{tag}:empty", *"wxyz")
        popped = await asyncio.wait_for(asyncio.gather(*holders), 5)
        assert sorted(v for _, v in popped) == [b"w", b"x", b"y", b"z"]
        assert await client.blpop(f"{tag}:full", timeout=1) == (f"{tag}:full".encode(), b"a")  # free again


@pytest.mark.parametrize("read_from", ["replica", "prefer_replica"])
async def test_replica_reads_follow_a_slot_move_and_a_failover(replica_cluster, read_from, prefix):
    """Reads from replicas while their slot moves to another master and back, then while
    a replica takes over its master (CLUSTER FAILOVER): no ResponseError (MOVED,
    CLUSTERDOWN) reaches a caller, and every value read is one that was written."""
    client = await ClusterClient.connect(
        replica_cluster.seeds, read_from=read_from, refresh_interval=None, command_timeout=5.0
    )
    async with client:
        key = f"{prefix}:moving".encode()
        slot = crc16_table(hash_tag(key)) % 16384
        source = client._lookup(slot)
        target = next(m for m in client.topology.masters if m != source)
        await client.set(key, b"value")
        await asyncio.sleep(0.2)  # replication is asynchronous
        stop = asyncio.Event()
        outcomes: list[str] = []

        async def reader() -> None:
            while not stop.is_set():
                try:
                    value = await client.get(key)
                    # None: a replica that has not yet seen the key arrive (replication is
                    # asynchronous: MIGRATE writes it to the new owner, then to its replica)
                    outcomes.append(
                        "ok" if value == b"value" else "missing" if value is None else f"value {value!r}"
                    )
                except ResponseError as exc:
                    outcomes.append(f"ResponseError {exc}")
                except Exception as exc:  # noqa: BLE001  # counted, and shown if the test fails
                    outcomes.append(type(exc).__name__)

        readers = [asyncio.ensure_future(reader()) for _ in range(8)]
        try:
            masters = list(client.topology.masters)
            await asyncio.to_thread(move_slot, slot, source, target, masters)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(move_slot, slot, target, source, masters)
            await asyncio.sleep(0.5)
            host, _ = split_address(source)
            replica = replica_of(replica_cluster, source)
            assert command(host, replica, "CLUSTER", "FAILOVER") == b"OK"
            await asyncio.to_thread(wait_for_promotion, host, replica, 30)
            await asyncio.sleep(1.0)
        finally:
            stop.set()
            await asyncio.gather(*readers)
            await asyncio.to_thread(replica_cluster.wait_healthy, 60)
        failed = [o for o in outcomes if o not in ("ok", "missing")]
        assert not failed, failed[:5]
        assert outcomes.count("ok") > 100 and client.counters["moved"] >= 1


async def test_a_hung_master_costs_other_masters_callers_nothing(replica_cluster, prefix):
    """SIGSTOP one master: until its replica is promoted every node answers CLUSTERDOWN;
    callers of the other masters retry it until their deadline, so they see no error."""
    client = await ClusterClient.connect(replica_cluster.seeds)  # command_timeout 5 s, the default
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    replica = replica_of(replica_cluster, victim)
    table = client.topology.slot_table()
    others = [m for m in client.topology.masters if m != victim]
    loads = [CheckedLoad(client.set, client.get, keys_on(m, table, 32, f"{prefix}:{m}"), 8) for m in others]
    stop = asyncio.Event()
    try:
        async with client:
            tasks = [asyncio.ensure_future(load.run(stop)) for load in loads]
            await asyncio.sleep(0.5)
            signal_node(replica_cluster, port, signal.SIGSTOP)
            await asyncio.to_thread(wait_for_promotion, host, replica, 30)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            clusterdown = client.counters["clusterdown"]
    finally:
        signal_node(replica_cluster, port, signal.SIGCONT)
        await asyncio.to_thread(replica_cluster.wait_healthy, 60)
    for load in loads:
        assert not load.errors(), load.errors()
        assert load.outcomes()["ok"] > 100
    print(f"CLUSTERDOWN answers retried by the other masters' callers: {clusterdown}")
