import asyncio
import itertools

import pytest

from rediscluster_opt import ProtocolError, RedisConnectionError, Stages
from rediscluster_opt.core.resp import ReplyError, encode_command
from rediscluster_opt.mux.multiplexer import Multiplexer
from rediscluster_opt.mux.pool import MultiplexPool
from rediscluster_opt.stages import REGISTRY
from tests.fake_server import FakeRedis

# Every combination of the stages that live inside one connection, each composed (the
# submit stage calls the writer's send) and fused (one `execute` where the pair has one).
CONNECTION_STAGES = [
    Stages.optimized().replace(writer=w, submit=s, parser=p, delivery=r, dispatch=d)
    for w, s, p, r, d in itertools.product(
        REGISTRY["writer"],
        REGISTRY["submit"],
        REGISTRY["parser"],
        REGISTRY["delivery"],
        ("composed", "fused"),
    )
]


@pytest.fixture(params=CONNECTION_STAGES, ids=lambda s: s.label())
def stages(request):
    return request.param


async def open_mux(server, stages, timeout=5.0):
    return await Multiplexer.open(
        server.address, stages.resolve(), connect_timeout=2.0, command_timeout=timeout
    )


def cmd(*args):
    return encode_command(args)


async def test_fifo_with_replies_cut_into_single_bytes(stages):
    async with FakeRedis(chunk_size=1) as server:
        mux = await open_mux(server, stages)
        values = [b"value-%d-" % i * (i % 7 + 1) for i in range(150)]
        replies = await asyncio.gather(*(mux.execute(cmd("ECHO", v)) for v in values))
        assert replies == values
        mux.close()


async def test_cancelled_caller_keeps_its_place(stages):
    async with FakeRedis() as server:
        mux = await open_mux(server, stages)
        slow = asyncio.ensure_future(mux.execute(cmd("SLEEP", 50)))
        await asyncio.sleep(0.01)
        slow.cancel()
        assert await mux.execute(cmd("ECHO", b"after")) == b"after"
        assert await mux.execute(cmd("ECHO", b"again")) == b"again"
        mux.close()


@pytest.mark.parametrize("dispatch", ["composed", "fused"])
@pytest.mark.parametrize("submit", list(REGISTRY["submit"]))
async def test_timeout_does_not_desynchronise_the_stream(submit, dispatch):
    async with FakeRedis() as server:
        stages = Stages.optimized().replace(submit=submit, dispatch=dispatch)
        mux = await open_mux(server, stages, timeout=0.3)
        with pytest.raises(TimeoutError):
            await mux.execute(cmd("SLEEP", 600))
        await asyncio.sleep(0.4)  # the late "+SLEPT" arrives meanwhile...
        # ...and must be read and dropped, not given to the next caller.
        assert await mux.execute(cmd("ECHO", b"in-sync")) == b"in-sync"
        assert await mux.execute(cmd("ECHO", b"still")) == b"still"
        mux.close()


async def test_broken_connection_fails_exactly_the_commands_in_flight(stages):
    async with FakeRedis() as server:
        mux = await open_mux(server, stages)
        assert await mux.execute(cmd("ECHO", b"before")) == b"before"
        in_flight = [asyncio.ensure_future(mux.execute(cmd("SLEEP", 500))) for _ in range(3)]
        await asyncio.sleep(0.05)
        server.drop_connections()
        for future in in_flight:
            with pytest.raises(RedisConnectionError, match="lost|closed"):
                await future
        assert mux.closed
        with pytest.raises(RedisConnectionError):  # later commands fail at once, no hang
            await asyncio.wait_for(mux.execute(cmd("PING")), 1)


async def test_corrupt_reply_closes_the_connection_with_a_protocol_error(stages):
    async with FakeRedis() as server:
        mux = await open_mux(server, stages)
        with pytest.raises(ProtocolError, match="invalid RESP"):
            await mux.execute(cmd("GARBAGE"))
        assert mux.closed


async def test_error_replies_are_values_and_keep_the_connection(stages):
    async with FakeRedis() as server:
        mux = await open_mux(server, stages)
        reply = await mux.execute(cmd("NOPE"))
        assert isinstance(reply, ReplyError) and "unknown command" in reply.message
        assert await mux.execute(cmd("PING")) == b"PONG"
        mux.close()


async def test_pair_returns_the_second_reply(stages):
    async with FakeRedis() as server:
        server.data[b"k"] = b"v"
        mux = await open_mux(server, stages)
        assert await mux.execute_pair(cmd("ASKING"), cmd("GET", "k")) == b"v"
        assert [c[0] for c in server.commands[-2:]] == [b"ASKING", b"GET"]
        assert await mux.execute(cmd("PING")) == b"PONG"
        mux.close()


@pytest.mark.parametrize("dispatch", ["composed", "fused"])
@pytest.mark.parametrize("writer", list(REGISTRY["writer"]))
async def test_batching_writers_coalesce_one_tick_into_one_write(writer, dispatch):
    async with FakeRedis() as server:
        mux = await open_mux(server, Stages.optimized().replace(writer=writer, dispatch=dispatch))
        before = mux.io_counters()["writes"]
        await asyncio.gather(*(mux.execute(cmd("ECHO", i)) for i in range(50)))
        writes = mux.io_counters()["writes"] - before
        assert writes == (50 if writer == "direct" else 1)
        assert mux.io_counters()["replies"] == 50
        mux.close()


async def test_connect_failure_is_typed_and_names_the_address():
    with pytest.raises(RedisConnectionError, match="cannot connect to 127.0.0.1:1"):
        await Multiplexer.open("127.0.0.1:1", Stages().resolve(), connect_timeout=1, command_timeout=1)


@pytest.mark.parametrize("per_node", [1, 3])
async def test_pool_connects_once_and_reconnects_after_a_drop(per_node):
    async with FakeRedis() as server:
        pool = MultiplexPool(
            Stages().resolve(), connections_per_node=per_node, connect_timeout=1, command_timeout=1
        )
        muxes = await asyncio.gather(*(pool.connect(server.address) for _ in range(20)))
        assert len(pool.connections()) == per_node
        assert {id(m) for m in muxes} <= {id(m) for m in pool.connections()}
        server.drop_connections()
        await asyncio.sleep(0.05)
        assert pool.pick(server.address) is None
        mux = await pool.connect(server.address)
        assert await mux.execute(cmd("PING")) == b"PONG"
        await pool.close()


def test_pool_rejects_a_bad_connection_count():
    with pytest.raises(ValueError, match="connections_per_node"):
        MultiplexPool(Stages().resolve(), connections_per_node=0, connect_timeout=1, command_timeout=1)


async def test_a_closed_connection_refuses_new_commands_as_not_sent():
    """Given to a connection that is already closed, a command is never written: the retry
    policy may send it elsewhere, whatever it is (a DEL too)."""
    from rediscluster_opt import NotSentError

    async with FakeRedis() as server:
        mux = await open_mux(server, Stages.optimized())
        mux.close()
        with pytest.raises(NotSentError, match="closed by the client; the command was not sent"):
            await mux.execute(cmd("DEL", "k"))


@pytest.mark.pure_only("patches Multiplexer.open, which the compiled pool calls directly")
async def test_a_connection_lost_before_the_pool_installs_it_is_never_installed(monkeypatch):
    """CLIENT KILL right after a connect completed, while the pool still waited for the
    node's other connections: installed, the dead connection would refuse every command
    to that node for good (seen under a kill storm). The connect fails instead, and the
    next one opens fresh connections."""
    async with FakeRedis() as server:
        pool = MultiplexPool(Stages.optimized().resolve(), connections_per_node=2,
                             connect_timeout=2.0, command_timeout=2.0)  # fmt: skip
        real_open = Multiplexer.open
        calls = itertools.count()

        async def open_then_lose_the_first(*args, **kwargs):
            mux = await real_open(*args, **kwargs)
            if next(calls) == 0:
                mux.close()  # as connection_lost would, before the gather returns
            return mux

        monkeypatch.setattr(Multiplexer, "open", open_then_lose_the_first)
        with pytest.raises(RedisConnectionError, match="lost while connecting"):
            await pool.connect(server.address)
        assert pool.pick(server.address) is None
        mux = await pool.connect(server.address)
        assert not mux.closed and await mux.execute(cmd("PING")) == b"PONG"
        await pool.close()
