"""KeyspaceEvents (client/keyspace.py) over fake PubSubs: a subscription per master, the
notifications merged with the node that sent them, masters joined and left as the layout
changes, and a full buffer dropping the newest rather than growing."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from rediscluster_opt.client.keyspace import EVERY_KEY, KeyspaceEvents


class FakePubSub:
    def __init__(self, node):
        self.node, self.patterns, self.closed = node, [], False
        self.inbox: asyncio.Queue = asyncio.Queue()

    async def psubscribe(self, *patterns):
        self.patterns.extend(patterns)

    async def get_message(self, timeout=None):
        return await self.inbox.get()

    async def aclose(self):
        self.closed = True


class FakeClient:
    def __init__(self):
        self.made = {}

        async def relearn():
            return None

        self.router = SimpleNamespace(relearn=relearn)

    def pubsub(self, node, ignore_subscribe_messages):
        assert ignore_subscribe_messages  # confirmations, one per master, are not events
        self.made[node] = FakePubSub(node)
        return self.made[node]


def notification(key):
    return {"type": "pmessage", "pattern": EVERY_KEY, "channel": b"__keyspace@0__:" + key, "data": b"set"}


async def test_every_master_is_subscribed_and_its_events_carry_its_name():
    client, masters = FakeClient(), ["a:1", "b:1"]
    async with KeyspaceEvents(client, lambda: masters, []) as events:
        assert events.nodes == ["a:1", "b:1"] and client.made["a:1"].patterns == [EVERY_KEY]
        client.made["b:1"].inbox.put_nowait(notification(b"k"))
        client.made["a:1"].inbox.put_nowait(None)  # a skipped confirmation
        message = await events.get_message(timeout=1)
        assert message == {**notification(b"k"), "node": "b:1"}
        assert await events.get_message() is None
    assert all(pubsub.closed for pubsub in client.made.values())


async def test_the_layout_is_followed_masters_joining_and_leaving():
    client, masters = FakeClient(), ["a:1", "b:1"]
    expired = [b"__keyevent@0__:expired"]
    async with KeyspaceEvents(client, lambda: masters, expired, follow_interval=0.01) as events:
        masters[:] = ["a:1", "c:1"]  # b failed over to c
        for _ in range(100):
            if events.nodes == ["a:1", "c:1"]:
                break
            await asyncio.sleep(0.01)
        assert events.nodes == ["a:1", "c:1"] and client.made["b:1"].closed
        assert client.made["c:1"].patterns == [b"__keyevent@0__:expired"]
        assert events.counters == {"joined": 3, "left": 1, "dropped": 0}


async def test_a_full_buffer_drops_the_newest_and_counts_them():
    client = FakeClient()
    async with KeyspaceEvents(client, lambda: ["a:1"], [], max_buffered=2) as events:
        for i in range(5):
            client.made["a:1"].inbox.put_nowait(notification(b"k%d" % i))
        await asyncio.sleep(0.01)
        got = [await events.get_message(timeout=1) for _ in range(2)]
        assert [m["channel"] for m in got] == [b"__keyspace@0__:k0", b"__keyspace@0__:k1"]
        assert events.counters["dropped"] == 3
