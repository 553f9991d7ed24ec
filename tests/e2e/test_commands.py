"""Every command family against the real cluster and the real standalone server, under
every stage set of conftest.STAGE_SETS; and with the optimized stages over TLS with a
password and as an ACL user (the secured local clusters)."""

import asyncio

import pytest

from rediscluster_opt import (
    ClusterClient,
    ClusterDownError,
    RedisConnectionError,
    ResponseError,
    Stages,
    StandaloneClient,
)
from rediscluster_opt.admin import command
from rediscluster_opt.errors import ConfigurationError
from rediscluster_opt.pytest_plugin import SECURED_ACL_USER, TLS_PASSWORD
from tests.e2e.conftest import STAGE_SETS


def connect_plain(request, kind, stages):
    cluster = request.getfixturevalue("local_cluster")
    if kind == "cluster":
        return ClusterClient.connect(cluster.seeds, stages=stages)
    return StandaloneClient.connect(cluster.standalone_address, stages=stages)


def connect_secured(request, kind, stages):
    if kind == "cluster as an ACL user":
        name, secret = SECURED_ACL_USER
        return ClusterClient.from_url(
            request.getfixturevalue("secured_cluster").url(userinfo=f"{name}:{secret}@"), stages=stages
        )
    tls = request.getfixturevalue("tls_cluster")
    if kind == "cluster over TLS":
        return ClusterClient.from_url(tls.url(userinfo=f":{TLS_PASSWORD}@"), stages=stages)
    return StandaloneClient.from_url(
        tls.url(tls.standalone_port, userinfo=f":{TLS_PASSWORD}@"), stages=stages
    )


CLIENTS = [
    *((kind, stages, connect_plain) for kind in ("cluster", "standalone") for stages in STAGE_SETS),
    *(
        (kind, Stages.optimized(), connect_secured)
        for kind in ("cluster over TLS", "standalone over TLS", "cluster as an ACL user")
    ),
]


@pytest.fixture(params=CLIENTS, ids=lambda p: f"{p[0]}-{p[1].label()}")
async def client(request):
    kind, stages, connect = request.param
    client = await connect(request, kind, stages)
    yield client
    await client.close()


async def test_strings(client, prefix):
    key = f"{prefix}:s"
    assert await client.set(key, b"v1", px=60000) is True
    assert await client.get(key) == b"v1"
    assert 0 < await client.pttl(key) <= 60000
    assert await client.set(key, "v2", nx=True) is None
    assert await client.set(key, "v2", xx=True, ex=100) is True
    assert await client.get(key.encode()) == b"v2"
    assert 0 < await client.ttl(key) <= 100
    assert await client.psetex(f"{prefix}:p", 5000, "x") is True
    assert await client.get(f"{prefix}:missing") is None
    assert await client.incr(f"{prefix}:n") == 1
    assert await client.incrby(f"{prefix}:n", 10) == 11
    assert await client.decr(f"{prefix}:n") == 10
    assert await client.decrby(f"{prefix}:n", 5) == 5
    assert await client.set(f"{prefix}:utf8", "héllo") is True
    assert (await client.get(f"{prefix}:utf8")).decode() == "héllo"


async def test_keys_and_multi_key_commands(client, prefix):
    keys = [f"{prefix}:k{i}" for i in range(40)]  # spread over every master
    assert await client.mset({k: f"v{i}" for i, k in enumerate(keys)}) is True
    assert await client.mget(*keys, f"{prefix}:none") == [f"v{i}".encode() for i in range(40)] + [None]
    assert await client.exists(*keys[:10], f"{prefix}:none") == 10
    assert await client.expire(keys[0], 100) is True
    assert await client.pexpire(keys[1], 100000) is True
    assert await client.expire(f"{prefix}:none", 100) is False
    assert await client.delete(*keys[:20]) == 20
    assert await client.unlink(*keys[20:]) == 20
    assert await client.exists(*keys) == 0


async def test_hashes(client, prefix):
    key = f"{prefix}:h"
    assert await client.hset(key, "f1", "a") == 1
    assert await client.hset(key, mapping={"f2": "b", "f3": 3}) == 2
    assert await client.hget(key, "f2") == b"b"
    assert await client.hgetall(key) == {b"f1": b"a", b"f2": b"b", b"f3": b"3"}
    assert await client.hdel(key, "f1", "nope") == 1
    with pytest.raises(ValueError, match="hset needs"):
        await client.hset(key)


async def test_lists_sets_sorted_sets(client, prefix):
    assert await client.rpush(f"{prefix}:l", "b", "c") == 2
    assert await client.lpush(f"{prefix}:l", "a") == 3
    assert await client.lrange(f"{prefix}:l", 0, -1) == [b"a", b"b", b"c"]
    assert await client.sadd(f"{prefix}:set", "x", "y", "x") == 2
    assert await client.smembers(f"{prefix}:set") == {b"x", b"y"}
    assert await client.zadd(f"{prefix}:z", {"m1": 2, "m2": 1.5}) == 2
    assert await client.zrange(f"{prefix}:z", 0, -1) == [b"m2", b"m1"]
    assert await client.zrange(f"{prefix}:z", 0, -1, withscores=True) == [(b"m2", 1.5), (b"m1", 2.0)]


async def test_execute_command_and_keyless(client, prefix):
    assert await client.execute_command("HSET", f"{prefix}:h", "f", "v") == 1
    assert await client.execute_command("HGET", f"{prefix}:h", "f") == b"v"
    assert (
        await client.execute_command("EVAL", "return redis.call('GET', KEYS[1])", 1, f"{prefix}:h2") is None
    )
    assert await client.ping() is True
    assert await client.execute_command("PING") == b"PONG"
    assert await client.dbsize() >= 1
    assert isinstance(await client.execute_command("DBSIZE", target="all"), dict)


async def test_error_replies_are_typed_and_name_node_and_command(client, prefix):
    await client.set(f"{prefix}:str", "x")
    with pytest.raises(ResponseError) as caught:
        await client.execute_command("LPUSH", f"{prefix}:str", "y")
    assert caught.value.code == "WRONGTYPE"
    assert "LPUSH on 127.0.0.1:" in str(caught.value)
    assert await client.get(f"{prefix}:str") == b"x"  # the connection is still fine


async def test_concurrency_storm_has_no_cross_talk(client, prefix):
    """10,000 operations from 100 concurrent callers, each value unique to its caller."""

    async def caller(n: int) -> None:
        for i in range(50):
            key, value = f"{prefix}:c{n}:{i % 5}", f"caller{n}-op{i}".encode() * (1 + i % 3)
            assert await client.set(key, value) is True
            assert await client.get(key) == value

    await asyncio.wait_for(asyncio.gather(*(caller(n) for n in range(100))), 60)


async def test_bad_input_gives_clear_errors(local_cluster):
    with pytest.raises(ValueError, match="bad address 'nohost'"):
        await ClusterClient.connect(["nohost"])
    with pytest.raises(ValueError, match="at least one seed"):
        await ClusterClient.connect([])
    with pytest.raises(ValueError, match="connections_per_node"):
        await ClusterClient.connect(local_cluster.seeds, connections_per_node=0)
    with pytest.raises(ClusterDownError, match="127.0.0.1:1: .*cannot connect"):
        await ClusterClient.connect(["127.0.0.1:1"], connect_timeout=1)
    with pytest.raises(ClusterDownError, match="cluster support disabled"):
        await ClusterClient.connect([local_cluster.standalone_address])
    assert command("127.0.0.1", local_cluster.ports[0], "PING") == b"PONG"
    with pytest.raises(RedisConnectionError):
        await StandaloneClient.connect("127.0.0.1:1", connect_timeout=1)


@pytest.mark.parametrize(
    "args", [("MULTI",), ("SUBSCRIBE", "news"), ("WAIT", 1, 0), ("CLIENT", "REPLY", "OFF")]
)
async def test_commands_that_would_corrupt_the_shared_connection_are_refused(cluster_client, args):
    from rediscluster_opt import UnsafeCommandError

    await cluster_client.set("still-in-sync", b"yes")
    with pytest.raises(UnsafeCommandError, match=f"{args[0]} refused"):
        await cluster_client.execute_command(*args)
    # nothing reached the server, so every later reply still matches its request
    assert await cluster_client.get("still-in-sync") == b"yes"
    assert await cluster_client.execute_command("ECHO", "x", key="still-in-sync") == b"x"


async def test_scan_and_keys_go_to_the_nodes_named(local_cluster, prefix):
    """SCAN and KEYS answer for one node's keys: in cluster mode they need a target, and
    with one a whole SCAN stays on that node."""
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        keys = [f"{prefix}:scan:{i}" for i in range(50)]
        await client.mset(dict.fromkeys(keys, "v"))
        with pytest.raises(ValueError, match="SCAN in cluster mode needs target="):
            await client.execute_command("SCAN", 0)
        with pytest.raises(ValueError, match="KEYS in cluster mode needs a target"):
            await client.execute_command("KEYS", f"{prefix}:scan:*")
        found = set()
        for master in client.topology.masters:
            cursor = b"0"
            while True:
                cursor, batch = await client.execute_command(
                    "SCAN", cursor, "MATCH", f"{prefix}:scan:*", "COUNT", 100, target=master
                )
                found.update(batch)
                if cursor == b"0":
                    break
        per_node = await client.execute_command("KEYS", f"{prefix}:scan:*", target="all")
        assert found == {k.encode() for k in keys} == {k for ks in per_node.values() for k in ks}


async def test_options_the_servers_refuse_are_named(local_cluster):
    with pytest.raises(ConfigurationError, match=r"setup_commands\[0\]: 127.0.0.1:\d+ refused CONFIG"):
        await ClusterClient.connect(
            local_cluster.seeds, setup_commands=[("CONFIG", "SET", "no-such-option", 1)]
        )
    with pytest.raises(ConfigurationError, match="client_name 'my app' has ' '"):
        await ClusterClient.connect(local_cluster.seeds, client_name="my app")
    with pytest.raises(ConfigurationError, match=r"setup_commands\[0\]: SELECT is refused in cluster mode"):
        await ClusterClient.connect(local_cluster.seeds, setup_commands=[("SELECT", 1)])
    with pytest.raises(ConfigurationError, match=r"setup_commands\[0\]: 127.0.0.1:\d+ refused CONFIG"):
        await StandaloneClient.connect(
            local_cluster.standalone_address, setup_commands=[("CONFIG", "SET", "no-such-option", 1)]
        )
