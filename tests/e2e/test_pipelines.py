"""Explicit pipelines against the real cluster and standalone server, under every stage
set: replies in the caller's order, each node's share in one write, errors per command,
and MOVED followed per command when a slot moved under the pipeline."""

import asyncio

import pytest

from rediscluster_opt import (
    ClusterClient,
    CrossSlotError,
    ResponseError,
    StandaloneClient,
    UnsafeCommandError,
)
from rediscluster_opt.stages.slot_hash import slot_crc_hqx as key_slot


@pytest.fixture(params=["cluster", "standalone"])
async def client(request, local_cluster, stages):
    if request.param == "cluster":
        client = await ClusterClient.connect(local_cluster.seeds, stages=stages)
    else:
        client = await StandaloneClient.connect(local_cluster.standalone_address, stages=stages)
    yield client
    await client.close()


async def test_replies_come_back_in_order_with_each_nodes_share_in_one_write(client, prefix):
    keys = [f"{prefix}k{i}" for i in range(200)]
    await asyncio.gather(*(client.get(k) for k in keys))  # every node's connection is open
    pipe = client.pipeline()
    for i, key in enumerate(keys):
        pipe.set(key, f"v{i}").get(key)
    before = client.io_counters()["writes"]
    results = await pipe.execute()
    writes = client.io_counters()["writes"] - before
    assert results == [r for i in range(200) for r in (True, f"v{i}".encode())]
    nodes = len(client.topology.masters) if isinstance(client, ClusterClient) else 1
    if client.stages.writer != "direct":  # a per-command writer writes each command on its own
        assert writes <= nodes, writes
    assert await client.pipeline().execute() == []


async def test_an_error_stays_with_its_command(client, prefix):
    await client.set(f"{prefix}text", "not a number")
    pipe = (
        client.pipeline()
        .incr(f"{prefix}text")
        .set(f"{prefix}after", "1")
        .execute_command("GET", f"{prefix}after")
    )
    results = await pipe.execute(raise_on_error=False)
    assert isinstance(results[0], ResponseError) and "not an integer" in str(results[0])
    assert results[1:] == [True, b"1"]
    await client.delete(f"{prefix}after")
    with pytest.raises(ResponseError, match="not an integer"):
        await client.pipeline().incr(f"{prefix}text").set(f"{prefix}after", "2").execute()
    assert await client.get(f"{prefix}after") == b"2"  # the commands after the error ran all the same


async def test_bad_pipelines_are_refused_before_anything_is_sent(cluster_client, prefix):
    with pytest.raises(UnsafeCommandError, match="SELECT refused in a pipeline"):
        cluster_client.pipeline().execute_command("SELECT", 1)
    with pytest.raises(UnsafeCommandError, match="BLPOP refused in a pipeline: it blocks"):
        cluster_client.pipeline().execute_command("BLPOP", f"{prefix}l", 1)
    pipe = (
        cluster_client.pipeline()
        .set(f"{prefix}sent", "1")
        .execute_command("MGET", f"{prefix}a", f"{prefix}b")
    )
    with pytest.raises(CrossSlotError, match="MGET"):
        await pipe.execute()
    assert await cluster_client.get(f"{prefix}sent") is None
    with pytest.raises(RuntimeError, match="executed already"):
        await pipe.execute()


async def test_a_slot_that_moved_under_the_pipeline_is_followed_per_command(local_cluster, stages, prefix):
    """The client's map sends the slot to a node that no longer owns it, as after a
    migration it has not heard of: the real owner answers MOVED, and each command of the
    pipeline is followed there. (The map is made stale on the client's side: moving slots
    for real in quick succession leaves the cluster's epochs to sort out.)"""
    # no refresh for a minute: only the MOVED replies may correct the map
    client = await ClusterClient.connect(
        local_cluster.seeds, stages=stages, refresh_interval=None, min_refresh_interval=60
    )
    try:
        key, other = f"{prefix}mover", f"{prefix}stays"
        slot = key_slot(key.encode())
        await client.set(key, "before")
        owner = client.topology.slot_table()[slot]
        elsewhere = next(m for m in client.topology.masters if m != owner)
        client.router.moved(slot, elsewhere)  # stale: the slot "moved" as far as the client knows
        assert client.topology.slot_table()[slot] == elsewhere
        pipe = client.pipeline().get(key).set(key, "after").set(other, "x").get(key).get(other)
        assert await pipe.execute() == [b"before", True, True, b"after", b"x"]
        assert client.counters["moved"] >= 1 and client.topology.slot_table()[slot] == owner
    finally:
        await client.close()


async def test_a_pipeline_of_100k_commands_outlives_a_short_command_timeout(local_cluster, prefix):
    """The server answers 100,000 GETs over about a second; with command_timeout=0.3 every
    one is answered, since the deadline is each node's progress, not each command's submit."""
    client = await ClusterClient.connect(local_cluster.seeds, command_timeout=0.3)
    async with client:
        await client.set(f"{prefix}:k", "v")
        pipe = client.pipeline()
        for _ in range(100_000):
            pipe.get(f"{prefix}:k")
        results = await pipe.execute(raise_on_error=False)
        assert results == [b"v"] * 100_000, {type(r).__name__ for r in results}


async def test_nothing_of_a_pipeline_that_cannot_be_sent_whole_is_sent_and_others_are_unharmed(
    local_cluster, prefix
):
    """A bad argument or a value over max_bulk_bytes in the middle of a pipeline sends
    nothing of it; a single command or transaction with such a value is refused too, and
    the shared connection every other caller uses is never closed by the server."""
    client = await ClusterClient.connect(local_cluster.seeds, max_bulk_bytes=64 * 1024)
    big = "x" * (64 * 1024 + 1)
    async with client:
        others = [asyncio.ensure_future(client.set(f"{prefix}:o{i}", i)) for i in range(20)]
        with pytest.raises(TypeError):
            await (
                client.pipeline()
                .set(f"{prefix}:a", "1")
                .execute_command("SET", f"{prefix}:b", object())
                .execute()
            )
        with pytest.raises(UnsafeCommandError, match="max_bulk_bytes"):
            await client.pipeline().set(f"{prefix}:a", "1").set(f"{prefix}:b", big).execute()
        with pytest.raises(UnsafeCommandError, match="proto-max-bulk-len"):
            await client.transaction(("SET", f"{{{prefix}}}:a", "1"), ("SET", f"{{{prefix}}}:b", big))
        with pytest.raises(UnsafeCommandError, match="proto-max-bulk-len"):
            await client.set(f"{prefix}:b", big)
        assert await asyncio.gather(*others) == [True] * 20
        assert await client.mget(f"{prefix}:a", f"{prefix}:b", f"{{{prefix}}}:a") == [None, None, None]
        assert client.counters["maybe_applied"] == 0 and client.counters["retries"] == 0
