"""Pipelines and transactions against scripted fake nodes: one conversation per node in
the order queued, nothing sent after a cancelled caller, no read resent after a later
write of its own pipeline, waiting by progress, and nothing sent of a pipeline or a
transaction that cannot be sent whole. The same under CLIENT KILL, migrations and
failovers of real servers: tests/e2e/test_pipeline_faults.py."""

import asyncio
import itertools
import time

import pytest

from rediscluster_opt import (
    ClusterClient,
    MaybeAppliedError,
    OutOfOrderError,
    ResponseError,
    StandaloneClient,
    UnsafeCommandError,
)
from tests.fake_server import DROP, FakeRedis
from tests.resp_values import encode_reply
from tests.stage_sets import PRESETS
from tests.unit.test_cluster_policy import serve_all_slots


@pytest.fixture(params=PRESETS, ids=lambda s: s.label())
def stages(request):
    return request.param


async def both_clients(node, stages, **options):
    return [
        await ClusterClient.connect([node.address], stages=stages, **options),
        await StandaloneClient.connect(node.address, stages=stages, **options),
    ]


def count_incr(node):
    """INCR on the fake node: one counter per key, as a server keeps it."""
    counters = {}

    def incr(args):
        counters[args[0]] = counters.get(args[0], 0) + 1
        return b":%d\r\n" % counters[args[0]]

    node.handlers[b"INCR"] = incr


@pytest.mark.parametrize("connections", [2, 4])
async def test_a_pipeline_runs_in_the_order_queued_whatever_the_connections_per_node(stages, connections):
    """Ten INCRs of one key answer 1..10: the node's share goes down one connection
    (spread over several, the server would interleave them: 1, 6, 2, 7, ...)."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        count_incr(node)
        for client in await both_clients(node, stages, connections_per_node=connections):
            async with client:
                await asyncio.gather(*(client.get(f"warm{i}") for i in range(8)))  # every connection open
                for round_ in range(5):
                    pipe = client.pipeline()
                    for _ in range(10):
                        pipe.incr(f"{type(client).__name__}:{round_}")
                    assert await pipe.execute() == list(range(1, 11))


async def test_a_cancelled_pipeline_sends_nothing_after_its_caller_is_gone(stages):
    """MSETs answered TRYAGAIN are tried again in the caller's task: cancelled, the
    pipeline stops there, and no later try reaches the server (a newer write of the
    same caller would otherwise be overwritten by the old one)."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"MSET"] = lambda args: b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        async with await ClusterClient.connect([node.address], stages=stages, retry_backoff=0.01) as client:
            pipe = client.pipeline()
            pipe.execute_command("MSET", "{a}1", "old1", "{a}2", "old1")
            pipe.execute_command("MSET", "{a}1", "old2", "{a}2", "old2")
            running = asyncio.ensure_future(pipe.execute())
            await asyncio.sleep(0.1)
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

            def sent() -> int:
                return sum(1 for c in node.commands if c[0] == b"MSET")

            # tries written before the cancel may reach the fake server a little later on a
            # loaded machine (it reads in this loop too): count once nothing more arrives
            before, settled, waits = -1, sent(), 0
            while settled != before and waits < 20:  # a client that kept trying never settles
                before, waits = settled, waits + 1
                await asyncio.sleep(0.05)
                settled = sent()
            assert settled >= 4  # it was retrying
            await asyncio.sleep(0.3)
            assert sent() == settled  # and no try came after


async def test_a_read_is_not_resent_after_a_later_write_of_its_pipeline_may_have_run(stages):
    """[GET k, SET k v2] both written, the connection lost before either reply: a second
    GET would see v2, which no execution in the order queued gives it. The GET gets
    MaybeAppliedError; the SET, repeatable, is sent again. A read of another key is sent
    again as before."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        gets, sets = itertools.count(), itertools.count()
        node.handlers[b"GET"] = lambda args: b"" if next(gets) == 0 else encode_reply(b"v1")  # ran, no reply
        node.handlers[b"SET"] = lambda args: DROP if next(sets) == 0 else b"+OK\r\n"
        async with await ClusterClient.connect([node.address], stages=stages) as client:
            results = await client.pipeline().get("{k}").set("{k}", "v2").execute(raise_on_error=False)
            assert isinstance(results[0], MaybeAppliedError), results
            assert "not sent again" in str(results[0]) and "SET" in str(results[0])
            assert results[1] is True
            assert sum(1 for c in node.commands if c[0] == b"GET") == 1
            gets, sets = itertools.count(), itertools.count()
            results = await client.pipeline().get("{k}a").set("{k}b", "v2").execute()
            assert results == [b"v1", True]  # different keys: the read is sent again


async def test_a_refused_command_is_not_retried_after_a_later_one_on_its_keys_ran(stages):
    """MSET a b answered TRYAGAIN (its keys split by a migration), then SET a run on the
    source: retried, the MSET would overwrite the later SET. It ends in OutOfOrderError,
    sent once; with disjoint keys it is retried and succeeds."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        msets = itertools.count()
        tryagain = b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        node.handlers[b"MSET"] = lambda args: tryagain if next(msets) % 2 == 0 else b"+OK\r\n"
        async with await ClusterClient.connect([node.address], stages=stages, retry_backoff=0.001) as client:
            pipe = client.pipeline().execute_command("MSET", "{t}a", "1", "{t}b", "1").set("{t}a", "2")
            results = await pipe.execute(raise_on_error=False)
            assert isinstance(results[0], OutOfOrderError) and "SET of its pipeline" in str(results[0])
            assert results[1] is True and sum(1 for c in node.commands if c[0] == b"MSET") == 1
            pipe = client.pipeline().execute_command("MSET", "{t}a", "1", "{t}b", "1").set("{t}c", "3")
            assert await pipe.execute() == [b"OK", True]  # disjoint keys: retried in order


async def test_the_commands_of_one_slot_stay_in_one_conversation_across_rounds(stages):
    """Mid-migration, [MSET a b, GET a]: the MSET is answered TRYAGAIN by the source (its
    keys are split), the GET ASK. The GET must not go to the target ahead of the MSET,
    which is retried at the source first: it waits a round, and reads the MSET's value."""
    async with FakeRedis() as source, FakeRedis() as target:
        serve_all_slots(source)
        target.handlers[b"CLUSTER"] = source.handlers[b"CLUSTER"]
        msets = itertools.count()
        ask = f"-ASK 1 {target.address}\r\n".encode()
        tryagain = b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"
        source.handlers[b"MSET"] = lambda args: tryagain if next(msets) == 0 else ask
        source.handlers[b"GET"] = lambda args: ask

        def mset(args):
            target.data.update(zip(args[::2], args[1::2], strict=True))
            return b"+OK\r\n"

        target.handlers[b"MSET"] = mset
        async with await ClusterClient.connect(
            [source.address], stages=stages, retry_backoff=0.001
        ) as client:
            pipe = client.pipeline().execute_command("MSET", "{t}a", "new", "{t}b", "new").get("{t}a")
            assert await pipe.execute() == [b"OK", b"new"]
            order = [c[0] for c in target.commands if c[0] in (b"MSET", b"GET")]
            assert order == [b"MSET", b"GET"], target.commands


async def test_a_long_pipeline_answered_steadily_outlives_the_command_timeout(stages):
    """Four commands of 150 ms each take 0.6 s on the server: with a 0.5 s command
    timeout every one is answered, since each next reply comes well within it. A node
    that stops answering still fails the rest by a timeout. The margin (0.35 s between
    replies) is wide because the fake server shares this process: a pause of the whole
    process (a loaded CI machine, a full garbage collection) holds back its replies and
    fires the client's timer alike (0.14 s of margin failed once in CI)."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        for client in await both_clients(node, stages, command_timeout=0.5):
            async with client:
                pipe = client.pipeline()
                for _ in range(4):
                    pipe.execute_command("SLEEP", 150)
                assert await pipe.execute() == [b"SLEPT"] * 4
                pipe = client.pipeline().execute_command("SLEEP", 10).execute_command("SLEEP", 1500)
                results = await pipe.execute(raise_on_error=False)
                assert results[0] == b"SLEPT" and "no reply" in str(results[1]), results


async def test_a_reply_read_in_the_turn_its_timeout_fires_is_the_commands_reply(stages):
    """The node answers, then the whole process stalls past the command timeout (here the
    fake server blocks the loop; in life a GC pause or a loaded machine). When the loop
    wakes, the reply is on the socket and the timer is due: asyncio's loop runs the read
    and the timer in one turn, the read first. The command was answered, so its reply is
    the outcome, not a timeout (the write it acknowledges was applied)."""
    async with FakeRedis() as node:
        serve_all_slots(node)

        def answer_then_stall(args):
            asyncio.get_running_loop().call_soon(time.sleep, 0.6)  # runs after the reply is written
            node.data[args[0]] = args[1]
            return b"+OK\r\n"

        node.handlers[b"STALLSET"] = answer_then_stall
        for client in await both_clients(node, stages, command_timeout=0.3):
            async with client:
                pipe = client.pipeline().execute_command("STALLSET", "k", "v").get("k")
                assert await pipe.execute(raise_on_error=False) == [b"OK", b"v"]


async def test_nothing_of_a_pipeline_or_transaction_is_sent_when_one_command_cannot_be(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        for client in await both_clients(node, stages, max_bulk_bytes=1000):
            async with client:
                with pytest.raises(TypeError):
                    await client.pipeline().set("a", "1").execute_command("SET", "b", object()).execute()
                with pytest.raises(
                    UnsafeCommandError, match=r"SET refused before sending: argument 2 is 2,000 bytes"
                ):
                    await client.pipeline().set("a", "1").set("b", "x" * 2000).execute()
                with pytest.raises(UnsafeCommandError, match="proto-max-bulk-len"):
                    await client.transaction(("SET", "{t}a", "1"), ("SET", "{t}b", "x" * 2000))
                with pytest.raises(UnsafeCommandError, match="max_bulk_bytes"):
                    await client.set("b", "x" * 2000)  # a single command too, on every route
                assert not [c for c in node.commands if c[0] in (b"SET", b"MULTI")]


async def test_a_transaction_refused_by_a_protocol_error_is_never_sent_again(stages):
    """The server answers a protocol error and closes: the transaction was discarded, and
    it is raised at once rather than resent until the command timeout."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"MULTI"] = lambda args: b"+OK\r\n"
        node.handlers[b"SET"] = lambda args: (b"-ERR Protocol error: invalid bulk length\r\n", DROP)
        async with await ClusterClient.connect([node.address], stages=stages) as client:
            with pytest.raises(ResponseError, match="Protocol error"):
                await client.transaction(("SET", "{t}a", "1"))
            assert sum(1 for c in node.commands if c[0] == b"MULTI") == 1


async def test_loading_is_waited_out_like_tryagain(stages):
    """A replica loading its dataset after a resync answers LOADING: retried until the
    deadline, never handed to the caller raw."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        replies = [b"-LOADING Redis is loading the dataset in memory\r\n"] * 2 + [encode_reply(b"v")]
        node.handlers[b"GET"] = lambda args: replies.pop(0)
        async with await ClusterClient.connect([node.address], stages=stages, retry_backoff=0.001) as client:
            assert await client.get("k") == b"v"
            assert client.counters["loading"] == 2


async def test_scan_and_keys_need_a_target_in_cluster_mode():
    async with FakeRedis() as node:
        serve_all_slots(node)
        async with await ClusterClient.connect([node.address]) as client:
            with pytest.raises(ValueError, match="SCAN in cluster mode needs target="):
                await client.execute_command("SCAN", 0)
            with pytest.raises(ValueError, match="KEYS in cluster mode needs a target: target='all'"):
                await client.execute_command("KEYS", "*")
            assert not [c for c in node.commands if c[0] in (b"SCAN", b"KEYS")]
