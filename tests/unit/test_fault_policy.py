"""The fault policies against fake servers: which commands are sent again after a
connection loss, typed errors for the rest, backpressure, transactions' slot rule, and
a client used from a foreign event loop. Real-cluster faults: tests/e2e/test_faults.py."""

import asyncio
import itertools

import pytest

from rediscluster_opt import (
    ClusterClient,
    CrossSlotError,
    MaybeAppliedError,
    NotSentError,
    RedisConnectionError,
    RedisTimeoutError,
    StandaloneClient,
    WrongEventLoopError,
)
from rediscluster_opt.core.commands import blocking_seconds, command_keys, is_repeatable
from rediscluster_opt.stages import REGISTRY
from rediscluster_opt.stages.writer import JoinWriter
from tests.fake_server import DROP, FakeRedis
from tests.resp_values import encode_reply
from tests.stage_sets import PRESETS
from tests.unit.test_cluster_policy import serve_all_slots

STAGES = PRESETS  # both presets, each composed and fused


@pytest.fixture(params=STAGES, ids=lambda s: s.label())
def stages(request):
    return request.param


def drop_first(node, name, reply):
    """The first `name` command loses its connection after being read; later ones get `reply`."""
    calls = itertools.count()
    node.handlers[name] = lambda args: DROP if next(calls) == 0 else reply


# -- classification (pure) -------------------------------------------------------------
@pytest.mark.parametrize(
    "args, repeatable",
    [
        (("GET", "k"), True),
        (("SET", "k", "v"), True),
        (("SET", "k", "v", "EX", 10), True),
        (("SET", "k", "v", "NX"), False),
        (("set", "k", "v", "get"), False),
        (("INCR", "k"), False),
        (("LPUSH", "q", "x"), False),
        (("HSET", "h", "f", "v"), False),  # its reply counts new fields: 0 the second time
        (("DEL", "k"), False),  # counts the keys that existed
        (("SADD", "s", "m"), False),
        (("SETBIT", "b", 7, 1), False),  # the bit before
        (("EXPIRE", "k", 10, "NX"), False),
        (("PERSIST", "k"), False),
        (("PFADD", "h", "x"), False),
        (("MSET", "a", "1", "b", "2"), True),  # always OK, the values fixed by the arguments
        (("HMSET", "h", "f", "v"), True),
        (("SETEX", "k", 10, "v"), True),
        (("FROB", "k"), False),  # unknown: never resent
    ],
)
def test_which_commands_are_safe_to_send_twice(args, repeatable):
    assert is_repeatable(args) is repeatable


def test_the_resend_table_decides_every_command_it_lists_and_docs_print_it():
    from pathlib import Path

    from rediscluster_opt.core.commands import RESEND_RULES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "client.md").read_text()
    seen: set[bytes] = set()
    for rule in RESEND_RULES:
        assert not rule.commands & seen, rule.family  # each command in one row
        seen |= rule.commands
        for name in rule.commands:
            assert is_repeatable((name, "k", "v")) is rule.resend, name
        assert f"| {rule.family} | {'yes' if rule.resend else 'no'} | {rule.reason} |" in docs, rule.family


def test_blocking_commands_and_their_keys():
    assert blocking_seconds(("BLPOP", "a", "b", 0)) == float("inf")
    assert blocking_seconds(("BRPOP", "a", 2.5)) == 2.5
    assert blocking_seconds(("BLMPOP", 1, 2, "a", "b", "LEFT")) == 1
    assert blocking_seconds(("XREAD", "BLOCK", 250, "STREAMS", "s", "$")) == 0.25
    assert blocking_seconds(("XREAD", "COUNT", 1, "STREAMS", "s", "0")) is None
    assert blocking_seconds(("LPOP", "q")) is None
    assert command_keys(("BLMPOP", 1, 2, "a", "b", "LEFT")) == [b"a", b"b"]
    assert command_keys(("XREADGROUP", "GROUP", "g", "c", "STREAMS", "s1", "s2", ">", ">")) == [b"s1", b"s2"]


# -- the submit and writer stages tell unsent commands apart ---------------------------
@pytest.mark.parametrize("submit", sorted(REGISTRY["submit"]))
async def test_fail_all_tells_the_unsent_tail_apart(submit):
    loop = asyncio.get_running_loop()
    sent = []
    stage = REGISTRY["submit"][submit](loop, sent.append, 5.0)
    calls = [asyncio.ensure_future(stage.call(b"%d" % i)) for i in range(3)]
    await asyncio.sleep(0)
    lost, unsent = RedisConnectionError("lost"), NotSentError("never written")
    stage.fail_all(lost, 1, unsent)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert outcomes == [lost, lost, unsent]
    assert sent == [b"0", b"1", b"2"]  # one send per entry, so the count maps to entries


class RecordingTransport:
    def __init__(self):
        self.writes, self.closing = [], False

    def write(self, data):
        self.writes.append(bytes(data))

    def writelines(self, data):
        self.writes.append(b"".join(data))

    def is_closing(self):
        return self.closing


@pytest.mark.parametrize("name", sorted(REGISTRY["writer"]))
async def test_every_writer_says_how_many_payloads_it_never_wrote(name):
    transport = RecordingTransport()
    writer = REGISTRY["writer"][name](asyncio.get_running_loop())
    writer.attach(transport)
    payloads = [b"a", b"b", b"c"]
    for payload in payloads:
        writer.send(payload)
    unsent = writer.close()
    written = b"".join(transport.writes)
    assert written == b"".join(payloads[: len(payloads) - unsent])  # written = all but the tail
    writer.send(b"after close")
    await asyncio.sleep(0)
    assert b"after close" not in b"".join(transport.writes)


@pytest.mark.parametrize("name", sorted(REGISTRY["writer"]))
async def test_no_writer_writes_to_a_closing_transport_and_each_says_what_it_kept(name):
    """The connection broke and the multiplexer has not heard yet: what is sent now is
    not handed to the transport (asyncio would drop it and log a warning per write), and
    `close` counts it as never written, so its caller learns it was not sent."""
    transport = RecordingTransport()
    writer = REGISTRY["writer"][name](asyncio.get_running_loop())
    writer.attach(transport)
    writer.send(b"a")
    await asyncio.sleep(0)
    transport.closing = True
    writer.send(b"b")
    writer.send(b"c")
    await asyncio.sleep(0)
    assert b"".join(transport.writes) == b"a"
    assert writer.close() == 2


async def test_join_writer_reports_what_it_never_wrote_and_does_not_copy_large_values():
    transport = RecordingTransport()
    writes = transport.writes
    transport.write = writes.append  # kept as given: a large value must not be copied

    writer = JoinWriter(asyncio.get_running_loop())
    writer.attach(transport)
    large = b"x" * JoinWriter.FLUSH_BYTES
    writer.send(b"small")
    writer.send(large)  # crosses the threshold: written at once, not joined
    assert writes[0] == b"small" and writes[1] is large
    writer.send(b"a")
    writer.send(b"b")
    assert writer.close() == 2


# -- retry policy ----------------------------------------------------------------------
async def test_a_read_lost_with_its_connection_is_sent_again(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        drop_first(node, b"GET", encode_reply(b"v"))
        for client in (
            await ClusterClient.connect([node.address], stages=stages),
            await StandaloneClient.connect(node.address, stages=stages),
        ):
            async with client:
                assert await client.get("k") == b"v"
                assert client.counters["retries"] == 1
            drop_first(node, b"GET", encode_reply(b"v"))


async def test_a_non_repeatable_write_lost_after_sending_may_have_been_applied(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"INCR"] = lambda args: DROP
        client = await ClusterClient.connect([node.address], stages=stages)
        async with client:
            with pytest.raises(MaybeAppliedError, match="INCR on .*may have been applied"):
                await client.incr("k")
            assert client.counters["maybe_applied"] == 1
            assert await client.set("k", "v") is True  # reconnects for the next command


@pytest.mark.parametrize(
    ("name", "call"),
    [
        (b"SADD", lambda c: c.sadd("s", "m")),
        (b"HSET", lambda c: c.execute_command("HSET", "h", "f", "v")),
        (b"DEL", lambda c: c.delete("k")),
        (b"SETBIT", lambda c: c.execute_command("SETBIT", "b", 7, 1)),
    ],
)
async def test_a_write_whose_reply_depends_on_the_state_before_is_never_resent(stages, name, call):
    """The data would end the same, but a second run answers 0 for a member the first
    added: the caller gets MaybeAppliedError, never the second reply."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        drop_first(node, name, b":0\r\n")
        async with await ClusterClient.connect([node.address], stages=stages) as client:
            with pytest.raises(MaybeAppliedError, match=f"{name.decode()} on .*may have been applied"):
                await call(client)
            assert sum(1 for c in node.commands if c[0] == name) == 1  # sent once, never again


async def test_resend_writes_off_resends_reads_only(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        drop_first(node, b"SET", b"+OK\r\n")
        drop_first(node, b"GET", encode_reply(b"v"))
        async with await ClusterClient.connect([node.address], stages=stages, resend_writes=False) as client:
            with pytest.raises(MaybeAppliedError, match="SET on"):
                await client.set("k", "v")
            assert await client.get("k") == b"v"  # a read is still sent again
            assert client.counters["retries"] == 1


async def test_a_blocking_command_lost_after_it_was_written_may_have_popped(stages):
    async with FakeRedis() as node:
        node.handlers[b"BLPOP"] = lambda args: DROP
        async with await StandaloneClient.connect(node.address, stages=stages) as client:
            with pytest.raises(MaybeAppliedError, match="BLPOP on .*may have been applied"):
                await client.blpop("q", timeout=1)


async def test_the_retry_policy_can_be_turned_off(stages):
    async with FakeRedis() as node:
        drop_first(node, b"GET", encode_reply(b"v"))
        async with await StandaloneClient.connect(node.address, stages=stages, retry=False) as client:
            with pytest.raises(RedisConnectionError, match="GET on .*lost") as caught:
                await client.get("k")
            assert not isinstance(caught.value, MaybeAppliedError)
            assert client.counters["retries"] == 0


# -- backpressure ----------------------------------------------------------------------
async def test_a_flood_waits_for_room_instead_of_buffering_without_bound(stages):
    limit = 256 * 1024
    value = b"v" * 100_000
    async with FakeRedis() as node:
        async with await StandaloneClient.connect(
            node.address, stages=stages, max_queued_bytes=limit
        ) as client:
            mux = client._pick(client.address)
            peak = 0

            async def watch():
                nonlocal peak
                while True:
                    peak = max(peak, mux._transport.get_write_buffer_size())
                    await asyncio.sleep(0)

            watcher = asyncio.ensure_future(watch())
            stall = asyncio.ensure_future(client.execute_command("SLEEP", 300))  # the server stops reading
            await asyncio.sleep(0.01)
            results = await asyncio.gather(*(client.set(f"k{i}", value) for i in range(300)))
            watcher.cancel()
            await stall
            assert results == [True] * 300
            assert client.counters["capacity_waits"] > 0
            # over the mark by at most what one flush writes (JoinWriter.FLUSH_BYTES + a value)
            assert peak <= limit + JoinWriter.FLUSH_BYTES + len(value) + 1024


async def test_a_caller_that_gives_up_while_waiting_for_room_sent_nothing(stages):
    value = b"v" * 100_000
    async with FakeRedis() as node:
        async with await StandaloneClient.connect(
            node.address, stages=stages, max_queued_bytes=64 * 1024, command_timeout=0.3
        ) as client:
            asyncio.ensure_future(client.execute_command("SLEEP", 1000))
            await asyncio.sleep(0.01)
            outcomes = await asyncio.gather(
                *(client.set(f"flood{i}", value) for i in range(200)), return_exceptions=True
            )
            waited = [
                o for o in outcomes if isinstance(o, RedisTimeoutError) and "nothing was sent" in str(o)
            ]
            assert waited, outcomes[:3]
            await asyncio.sleep(1.2)  # the server has read everything that was written
            sent = {c[1] for c in node.commands if c[0] == b"SET"}
            assert len(sent) <= 200 - len(waited)


# -- transactions ----------------------------------------------------------------------
async def test_a_transaction_across_slots_is_refused_before_sending():
    async with FakeRedis() as node:
        serve_all_slots(node)
        async with await ClusterClient.connect([node.address]) as client:
            with pytest.raises(CrossSlotError, match="hash tag"):
                await client.transaction(("SET", "a", 1), ("SET", "b", 2))
            assert not [c for c in node.commands if c[0] in (b"MULTI", b"SET")]


# -- event loops -----------------------------------------------------------------------
def test_a_client_used_from_a_foreign_loop_gets_a_typed_error_and_stays_usable():
    owner = asyncio.new_event_loop()
    try:
        node = FakeRedis()
        owner.run_until_complete(node.__aenter__())
        node.data[b"k"] = b"v"
        client = owner.run_until_complete(StandaloneClient.connect(node.address))
        with pytest.raises(WrongEventLoopError, match="another event loop"):
            asyncio.run(client.get("k"))
        assert owner.run_until_complete(client.get("k")) == b"v"
        owner.run_until_complete(client.close())
        owner.run_until_complete(node.__aexit__())
    finally:
        owner.close()


def test_a_checked_load_timeline_shows_a_stall_as_zeros_and_finds_recovery():
    from rediscluster_opt.testing.faults import CheckedLoad

    load = CheckedLoad(None, None, [b"k"], workers=1)
    load.events += [(10.0, "ok"), (10.1, "RedisTimeoutError"), (11.1, "wrong value"), (11.2, "ok")]
    rows = load.timeline(10.0)
    assert [r["ok"] for r in rows] == [1, 0, 0, 0, 1]  # 10.0-10.25; then empty; 11.0-11.25
    assert [r["errors"] for r in rows] == [1, 0, 0, 0, 0] and rows[-1]["wrong"] == 1
    assert load.recovery_after(10.05) == pytest.approx(1.15)
    assert load.errors() == {"RedisTimeoutError": 1, "wrong value": 1}


async def test_a_pipeline_that_loses_its_connection_treats_each_command_as_a_single_one(stages):
    """The connection drops after the INCR in the middle of a pipeline was read: the GETs
    around it are answered (those after it sent again, being reads), the INCR, which may
    have been applied, says so in its place, and nothing is sent twice that should not be."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"GET"] = lambda args: encode_reply(b"v")
        drop_first(node, b"INCR", b":1\r\n")
        for client in (
            await ClusterClient.connect([node.address], stages=stages),
            await StandaloneClient.connect(node.address, stages=stages),
        ):
            async with client:
                pipe = client.pipeline().get("a").incr("n").get("b").get("c")
                results = await pipe.execute(raise_on_error=False)
                assert results[0] == b"v" and results[2:] == [b"v", b"v"], results
                assert isinstance(results[1], MaybeAppliedError) and "INCR" in str(results[1])
                with pytest.raises(MaybeAppliedError):
                    drop_first(node, b"INCR", b":1\r\n")
                    await client.pipeline().incr("n").get("a").execute()
            drop_first(node, b"INCR", b":1\r\n")
        assert sum(1 for c in node.commands if c[0] == b"INCR") == 4  # each sent once


async def test_a_pipeline_waits_by_progress_and_a_cancelled_caller_stays_cancelled():
    """What each of a node's share of a pipeline ended in, in order (a reply, a lost
    connection in its own place); a node silent for the patience fails the rest as lost
    by a timeout and drops their late replies; the caller's own cancellation is raised,
    and what it waited for is dropped too."""
    from rediscluster_opt.client.conversation import _outcomes
    from rediscluster_opt.client.outcome import Lost, Replied

    loop = asyncio.get_running_loop()
    done, failed, late, never = (loop.create_future() for _ in range(4))
    done.set_result(b"v")
    failed.set_exception(NotSentError("not written"))
    loop.call_later(0.05, late.set_result, b"late")  # progress: under the patience each time
    outcomes = await _outcomes([done, failed, late, never], patience=0.2)
    assert outcomes[:3] == [Replied(b"v"), Lost(failed.exception()), Replied(b"late")]
    assert type(outcomes[3]) is Lost and isinstance(outcomes[3].error, TimeoutError)
    assert never.cancelled()  # its reply, if it ever comes, is read and dropped
    pending = loop.create_future()
    waiting = asyncio.ensure_future(_outcomes([pending], patience=10))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert pending.cancelled()
