"""What a PubSub makes of the replies a subscriber connection reads (client/pubsub.py):
confirmations matched to the command that asked, messages queued around them, the
server's unasked SUNSUBSCRIBE after a slot moved, error replies, the health check's PONG,
and reading paused past max_buffered. Scripted replies; the real servers are
tests/e2e/test_pubsub.py's."""

from __future__ import annotations

import asyncio

import pytest

from rediscluster_opt.client.pubsub import HEALTH_CHECK, SHARDS, Dial, PubSub, _Link, _Redirected
from rediscluster_opt.core.resp import ReplyError
from rediscluster_opt.errors import ResponseError
from rediscluster_opt.mux.multiplexer import NO_HANDSHAKE
from rediscluster_opt.stages.parser import python_parser


class FakeWhere:
    def __init__(self) -> None:
        self.owner = "n1:1"
        self.moves: list[tuple[int, str]] = []

    def target(self, slot, replica):
        return self.owner

    def slot_for(self, key):
        return len(key)

    def moved(self, slot, address):
        self.moves.append((slot, address))

    async def relearn(self):
        return None


class FakeConnection:
    def __init__(self, address: str) -> None:
        self.address = address
        self.closed = False
        self.sent: list[bytes] = []
        self.reading = True

    def send(self, payload: bytes) -> None:
        self.sent.append(payload)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def close(self, reason: str = "") -> None:
        self.closed = True


def pubsub_with_link(**options) -> tuple[PubSub, _Link]:
    pubsub = PubSub(
        FakeWhere(),
        Dial(python_parser, 1.0, NO_HANDSHAKE, None),
        command_timeout=1.0,
        max_redirects=2,
        **options,
    )
    link = pubsub._links["n1:1"] = _Link(FakeConnection("n1:1"))  # type: ignore[arg-type]
    return pubsub, link


def reply(pubsub: PubSub, link: _Link, value: object) -> None:
    pubsub._on_reply(link.connection, value)


async def test_a_command_is_done_when_every_name_is_confirmed_and_messages_queue_around_it():
    pubsub, link = pubsub_with_link()
    asking = asyncio.ensure_future(
        pubsub._ask(link, (b"SUBSCRIBE", b"a", b"b"), [("subscribe", b"a"), ("subscribe", b"b")], False)
    )
    await asyncio.sleep(0)
    assert link.connection.sent == [b"*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n"]
    reply(pubsub, link, [b"subscribe", b"a", 1])
    reply(pubsub, link, [b"message", b"a", b"early"])  # published between the two confirmations
    await asyncio.sleep(0)
    assert not asking.done()
    reply(pubsub, link, [b"subscribe", b"b", 2])
    await asyncio.wait_for(asking, 1)
    got = [await pubsub.get_message() for _ in range(4)]
    assert [(m["type"], m["channel"], m["data"]) for m in got if m] == [
        ("subscribe", b"a", 1),
        ("message", b"a", b"early"),
        ("subscribe", b"b", 2),
    ]
    assert got[3] is None  # nothing more, and no wait with the default timeout 0


async def test_a_re_subscription_confirms_quietly():
    pubsub, link = pubsub_with_link()
    asking = asyncio.ensure_future(pubsub._ask(link, (b"SUBSCRIBE", b"a"), [("subscribe", b"a")], True))
    await asyncio.sleep(0)
    reply(pubsub, link, [b"subscribe", b"a", 1])
    await asking
    assert await pubsub.get_message() is None


async def test_error_replies_fail_the_command_that_asked():
    pubsub, link = pubsub_with_link()
    moved = asyncio.ensure_future(pubsub._ask(link, (b"SSUBSCRIBE", b"x"), [("ssubscribe", b"x")], False))
    refused = asyncio.ensure_future(
        pubsub._ask(link, (b"SSUBSCRIBE", b"y", b"z"), [("ssubscribe", b"y")], False)
    )
    await asyncio.sleep(0)
    reply(pubsub, link, ReplyError("MOVED 3 10.0.0.2:7001"))
    reply(pubsub, link, ReplyError("CROSSSLOT Keys in request don't hash to the same slot"))
    with pytest.raises(_Redirected) as redirect:
        await moved
    assert (redirect.value.slot, redirect.value.address) == (3, "10.0.0.2:7001")
    with pytest.raises(ResponseError, match="CROSSSLOT"):
        await refused


async def test_the_servers_own_sunsubscribe_flags_the_channel_to_move():
    pubsub, link = pubsub_with_link()
    pubsub._wanted[SHARDS][b"sc"] = None
    pubsub._placed[(SHARDS, b"sc")] = link
    reply(pubsub, link, [b"sunsubscribe", b"sc", 0])  # nobody asked: its slot moved away
    assert (SHARDS, b"sc") not in pubsub._placed
    assert pubsub._trouble.is_set()
    assert pubsub.counters["moved"] == 1
    assert await pubsub.get_message() is None  # the caller did not unsubscribe: no message
    assert pubsub._misplaced() == {SHARDS: [b"sc"]}


async def test_the_health_checks_pong_is_swallowed_and_a_callers_is_a_message():
    pubsub, link = pubsub_with_link()
    ping = (b"PING", HEALTH_CHECK)
    checking = asyncio.ensure_future(pubsub._ask(link, ping, [("pong", HEALTH_CHECK)], True))
    await asyncio.sleep(0)
    reply(pubsub, link, [b"pong", HEALTH_CHECK])
    await checking
    reply(pubsub, link, [b"pong", b""])
    assert await pubsub.get_message() == {"type": "pong", "pattern": None, "channel": None, "data": b""}


async def test_resp3_plain_pongs_take_their_data_from_the_ping_sent():
    # after HELLO 3 a PING answers "PONG" (no argument) or its argument, not a message:
    # a PING of "PONG" is told from a bare one by what was sent
    pubsub, link = pubsub_with_link()
    for message in (None, "x", "PONG"):
        await pubsub.ping(message)
    health = (b"PING", HEALTH_CHECK)
    checking = asyncio.ensure_future(pubsub._ask(link, health, [("pong", HEALTH_CHECK)], True))
    await asyncio.sleep(0)
    for plain in (b"PONG", b"x", b"PONG", HEALTH_CHECK):
        reply(pubsub, link, plain)
    await checking  # the health check's own reply confirmed it, and is no message
    got = [(await pubsub.get_message())["data"] for _ in range(3)]
    assert got == [b"", b"x", b"PONG"] and await pubsub.get_message() is None
    assert not link.pings


async def test_reading_pauses_past_max_buffered_and_resumes_below_half():
    pubsub, link = pubsub_with_link(max_buffered=4)
    for i in range(4):
        reply(pubsub, link, [b"message", b"c", str(i).encode()])
    assert link.connection.reading is False
    await pubsub.get_message()
    await pubsub.get_message()
    assert link.connection.reading is False  # 2 waiting: not below half
    await pubsub.get_message()
    assert link.connection.reading is True


async def test_handlers_take_their_messages_and_confirmations_can_be_skipped():
    pubsub, link = pubsub_with_link(ignore_subscribe_messages=True)
    seen = []
    pubsub._wanted[SHARDS][b"h"] = seen.append
    reply(pubsub, link, [b"ssubscribe", b"unasked", 1])  # no request: not queued at all
    reply(pubsub, link, [b"smessage", b"h", b"1"])
    reply(pubsub, link, [b"smessage", b"other", b"2"])
    assert await pubsub.get_message() is None  # handled, as redis-py's: one message per call
    assert seen == [{"type": "smessage", "pattern": None, "channel": b"h", "data": b"1"}]
    message = await pubsub.get_message()
    assert message is not None and message["channel"] == b"other"


async def test_get_message_waits_up_to_its_timeout():
    pubsub, link = pubsub_with_link()
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await pubsub.get_message(timeout=0.05) is None
    assert loop.time() - started >= 0.04
    loop.call_later(0.01, reply, pubsub, link, [b"message", b"c", b"late"])
    message = await pubsub.get_message(timeout=None)
    assert message is not None and message["data"] == b"late"


@pytest.mark.parametrize(("option", "value"), [("max_buffered", 0), ("health_check_interval", -1.0)])
def test_bad_options_are_named(option, value):
    with pytest.raises(ValueError, match=option):
        PubSub(
            FakeWhere(),
            Dial(python_parser, 1.0, NO_HANDSHAKE, None),
            command_timeout=1.0,
            max_redirects=1,
            **{option: value},
        )
