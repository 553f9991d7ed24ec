"""Keys land on the node that owns their slot; our slot agrees with the server's."""

import random

from rediscluster_opt import ClusterClient, Stages
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.stages import REGISTRY


async def test_every_slot_variant_agrees_with_cluster_keyslot(local_cluster):
    rng = random.Random(7)
    keys = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40))) for _ in range(300)]
    keys += [b"user{42}:a", b"{42}", b"{}x", b"a{b}c{d}", b"{user", b"foo"]
    host, port = "127.0.0.1", local_cluster.ports[0]
    for key in keys:
        expected = command(host, port, "CLUSTER", "KEYSLOT", key)
        for name, slot_of in REGISTRY["slot_hash"].items():
            assert slot_of(key) == expected, (name, key)


async def test_keys_are_stored_on_the_owning_node(cluster_client, prefix):
    keys = [f"{prefix}:route:{i}" for i in range(100)] + [f"{prefix}{{tag}}:{i}" for i in range(5)]
    await cluster_client.mset({k: k for k in keys})
    used = set()
    for key in keys:
        owner = cluster_client.topology.slot_table()[cluster_client._slot_of(key.encode())]
        used.add(owner)
        # A direct GET on the owner answers the value: no MOVED, so it really lives there.
        assert command(*split_address(owner), "GET", key) == key.encode()
    assert len(used) == len(cluster_client.topology.masters)


async def test_hash_tags_share_slot_and_node(cluster_client):
    a, b = "user{42}:a", "{42}"
    await cluster_client.set(a, "1")
    await cluster_client.set(b, "2")
    assert cluster_client._slot_of(a.encode()) == cluster_client._slot_of(b.encode())
    # MSET on one slot goes out as a single command, which the server would reject
    # with CROSSSLOT if the slots differed.
    assert await cluster_client.execute_command("MGET", a, b) == [b"1", b"2"]


async def test_several_connections_per_node(local_cluster, prefix):
    client = await ClusterClient.connect(
        local_cluster.seeds, stages=Stages.optimized(), connections_per_node=3
    )
    async with client:
        keys = [f"{prefix}:{i}" for i in range(300)]
        await client.mset({k: k for k in keys})
        assert await client.mget(*keys) == [k.encode() for k in keys]
        assert len(client._pool.connections()) == 3 * len(local_cluster.ports)


async def test_topology_refresh_survives_the_seed_being_unknown(local_cluster):
    """After connecting, refreshes ask known masters first: a wrong seed left in the
    list no longer matters."""
    client = await ClusterClient.connect([local_cluster.seeds[0], "127.0.0.1:1"])
    async with client:
        client.seeds = ["127.0.0.1:1"]  # as if every seed had gone away
        topology = await client.refresh_topology()
        assert topology.is_complete
