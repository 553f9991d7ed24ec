"""The redis-py drop-in (rediscluster_opt.compat) against the real cluster and standalone
server: the same calls through redis-py's own clients and through the facade give the same
results, errors are redis-py's classes, and what it does not support is named."""

from __future__ import annotations

import uuid

import pytest

redis = pytest.importorskip("redis")
from redis import exceptions as redis_errors  # noqa: E402

from rediscluster_opt.compat import Redis, RedisCluster, UnsupportedOption  # noqa: E402
from rediscluster_opt.testing.faults import replica_of  # noqa: E402


def host_port(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


async def scenario(client, prefix: str) -> list:
    """A redis-py application's calls, options and reply shapes included."""
    k = lambda name: f"{prefix}:{name}"  # noqa: E731
    out = [
        await client.set(k("s"), "v", ex=100),
        await client.set(k("s"), "w", nx=True),
        await client.get(k("s")),
        await client.getdel(k("s")),
        await client.setex(k("e"), 100, 7),
        await client.incrby(k("e"), 5),
        await client.incrbyfloat(k("e"), 0.5),
        await client.hset(k("h"), mapping={"a": 1, "b": "x"}),
        await client.hgetall(k("h")),
        await client.hincrby(k("h"), "a", 2),
        await client.hmget(k("h"), ["a", "b", "c"]),
        await client.rpush(k("l"), 1, 2, 3),
        await client.lpop(k("l")),
        await client.llen(k("l")),
        await client.lrange(k("l"), 0, -1),
        await client.sadd(k("set"), "a", "b"),
        await client.sismember(k("set"), "a"),
        await client.smembers(k("set")),
        await client.zadd(k("z"), {"a": 1.5, "b": 2}),
        await client.zincrby(k("z"), 1, "a"),
        await client.zscore(k("z"), "a"),
        await client.zrange(k("z"), 0, -1, withscores=True),
        await client.expire(k("z"), 100),
        await client.ttl(k("z")) > 0,
        await client.type(k("h")),
        await client.exists(k("h"), k("l"), k("missing")),
        await client.delete(k("h"), k("l"), k("set"), k("z"), k("e")),
        await client.ping(),
    ]
    return out


async def test_the_same_calls_give_the_same_results_as_redis_py(pair):
    theirs, ours = pair
    prefix = f"rcopt:compat:{uuid.uuid4().hex[:8]}"
    expected = await scenario(theirs, prefix + ":theirs")
    found = await scenario(ours, prefix + ":ours")
    assert found == expected
    assert found[2] == "v" and found[21] == [("b", 2.0), ("a", 2.5)]  # decoded, shaped by redis-py


async def test_keys_in_several_slots_and_fan_out_commands(local_cluster):
    host, port = host_port(local_cluster.seeds[0])
    async with RedisCluster(host=host, port=port) as client:
        keys = [f"rcopt:compat:fan:{uuid.uuid4().hex}:{i}".encode() for i in range(20)]
        assert len({client.keyslot(key) for key in keys}) > 1
        await client.mset_nonatomic({key: b"v%d" % i for i, key in enumerate(keys)})
        assert await client.mget_nonatomic(keys) == [b"v%d" % i for i in range(20)]
        assert await client.exists(*keys) == 20  # split per slot, summed
        assert (
            await client.dbsize(target_nodes=RedisCluster.PRIMARIES) >= 20
        )  # every master, summed as redis-py sums
        assert await client.ping(target_nodes=RedisCluster.PRIMARIES) is True
        assert await client.delete(*keys) == 20
        assert await client.mget_nonatomic(keys) == [None] * 20


async def test_errors_are_redis_py_s_classes(local_cluster):
    host, port = host_port(local_cluster.seeds[0])
    async with RedisCluster(host=host, port=port) as client:
        key = f"rcopt:compat:err:{uuid.uuid4().hex}"
        await client.rpush(key, 1)
        with pytest.raises(redis_errors.ResponseError, match="WRONGTYPE"):
            await client.get(key)
        with pytest.raises(redis_errors.NoScriptError):
            await client.evalsha("0" * 40, 1, key)
        await client.delete(key)


async def test_pipelines_and_transactions_in_redis_py_s_shape(local_cluster):
    host, port = host_port(local_cluster.seeds[0])
    async with RedisCluster(host=host, port=port, decode_responses=True) as client:
        tag = f"{{rcopt:compat:{uuid.uuid4().hex}}}"
        pipe = client.pipeline()
        pipe.set(f"{tag}:a", 1).incr(f"{tag}:a").get(f"{tag}:a").lpush(f"{tag}:a", 1)
        assert len(pipe) == 4
        with pytest.raises(redis_errors.ResponseError, match="WRONGTYPE"):
            await pipe.execute()
        pipe.get(f"{tag}:a").lpush(f"{tag}:a", 1).zadd(f"{tag}:z", {"m": 1})
        pipe.zrange(f"{tag}:z", 0, -1, withscores=True)
        replies = await pipe.execute(raise_on_error=False)
        assert replies[0] == "2" and isinstance(replies[1], redis_errors.ResponseError)
        assert replies[2] == 1 and replies[3] == [("m", 1.0)]
        transaction = client.pipeline(transaction=True)
        transaction.incr(f"{tag}:a").incr(f"{tag}:a")
        assert await transaction.execute() == [3, 4]
        await client.delete(f"{tag}:a", f"{tag}:z")


async def test_from_url_and_what_is_not_supported_is_named(local_cluster):
    host, port = host_port(local_cluster.seeds[0])
    client = RedisCluster.from_url(f"redis://{host}:{port}", decode_responses=True)
    assert await client.ping() is True
    await client.aclose()
    with pytest.raises(UnsupportedOption, match="cache_config"):
        RedisCluster(host=host, port=port, cache_config=object())
    with pytest.raises(UnsupportedOption, match="protocol=4: RESP2 .protocol=2. or RESP3 .protocol=3."):
        RedisCluster(host=host, port=port, protocol=4)
    with pytest.raises(UnsupportedOption, match="db"):
        Redis(host=host, port=port, db=1)
    async with RedisCluster(host=host, port=port) as client:
        with pytest.raises(UnsupportedOption, match="nodes_manager"):
            client.nodes_manager  # noqa: B018  # redis-py's internal, named


async def test_registered_scripts_load_themselves_after_a_script_flush(pair):
    """redis-py's Script: EVALSHA, and on NOSCRIPT the script loaded (on every master of a
    cluster, as redis-py's SCRIPT LOAD goes) and run again."""
    _, ours = pair
    key = f"rcopt:compat:script:{uuid.uuid4().hex}"
    assert await ours.script_flush() is True
    script = ours.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert await ours.script_exists(script.sha) == [False]
    assert await script(keys=[key], args=[2]) == 2  # NOSCRIPT, loaded, run
    assert await ours.script_exists(script.sha) == [True]
    assert await script(keys=[key], args=[3]) == 5  # EVALSHA alone
    await ours.delete(key)


@pytest.mark.measures  # a benchmark run: beside no other test (make test)
def test_the_drop_in_is_a_bench_arm_beside_the_native_api(local_cluster):
    """`compat` in a bench run: the same checked GET workload, every reply verified."""
    from rediscluster_opt.bench.adapters import ClientConfig
    from rediscluster_opt.bench.runner import run_benchmark

    arms = [ClientConfig.parse("optimized"), ClientConfig.parse("compat")]
    record = run_benchmark(arms, modes=("cluster", "standalone"), concurrency=8, duration=0.2, warmup=0.05,
                           repeats=1, pin=False, progress=None, reruns=0)  # fmt: skip
    ran = {(t["config"], t["mode"]) for t in record["trials"] if t["status"] == "ok" and t["valid"]}
    assert ran == {(arm, mode) for arm in ("optimized", "compat") for mode in ("cluster", "standalone")}
    assert all(t["ops"] > 0 and t["wrong"] == 0 for t in record["trials"])


def gets_served(host: str, port: int) -> int:
    """How many GETs the node has answered (INFO commandstats)."""
    from rediscluster_opt.admin import command

    for line in command(host, port, "INFO", "commandstats").decode().splitlines():
        if line.startswith("cmdstat_get:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def offset(host: str, port: int, field: str) -> int:
    from rediscluster_opt.admin import command

    info = command(host, port, "INFO", "replication").decode()
    return int(next(line for line in info.splitlines() if line.startswith(field)).split(":")[1])


def online_in_shards(seed, port: int) -> bool:
    """Whether the seed's CLUSTER SHARDS reports the node on `port` online."""
    from rediscluster_opt.admin import command

    for shard in command(*seed, "CLUSTER", "SHARDS"):
        for node in dict(zip(shard[::2], shard[1::2], strict=True))[b"nodes"]:
            fields = dict(zip(node[::2], node[1::2], strict=True))
            if fields[b"port"] == port:
                return fields[b"health"] == b"online"
    return False


async def caught_up(seed, primary, replica, timeout=15.0):
    """Until the replica has applied everything its primary wrote so far and the seed
    reports it online: Redis 7.0 reports a replica as "loading" in CLUSTER SHARDS until
    its offset reached the seed by gossip, and clients read only from online replicas."""
    import asyncio

    wanted = offset(*primary, "master_repl_offset:")
    for _ in range(int(timeout / 0.1)):
        if offset(*replica, "slave_repl_offset:") >= wanted and online_in_shards(seed, replica[1]):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the replica {replica} was not in sync and online within {timeout:g} s")


@pytest.mark.parametrize(
    ("strategy", "primary_reads"),
    [("ROUND_ROBIN", 10), ("RANDOM", None), ("ROUND_ROBIN_REPLICAS", 0), ("RANDOM_REPLICA", 0)],
)
async def test_load_balancing_strategies_spread_reads_as_redis_py_s(replica_cluster, strategy, primary_reads):
    """redis-py's load_balancing_strategy on a shard of a primary and a replica: round robin
    takes each in turn, RANDOM both at random, the *_REPLICA(S) ones the replica alone."""
    from redis.cluster import LoadBalancingStrategy

    host, port = host_port(replica_cluster.seeds[0])
    key = f"t{uuid.uuid4().hex[:8]}:lb"
    async with RedisCluster(host=host, port=port) as writer:
        await writer.set(key, "v")
        owner = writer.get_node_from_key(key).name
    primary = host_port(owner)
    replica = (primary[0], replica_of(replica_cluster, owner))
    await caught_up((host, port), primary, replica)
    client = RedisCluster(host=host, port=port, load_balancing_strategy=LoadBalancingStrategy[strategy])
    try:
        before = {node: gets_served(*node) for node in (primary, replica)}
        assert [await client.get(key) for _ in range(20)] == [b"v"] * 20
        served = {node: gets_served(*node) - before[node] for node in (primary, replica)}
    finally:
        await client.aclose()
    assert sum(served.values()) == 20
    if primary_reads is None:
        assert served[primary] > 0 and served[replica] > 0, served
    else:
        assert served[primary] == primary_reads, served


@pytest.mark.parametrize("mode", ["cluster", "standalone"])
async def test_resp3_replies_are_redis_py_s(local_cluster, mode):
    """protocol=3 in both clients: the same calls give the same RESP3-shaped results
    (maps, doubles, score pairs), as bytes and decoded, and the drop-in's connection
    says it speaks RESP3 (HELLO 3 in its handshake)."""
    import redis.asyncio as redis_asyncio

    address = local_cluster.seeds[0] if mode == "cluster" else local_cluster.standalone_address
    host, port = host_port(address)
    pair = (redis_asyncio.RedisCluster, RedisCluster) if mode == "cluster" else (redis_asyncio.Redis, Redis)
    for decode in (False, True):
        got = []
        for make in pair:
            async with make(host=host, port=port, protocol=3, decode_responses=decode) as client:
                got.append(await scenario(client, f"t{uuid.uuid4().hex[:8]}"))
                assert str((await client.client_info())["resp"]) == "3"
        assert got[0] == got[1]
        assert got[1][21] == ([[b"b", 2.0], [b"a", 2.5]] if not decode else [["b", 2.0], ["a", 2.5]])
