"""Production faults against real redis-server processes, each with a checked load (every
caller SETs its own values and reads them back, so a misdelivered reply is caught).

Failover cases use `replica_cluster` (3 masters + 3 replicas on ports of their own, a
1.5 s node timeout); the rest use the session's cluster. Recovery times are asserted
loosely (the node stays down long after the promotion, so recovering at all means the
client followed the promotion); the measured figures live in the US-010 notebook."""

import asyncio
import os
import signal
import time

import pytest

from rediscluster_opt import ClusterClient, Stages
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.testing.faults import (
    CheckedLoad,
    keys_on,
    replica_of,
    resident_bytes,
    signal_node,
    wait_for_promotion,
)

PRESETS = [Stages.baseline(), Stages.optimized()]


async def run_load(loads, fault, settle):
    """Run every load, inject `fault` (an async callable returning a timestamp) after
    0.5 s of steady load, keep the load running `settle` seconds more, stop."""
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(load.run(stop)) for load in loads]
    try:
        await asyncio.sleep(0.5)
        moment = await fault()
        await asyncio.sleep(settle)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)  # nothing hangs
    return moment


def split_loads(client, victim, prefix, workers=12):
    table = client.topology.slot_table()
    other = next(m for m in client.topology.masters if m != victim)
    return (
        CheckedLoad(client.set, client.get, keys_on(victim, table, 40, f"{prefix}v"), workers),
        CheckedLoad(client.set, client.get, keys_on(other, table, 40, f"{prefix}o"), workers),
    )


@pytest.mark.parametrize("fault", ["SIGSTOP", "SIGKILL"])
async def test_a_failed_master_is_left_at_its_replicas_promotion(replica_cluster, fault, prefix):
    """A hung (SIGSTOP: a partition, a frozen VM) or crashed master: its slots serve again
    soon after the replica's promotion, while the old master is still down."""
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    replica_port = replica_of(replica_cluster, victim)
    on_victim, elsewhere = split_loads(client, victim, prefix)
    promoted_at = {}

    async def fail_master():
        failed_at = time.monotonic()
        signal_node(replica_cluster, port, getattr(signal, fault))
        promoted_at["t"] = await asyncio.to_thread(wait_for_promotion, host, replica_port, 30)
        return failed_at

    try:
        async with client:
            failed_at = await run_load([on_victim, elsewhere], fail_master, settle=1.5)
    finally:
        if fault == "SIGSTOP":
            signal_node(replica_cluster, port, signal.SIGCONT)
        else:
            await asyncio.to_thread(replica_cluster.start_node, port)
        await asyncio.to_thread(replica_cluster.wait_healthy, 60)

    recovery = on_victim.recovery_after(promoted_at["t"])
    print(
        f"{fault}: promoted {promoted_at['t'] - failed_at:.2f} s after the fault; "
        f"served again {recovery} s later"
    )
    assert recovery is not None and recovery < 2.0, on_victim.timeline(failed_at)
    assert on_victim.outcomes(failed_at + 0.2)["ok"] > 0
    assert not elsewhere.errors(), (elsewhere.timeline(failed_at), promoted_at["t"] - failed_at)
    assert on_victim.outcomes()["wrong value"] == 0
    assert client.counters["suspected"] >= 1 and client.counters["refreshes"] >= 2


async def test_a_graceful_failover_costs_no_errors(replica_cluster, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds)
    victim = client.topology.masters[1]
    host, _ = split_address(victim)
    replica_port = replica_of(replica_cluster, victim)
    loads = split_loads(client, victim, prefix)

    async def failover():
        assert command(host, replica_port, "CLUSTER", "FAILOVER") == b"OK"
        await asyncio.to_thread(wait_for_promotion, host, replica_port, 30)
        return time.monotonic()

    async with client:
        await run_load(loads, failover, settle=1.0)
    await asyncio.to_thread(replica_cluster.wait_healthy, 60)
    for load in loads:
        assert not load.errors(), load.errors()
        assert load.outcomes()["ok"] > 100


@pytest.mark.parametrize("stages", PRESETS, ids=lambda s: s.label())
async def test_client_kill_under_load_costs_no_errors(local_cluster, stages, prefix, caplog):
    """Every connection killed by the servers, five times, under a SET/GET load: SET and
    GET are safe to send again, so the default retry policy hides every loss. Nothing is
    written to a transport whose connection broke: asyncio logs no "socket.send() raised
    exception." (the baseline's per-command writer logged thousands before)."""
    caplog.set_level("WARNING", logger="asyncio")
    client = await ClusterClient.connect(local_cluster.seeds, stages=stages)
    load = CheckedLoad(client.set, client.get, [f"{prefix}:{i}".encode() for i in range(200)], workers=32)

    async def kill_connections():
        moment = time.monotonic()
        for _ in range(5):
            for port in local_cluster.ports:
                await asyncio.to_thread(command, "127.0.0.1", port, "CLIENT", "KILL", "TYPE", "normal")
            await asyncio.sleep(0.2)
        return moment

    async with client:
        await run_load([load], kill_connections, settle=0.3)
    assert not load.errors(), load.errors()
    assert load.outcomes()["ok"] > 500
    assert client.counters["retries"] > 0, client.counters
    assert not [r for r in caplog.records if r.name == "asyncio"], caplog.records[:3]


async def test_a_sleeping_node_delays_only_its_own_callers(local_cluster, prefix):
    client = await ClusterClient.connect(local_cluster.seeds, command_timeout=0.5)
    victim = client.topology.masters[-1]
    host, port = split_address(victim)
    on_victim, elsewhere = split_loads(client, victim, prefix)

    async def sleep_node():
        moment = time.monotonic()
        await asyncio.to_thread(command, host, port, "DEBUG", "SLEEP", "1.5", timeout=5)
        return moment

    async with client:
        slept_at = await run_load([on_victim, elsewhere], sleep_node, settle=0.5)
        assert set(on_victim.errors()) == {"RedisTimeoutError"}, on_victim.errors()
        assert not elsewhere.errors(), elsewhere.errors()
        assert on_victim.outcomes(slept_at + 1.6)["ok"] > 0  # served again once awake
        assert on_victim.outcomes()["wrong value"] == 0  # the stream stayed in sync
        key = f"{prefix}:after".encode()
        await client.set(key, b"in sync")
        assert await client.get(key) == b"in sync"


async def test_read_from_replica_is_served_by_the_replicas(replica_cluster, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds, read_from="replica")
    async with client:
        keys = [f"{prefix}:{i}" for i in range(60)]
        for key in keys:
            assert await client.set(key, key) is True  # writes go to the primaries
        ports = replica_cluster.cluster_ports
        for port in ports:
            command("127.0.0.1", port, "CONFIG", "RESETSTAT")
        await asyncio.sleep(0.2)  # replication is asynchronous: let the replicas catch up
        values = [await client.get(key) for key in keys]
        assert values == [k.encode() for k in keys]
        gets = {}
        for port in ports:
            stats = command("127.0.0.1", port, "INFO", "commandstats").decode()
            role = command("127.0.0.1", port, "ROLE")[0]
            calls = next(
                (
                    int(line.split("calls=")[1].split(",")[0])
                    for line in stats.splitlines()
                    if line.startswith("cmdstat_get:")
                ),
                0,
            )
            gets[role] = gets.get(role, 0) + calls
        assert gets.get(b"slave", 0) == len(keys), gets
        assert gets.get(b"master", 0) == 0, gets
        assert client.counters["replica_reads"] == len(keys)


async def test_transactions_are_atomic_and_refuse_cross_slot(cluster_client, prefix):
    tag = f"{{{prefix}}}"
    a, b = f"{tag}:a", f"{tag}:b"
    assert await cluster_client.transaction(("SET", a, 0), ("SET", b, 0)) == [b"OK", b"OK"]
    seen = []

    async def writer():
        for _ in range(100):
            await cluster_client.transaction(("INCR", a), ("INCR", b))

    async def reader():
        for _ in range(100):
            seen.append(tuple(await cluster_client.transaction(("GET", a), ("GET", b))))

    await asyncio.gather(writer(), writer(), reader(), reader())
    assert all(x == y for x, y in seen), [s for s in seen if s[0] != s[1]][:3]  # never half applied
    assert await cluster_client.mget(a, b) == [b"200", b"200"]
    from rediscluster_opt import CrossSlotError, ResponseError

    with pytest.raises(CrossSlotError):
        await cluster_client.transaction(("SET", f"{prefix}x", 1), ("SET", f"{prefix}y", 1))
    with pytest.raises(ResponseError, match="wrong number of arguments"):
        await cluster_client.transaction(("SET", a), ("INCR", b))  # refused when queued: nothing runs
    assert await cluster_client.get(b) == b"200"
    counted, failed = await cluster_client.transaction(("INCR", b), ("LPUSH", b, "x"), raise_on_error=False)
    assert counted == 201 and isinstance(failed, ResponseError) and failed.code == "WRONGTYPE"


async def test_blocking_commands_wait_on_their_own_connection(cluster_client, prefix):
    queue = f"{prefix}:queue"
    popped = asyncio.ensure_future(cluster_client.blpop(queue, timeout=0))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    for i in range(50):  # the same node keeps answering everyone else
        assert await cluster_client.set(queue + f":{i}", i) is True
    assert time.monotonic() - started < 2.0
    assert not popped.done()
    assert await cluster_client.rpush(queue, "job") == 1
    assert await asyncio.wait_for(popped, 5) == (queue.encode(), b"job")
    assert await cluster_client.blpop(queue, timeout=0.1) is None  # server-side timeout

    # A cancelled blocking call closes its dedicated connection (the server stops
    # blocking on it); the shared one is untouched.
    node = cluster_client._lookup(cluster_client._slot_of(queue.encode()))

    async def blocked_clients():
        info = await cluster_client.execute_command("INFO", "clients", target=node)
        return int(info.split(b"blocked_clients:")[1].split(b"\r\n")[0])

    waiting = asyncio.ensure_future(cluster_client.execute_command("BRPOP", queue, 0))
    await asyncio.sleep(0.1)
    assert await blocked_clients() == 1
    waiting.cancel()
    deadline = time.monotonic() + 5
    while await blocked_clients():
        assert time.monotonic() < deadline, "the cancelled BRPOP's connection is still blocking"
        await asyncio.sleep(0.01)
    await cluster_client.rpush(queue, "later")
    assert await cluster_client.lrange(queue, 0, -1) == [b"later"]


@pytest.mark.parametrize("stages", PRESETS, ids=lambda s: s.label())
async def test_a_write_flood_to_a_stalled_node_stays_within_its_memory_bound(local_cluster, stages):
    """10,000 concurrent SETs of one shared 100 KB value to one node that stops reading
    for 0.5 s: callers wait for room instead of each holding a copy (1 GB unbounded)."""
    client = await ClusterClient.connect(local_cluster.seeds, stages=stages, command_timeout=60)
    async with client:
        value = os.urandom(100_000)
        keys = [f"{{flood}}:{i % 10}" for i in range(10_000)]
        host, port = split_address(client._lookup(client._slot_of(b"flood")))
        await client.set(keys[0], value)
        baseline, peak = resident_bytes(), 0

        async def sample():
            nonlocal peak
            while True:
                peak = max(peak, resident_bytes())
                await asyncio.sleep(0.002)

        sampler = asyncio.ensure_future(sample())
        sleeping = asyncio.ensure_future(
            asyncio.to_thread(command, host, port, "DEBUG", "SLEEP", "0.5", timeout=5)
        )
        await asyncio.sleep(0.05)
        results = await asyncio.gather(*(client.set(key, value) for key in keys))
        sampler.cancel()
        await sleeping
        assert results == [True] * len(keys)
        assert client.counters["capacity_waits"] > 0
        growth = peak - baseline
        print(
            f"{stages.label()}: peak RSS growth {growth / 1e6:.0f} MB "
            f"for {len(keys) * len(value) / 1e6:.0f} MB sent"
        )
        assert growth < 400e6
        assert await client.get(keys[-1]) == value


def node_id(host, port):
    return command(host, port, "CLUSTER", "MYID").decode()


async def test_ask_redirects_keep_the_free_list_bounded(replica_cluster, prefix):
    """100,000 ASK redirects (a slot left half-migrated: every missing key is asked for on
    the importing node): the pooled records stay within the free list's cap."""
    from rediscluster_opt.stages.submit import PooledFutureSubmit

    client = await ClusterClient.connect(replica_cluster.seeds, stages=Stages.optimized())
    async with client:
        key = f"{{{prefix}}}:missing".encode()
        slot = client._slot_of(key)
        source = client._lookup(slot)
        target = next(m for m in client.topology.masters if m != source)
        (sh, sp), (th, tp) = split_address(source), split_address(target)
        assert command(th, tp, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_id(sh, sp)) == b"OK"
        assert command(sh, sp, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_id(th, tp)) == b"OK"
        try:
            baseline = resident_bytes()
            for _ in range(100):
                assert await asyncio.gather(*(client.get(key) for _ in range(1000))) == [None] * 1000
            assert client.counters["ask"] >= 100_000
            free = [len(m._submit._free) for m in client._pool.connections()]
            assert max(free) <= PooledFutureSubmit.FREE_CAP, free
            assert resident_bytes() - baseline < 50e6
        finally:
            for host, port in ((sh, sp), (th, tp)):
                command(host, port, "CLUSTER", "SETSLOT", slot, "STABLE")


async def test_unassigned_slots_cannot_start_a_refresh_storm(replica_cluster, prefix):
    """100 slots owned by no node: commands on them fail at once with ClusterDownError,
    and the client refreshes at most once per min_refresh_interval meanwhile."""
    client = await ClusterClient.connect(replica_cluster.seeds)
    table = client.topology.slot_table()
    first = 16000
    owner = table[first]
    assert all(table[s] == owner for s in range(first, first + 100))
    host, port = split_address(owner)
    keys = keys_on(owner, table, 2000, prefix)
    lost = [k for k in keys if first <= client._slot_of(k) < first + 100][:20]
    assert lost, "no test key in the unassigned range"
    # a key of the same node's other slots (a name of its own could hash into the range:
    # `<prefix>:served` did, 1 time in 164)
    served = next(k for k in keys if not first <= client._slot_of(k) < first + 100)
    for address in replica_cluster.seeds:
        command(*split_address(address), "CLUSTER", "DELSLOTSRANGE", first, first + 99)
    try:
        async with client:
            await client.refresh_topology()
            refreshes, started = client.counters["refreshes"], time.monotonic()
            failures = 0
            while time.monotonic() - started < 2.0:
                outcomes = await asyncio.gather(*(client.get(k) for k in lost), return_exceptions=True)
                failures += sum(1 for o in outcomes if o is not None)
            elapsed = time.monotonic() - started
            assert failures > 1000  # every command failed, typed, without hanging
            assert client.counters["refreshes"] - refreshes <= elapsed / client.min_refresh_interval + 2
            assert await client.set(served, "yes") is True  # the rest is served, on that node too
    finally:
        command(host, port, "CLUSTER", "ADDSLOTSRANGE", first, first + 99)
        await asyncio.to_thread(replica_cluster.wait_healthy, 60)
