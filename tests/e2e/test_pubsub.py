"""Pub/sub on the real cluster and standalone server: channels, patterns and shard
channels heard where published; the subscription set kept through a killed connection, a
slot migration and a master's failover; the native API and the redis-py drop-in."""

from __future__ import annotations

import asyncio
import signal

import pytest

from rediscluster_opt import ClusterClient, UnsafeCommandError
from rediscluster_opt.admin import command
from rediscluster_opt.core.address import split_address
from rediscluster_opt.testing.faults import keys_on, replica_of, signal_node, wait_for_promotion
from rediscluster_opt.testing.migration import move_slot


async def eventually(check, timeout=15.0, what="the condition"):
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(0.05)


async def messages(pubsub, count, timeout=5.0):
    """The next `count` messages (confirmations skipped), or fail naming what came."""
    got = []
    deadline = asyncio.get_running_loop().time() + timeout
    while len(got) < count:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise AssertionError(f"only {len(got)} of {count} messages came: {got}")
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
        if message is not None:  # None: a confirmation skipped, or nothing yet
            got.append(message)
    return got


async def heard(client, pubsub, channel, publish="spublish"):
    """Publish one message until the subscriber hears it (a moved subscription is back
    once it does); the message heard."""
    loop = asyncio.get_running_loop()
    for attempt in range(100):
        await getattr(client, publish)(channel, f"m{attempt}")
        until = loop.time() + 0.2
        while (left := until - loop.time()) > 0:  # other channels' messages are passed over
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=left)
            if message is not None and message["channel"] == channel.encode():
                return message
    raise AssertionError(f"nothing published on {channel!r} was heard in 100 tries")


async def test_channels_patterns_and_shard_channels_are_heard(client, prefix):
    async with client.pubsub() as pubsub:
        await pubsub.subscribe(f"{prefix}news")
        await pubsub.psubscribe(f"{prefix}ev.*")
        shards = [f"{prefix}s{i}" for i in range(8)]  # several slots, so several nodes
        await pubsub.ssubscribe(*shards)
        confirmations = [await pubsub.get_message(timeout=1) for _ in range(10)]
        assert [(m["type"], m["channel"]) for m in confirmations] == [
            ("subscribe", f"{prefix}news".encode()),
            ("psubscribe", f"{prefix}ev.*".encode()),
            *[("ssubscribe", s.encode()) for s in shards],
        ]
        assert await client.publish(f"{prefix}news", "hello") >= 0
        await client.publish(f"{prefix}ev.x", "pattern")
        for shard in shards:
            assert await client.spublish(shard, shard) == 1  # the one subscriber, on the owner
        got = await messages(pubsub, 10)  # from several connections: in no set order
        by_type = {
            kind: [m for m in got if m["type"] == kind] for kind in ("message", "pmessage", "smessage")
        }
        assert by_type["message"] == [
            {"type": "message", "pattern": None, "channel": f"{prefix}news".encode(), "data": b"hello"}
        ]
        assert by_type["pmessage"] == [
            {
                "type": "pmessage",
                "pattern": f"{prefix}ev.*".encode(),
                "channel": f"{prefix}ev.x".encode(),
                "data": b"pattern",
            }
        ]
        assert sorted((m["channel"], m["data"]) for m in by_type["smessage"]) == sorted(
            (s.encode(), s.encode()) for s in shards
        )
        assert set(pubsub.shard_channels) == {s.encode() for s in shards}

        await pubsub.sunsubscribe()
        await pubsub.unsubscribe()
        await pubsub.punsubscribe()
        assert pubsub.subscribed  # as in redis-py: until the confirmations are read
        assert len([await pubsub.get_message(timeout=1) for _ in range(10)]) == 10
        assert not pubsub.subscribed
        assert pubsub._links == {}  # no connection held once nothing is subscribed
        assert await client.spublish(shards[0], "nobody") == 0


async def test_handlers_listen_and_run(client, prefix):
    async with client.pubsub(ignore_subscribe_messages=True) as pubsub:
        seen = []

        async def on_async(message):
            seen.append(("async", message["data"]))

        await pubsub.subscribe(**{f"{prefix}a": lambda m: seen.append(("sync", m["data"]))})
        await pubsub.ssubscribe(**{f"{prefix}b": on_async})
        runner = asyncio.ensure_future(pubsub.run(poll_timeout=0.1))
        await client.publish(f"{prefix}a", "1")
        await client.spublish(f"{prefix}b", "2")
        await eventually(lambda: len(seen) == 2, 5, "both handlers called")
        assert sorted(seen) == [("async", b"2"), ("sync", b"1")]
        await pubsub.aclose()
        await asyncio.wait_for(runner, 2)  # run() ends with the PubSub

    async with client.pubsub() as pubsub:
        await pubsub.subscribe(f"{prefix}c")
        await client.publish(f"{prefix}c", "x")
        listened = []
        async for message in pubsub.listen():
            listened.append(message["type"])
            if message["type"] == "message":
                await pubsub.unsubscribe()
        assert listened == ["subscribe", "message", "unsubscribe"]  # listen ended with the last


async def test_subscribing_on_the_shared_connection_names_pubsub(client):
    with pytest.raises(UnsafeCommandError, match=r"client\.pubsub\(\)"):
        await client.execute_command("SUBSCRIBE", "x")


async def test_a_killed_connection_is_resubscribed_with_every_subscription(client, local_cluster, prefix):
    async with client.pubsub(health_check_interval=0.2) as pubsub:
        await pubsub.subscribe(f"{prefix}c")
        await pubsub.ssubscribe(f"{prefix}s")
        for address in [*local_cluster.seeds, local_cluster.standalone_address]:
            command(*split_address(address), "CLIENT", "KILL", "TYPE", "pubsub")
        await eventually(lambda: pubsub.counters["resubscribes"] >= 2, what="re-subscription")
        assert (await heard(client, pubsub, f"{prefix}s"))["channel"] == f"{prefix}s".encode()
        assert (await heard(client, pubsub, f"{prefix}c", "publish"))["channel"] == f"{prefix}c".encode()
        assert set(pubsub.channels) == {f"{prefix}c".encode()}
        assert pubsub.counters["lost_connections"] >= 1


async def test_a_shard_channel_follows_its_slot_to_another_master(local_cluster, prefix):
    channel = f"{{{prefix}}}moving"
    async with await ClusterClient.connect(local_cluster.seeds) as client, client.pubsub() as pubsub:
        await pubsub.ssubscribe(channel)
        slot = client.router.slot_for(channel)
        source = client.topology.slot_table()[slot]
        target = next(m for m in client.topology.masters if m != source)
        masters = list(client.topology.masters)
        try:
            await asyncio.to_thread(move_slot, slot, source, target, masters)
            # the server tells its subscribers (SUNSUBSCRIBE); the PubSub subscribes again
            await eventually(
                lambda: any(link.connection.address == target for link in pubsub._placed.values()),
                what="the shard channel subscribed on its new owner",
            )
            assert (await heard(client, pubsub, channel))["channel"] == channel.encode()
            assert pubsub.counters["moved"] >= 1
        finally:
            await asyncio.to_thread(move_slot, slot, target, source, masters)


@pytest.mark.parametrize("fault", ["SIGKILL", pytest.param("SIGSTOP", marks=pytest.mark.fault_matrix)])
async def test_shard_channels_come_back_after_their_masters_failover(replica_cluster, fault, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    table = client.topology.slot_table()
    other = next(m for m in client.topology.masters if m != victim)
    channel = keys_on(victim, table, 1, prefix)[0].decode()
    elsewhere = keys_on(other, table, 1, f"{prefix}e")[0].decode()
    pubsub = client.pubsub(health_check_interval=0.3)
    try:
        await pubsub.ssubscribe(channel, elsewhere)
        await pubsub.subscribe(f"{prefix}plain")
        signal_node(replica_cluster, port, getattr(signal, fault))
        try:
            await asyncio.to_thread(wait_for_promotion, host, replica_of(replica_cluster, victim), 30)
            assert (await heard(client, pubsub, channel))["channel"] == channel.encode()
            assert (await heard(client, pubsub, elsewhere))["channel"] == elsewhere.encode()
            assert (await heard(client, pubsub, f"{prefix}plain", "publish"))["data"].startswith(b"m")
            assert set(pubsub.shard_channels) == {channel.encode(), elsewhere.encode()}
        finally:
            if fault == "SIGSTOP":
                signal_node(replica_cluster, port, signal.SIGCONT)
            else:
                await asyncio.to_thread(replica_cluster.start_node, port)
            await asyncio.to_thread(replica_cluster.wait_healthy, 60)
    finally:
        await pubsub.aclose()
        await client.close()


# -- keyspace notifications ---------------------------------------------------------------
class notifications_on:
    """`notify-keyspace-events` set on every node given (a server setting), put back after."""

    def __init__(self, ports, host="127.0.0.1", flags="KA"):
        self.host, self.ports, self.flags = host, list(ports), flags

    def __enter__(self):
        setting = ("CONFIG", "GET", "notify-keyspace-events")
        self.before = {p: command(self.host, p, *setting)[1] for p in self.ports}
        for port in self.ports:
            command(self.host, port, "CONFIG", "SET", "notify-keyspace-events", self.flags)

    def __exit__(self, *exc_info):
        for port, value in self.before.items():
            try:
                command(self.host, port, "CONFIG", "SET", "notify-keyspace-events", value)
            except OSError:  # a node a test left down: it starts with the default again
                pass


async def events_for(events, wanted, timeout=10.0):
    """Notifications until each channel in `wanted` was heard (others are passed over)."""
    heard_from = {}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while set(heard_from) != wanted:
        left = deadline - loop.time()
        if left <= 0:
            raise AssertionError(f"not heard within {timeout:g} s: {sorted(wanted - set(heard_from))}")
        message = await events.get_message(timeout=left)
        if message is not None and message["channel"] in wanted:
            heard_from[message["channel"]] = message
    return heard_from


async def test_keyspace_events_come_from_every_master(local_cluster, prefix):
    """A key's notification is published on its own master only: one subscription per
    master hears the keys of all of them."""
    async with await ClusterClient.connect(local_cluster.seeds) as client:
        table = client.topology.slot_table()
        keys = {m: keys_on(m, table, 1, f"{prefix}{i}")[0] for i, m in enumerate(client.topology.masters)}
        with notifications_on(local_cluster.ports):
            async with client.keyspace_events(f"__keyspace@0__:{prefix}*") as events:
                assert events.nodes == sorted(client.topology.masters)
                for key in keys.values():
                    await client.set(key, "v")
                wanted = {b"__keyspace@0__:" + key for key in keys.values()}
                heard_from = await events_for(events, wanted)
        for master, key in keys.items():
            message = heard_from[b"__keyspace@0__:" + key]
            assert message["node"] == master and message["data"] == b"set" and message["type"] == "pmessage"


async def test_keyspace_events_follow_a_failover_to_the_promoted_replica(replica_cluster, prefix):
    client = await ClusterClient.connect(replica_cluster.seeds, command_timeout=1.0)
    victim = client.topology.masters[0]
    host, port = split_address(victim)
    key = keys_on(victim, client.topology.slot_table(), 1, prefix)[0]
    promoted = replica_of(replica_cluster, victim)
    with notifications_on(replica_cluster.cluster_ports):
        try:
            async with client.keyspace_events(f"__keyspace@0__:{prefix}*", follow_interval=0.2) as events:
                signal_node(replica_cluster, port, signal.SIGKILL)
                try:
                    await asyncio.to_thread(wait_for_promotion, host, promoted, 30)
                    joined = f"{host}:{promoted}"
                    await eventually(lambda: joined in events.nodes, what="the promoted master joined")
                    assert victim not in events.nodes
                    await client.set(key, "after")
                    message = (await events_for(events, {b"__keyspace@0__:" + key}))[b"__keyspace@0__:" + key]
                    assert message["node"] == f"{host}:{promoted}"
                    assert events.counters["joined"] == 4 and events.counters["left"] == 1
                finally:
                    await asyncio.to_thread(replica_cluster.start_node, port)
                    await asyncio.to_thread(replica_cluster.wait_healthy, 60)
        finally:
            await client.close()


# -- the drop-in ---------------------------------------------------------------------------
compat = pytest.importorskip("rediscluster_opt.compat")


async def test_the_drop_in_pubsub_gives_redis_pys_messages(pair, prefix):
    theirs, ours = pair
    got = {}
    for name, client in (("theirs", theirs), ("ours", ours)):
        pubsub = client.pubsub()
        await pubsub.subscribe(f"{prefix}ch")
        first = None
        while first is None:
            first = await pubsub.get_message(timeout=1)
        await ours.publish(f"{prefix}ch", "héllo")
        message = None
        while message is None:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        got[name] = (first, message, dict(pubsub.channels))
        await pubsub.aclose()
    assert got["ours"] == got["theirs"]
    assert got["ours"][1] == {"type": "message", "pattern": None, "channel": f"{prefix}ch", "data": "héllo"}


async def test_the_drop_in_sharded_pubsub_and_handlers(pair, prefix):
    _, ours = pair
    pubsub = ours.pubsub()
    seen = []
    await pubsub.ssubscribe(**{f"{prefix}sh": seen.append})
    assert await ours.spublish(f"{prefix}sh", "x") == 1
    for _ in range(20):  # handled (or skipped): each call gives None
        assert await pubsub.get_sharded_message(ignore_subscribe_messages=True, timeout=0.1) is None
        if seen:
            break
    assert seen == [{"type": "smessage", "pattern": None, "channel": f"{prefix}sh", "data": "x"}]
    assert list(pubsub.shard_channels) == [f"{prefix}sh"]
    await pubsub.aclose()
    if isinstance(ours, compat.Redis):
        with pytest.raises(compat.UnsupportedOption, match="host"):
            ours.pubsub(host="127.0.0.1")
        return
    from redis import exceptions as redis_errors

    with pytest.raises(redis_errors.DataError, match="both host and port"):
        ours.pubsub(host="127.0.0.1")
    with pytest.raises(redis_errors.RedisClusterException, match="doesn't exist"):
        ours.pubsub(host="127.0.0.1", port=1)
    chosen = ours.get_primaries()[-1]
    pinned = ours.pubsub(node=chosen)  # channels and patterns on the node named
    await pinned.subscribe(f"{prefix}pinned")
    assert pinned.get_pubsub_node() == chosen
    assert list(pinned._native._links) == [chosen.name]
    await pinned.aclose()


async def test_the_drop_in_reconnects_as_redis_py_does(pair, prefix):
    """`pubsub.connection.disconnect()` in both clients: the subscriptions come back on a
    new connection and the server's confirmations arrive again as messages; the health
    check's reply is listed in redis-py's shapes."""
    got = {}
    for name, client in zip(("theirs", "ours"), pair, strict=True):
        pubsub = client.pubsub()
        assert pubsub.connection is None  # nothing subscribed yet
        await pubsub.subscribe(f"{prefix}a")
        await pubsub.psubscribe(f"{prefix}p*")
        first = [await pubsub.get_message(timeout=2) for _ in range(2)]
        assert pubsub.connection.is_connected
        await pubsub.connection.disconnect()
        assert not pubsub.connection.is_connected
        again = []
        for _ in range(20):  # redis-py reconnects inside get_message, ours meanwhile
            message = await pubsub.get_message(timeout=0.5)
            if message is not None:
                again.append(message)
            if len(again) == 2:
                break
        await eventually(lambda p=pubsub: p.connection.is_connected, what="the reconnection")
        await client.publish(f"{prefix}a", "after")
        heard_after = await messages(pubsub, 1)
        shapes = pubsub.health_check_response
        await pubsub.aclose()
        assert pubsub.connection is None
        got[name] = (first, sorted(again, key=lambda m: m["type"]), heard_after, shapes)
    assert got["ours"] == got["theirs"]
    assert [m["type"] for m in got["ours"][1]] == ["psubscribe", "subscribe"]
    assert got["ours"][2][0]["data"] == "after"


@pytest.mark.parametrize("protocol", [2, 3])
async def test_the_drop_in_answers_pings_in_redis_py_s_shapes(local_cluster, protocol):
    """A subscribed PubSub's PING, with and without a message, bytes and decoded: RESP3
    answers with a plain reply instead of a ["pong", data] message, and both clients hand
    on the same message (and the health check keeps the connection in either)."""
    import redis.asyncio as redis_asyncio

    host, port = split_address(local_cluster.standalone_address)
    for decode in (False, True):
        got = []
        for make in (redis_asyncio.Redis, compat.Redis):
            client = make(host=host, port=port, protocol=protocol, decode_responses=decode)
            try:
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe("ping-shapes")
                    assert (await pubsub.get_message(timeout=1))["type"] == "subscribe"
                    pongs = []
                    for message in (None, "x", "PONG"):
                        await pubsub.ping(message)
                        pongs.append(await pubsub.get_message(timeout=1))
                    got.append(pongs)
            finally:
                await client.aclose()
        # PING PONG: RESP3 answers "PONG" as it answers a bare PING, and redis-py then says
        # b""; ours knows what it sent, so the message keeps its data
        assert got[0][:2] == got[1][:2] and (protocol == 3 or got[0] == got[1]), protocol
        data = ["", "x", "PONG"]
        assert [m["data"] for m in got[1]] == (data if decode else [d.encode() for d in data])
