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
        client._move_slot(slot, elsewhere)  # stale: the slot "moved" as far as the client knows
        assert client.topology.slot_table()[slot] == elsewhere
        pipe = client.pipeline().get(key).set(key, "after").set(other, "x").get(key).get(other)
        assert await pipe.execute() == [b"before", True, True, b"after", b"x"]
        assert client.counters["moved"] >= 1 and client.topology.slot_table()[slot] == owner
    finally:
        await client.close()
