"""The cluster client's redirect and retry policy against scripted fake nodes: no real
cluster, so every branch (MOVED loops, ASK, TRYAGAIN, CLUSTERDOWN, refresh) is exercised
deterministically."""

import asyncio

import pytest

from rediscluster_opt import (
    AuthenticationError,
    ClusterClient,
    ClusterDownError,
    RedisConnectionError,
    RedisTimeoutError,
    ResponseError,
    RetriesExhausted,
    Stages,
    StandaloneClient,
    TooManyRedirects,
)
from rediscluster_opt.stages import REGISTRY
from tests.fake_server import FakeRedis
from tests.resp_values import encode_reply
from tests.stage_sets import PRESETS

STAGES = PRESETS  # both presets, each composed and fused


def shards_for(*nodes_and_ranges):
    """CLUSTER SHARDS reply: (port, start, end) per master."""
    return encode_reply(
        [
            [
                b"slots",
                [start, end],
                b"nodes",
                [
                    [
                        b"id",
                        b"n%d" % port,
                        b"port",
                        port,
                        b"ip",
                        b"127.0.0.1",
                        b"endpoint",
                        b"127.0.0.1",
                        b"role",
                        b"master",
                        b"health",
                        b"online",
                    ]
                ],
            ]
            for port, start, end in nodes_and_ranges
        ]
    )


def serve_all_slots(node):
    """Make `node` report itself as the only master, serving every slot."""
    node.handlers[b"CLUSTER"] = lambda args: shards_for((port_of(node), 0, 16383))


def port_of(server):
    return int(server.address.rsplit(":", 1)[1])


async def connect(seed, stages, **options):
    return await ClusterClient.connect([seed.address], stages=stages, retry_backoff=0.001, **options)


@pytest.fixture(params=STAGES, ids=lambda s: s.label())
def stages(request):
    return request.param


async def test_endless_moved_ends_in_too_many_redirects(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"GET"] = lambda args: f"-MOVED 12182 {node.address}\r\n".encode()
        client = await connect(node, stages, max_redirects=5)
        async with client:
            with pytest.raises(TooManyRedirects, match="GET for slot 12182: more than 5 redirects"):
                await client.get("foo")
            assert client.counters["moved"] == 5


async def test_moved_follows_the_named_node_and_refreshes_once(stages):
    async with FakeRedis() as old, FakeRedis() as new:
        layout = [(port_of(old), 0, 16383)]
        for node in (old, new):
            node.handlers[b"CLUSTER"] = lambda args: shards_for(*layout)
        new.data[b"foo"] = b"bar"
        old.handlers[b"GET"] = lambda args: f"-MOVED 12182 {new.address}\r\n".encode()
        client = await connect(old, stages, min_refresh_interval=0.05)
        async with client:
            layout[:] = [(port_of(old), 0, 12181), (port_of(new), 12182, 12182), (port_of(old), 12183, 16383)]
            refreshes = client.counters["refreshes"]
            assert await asyncio.gather(*(client.get("foo") for _ in range(20))) == [b"bar"] * 20
            assert client._lookup(12182) == new.address  # patched at once
            assert client.topology.slot_table()[12182] == new.address  # in the one routing snapshot too
            assert new.address in client.topology.masters
            await asyncio.sleep(0.2)
            assert client.counters["refreshes"] == refreshes + 1  # one refresh for the burst
            gets_before = sum(1 for c in old.commands if c[0] == b"GET")
            assert await client.get("foo") == b"bar"
            assert sum(1 for c in old.commands if c[0] == b"GET") == gets_before  # straight to new


async def test_ask_sends_asking_with_the_command_and_no_refresh(stages):
    async with FakeRedis() as source, FakeRedis() as target:
        for node in (source, target):
            node.handlers[b"CLUSTER"] = lambda args: shards_for((port_of(source), 0, 16383))
        source.handlers[b"GET"] = lambda args: f"-ASK 12182 {target.address}\r\n".encode()
        target.data[b"foo"] = b"moved-value"
        client = await connect(source, stages)
        async with client:
            refreshes = client.counters["refreshes"]
            assert await client.get("foo") == b"moved-value"
            assert [c[0] for c in target.commands[-2:]] == [b"ASKING", b"GET"]
            assert client.counters["ask"] == 1 and client.counters["refreshes"] == refreshes
            assert client._lookup(12182) == source.address  # ASK never changes the map


async def test_tryagain_is_retried_with_backoff_then_succeeds(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        replies = [b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"] * 2 + [b"$2\r\nok\r\n"]
        node.handlers[b"GET"] = lambda args: replies.pop(0)
        client = await connect(node, stages)
        async with client:
            assert await client.get("foo") == b"ok"
            assert client.counters["tryagain"] == 2


async def test_an_error_nested_in_an_array_is_a_response_error_too(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"EVAL"] = lambda args: b"*2\r\n:1\r\n-ERR inner failure\r\n"
        client = await connect(node, stages)
        async with client:
            first, second = await client.execute_command("EVAL", "return 1", 1, "k")
            assert first == 1 and isinstance(second, ResponseError) and second.message == "ERR inner failure"


async def test_a_timeout_says_what_happened_on_every_preset(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        client = await connect(node, stages, command_timeout=0.05)
        async with client:
            with pytest.raises(RedisTimeoutError) as caught:
                await client.execute_command("SLEEP", 500, key="foo")
            # never empty, whichever submit variant timed out (wait_for's own TimeoutError has no text)
            assert str(caught.value).startswith(f"SLEEP on {node.address}: no reply within ")


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        # TRYAGAIN that outlasts the retries is not a redirect problem
        (b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n", RetriesExhausted),
        (b"-CLUSTERDOWN The cluster is down\r\n", ClusterDownError),
    ],
)
async def test_a_persistent_transient_answer_ends_in_its_typed_error(stages, answer, error):
    """TRYAGAIN and CLUSTERDOWN pass (a migration, a promotion): they are retried until
    the command's deadline, not a fixed count, and the error comes before the deadline."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"GET"] = lambda args: answer
        client = await connect(node, stages, command_timeout=0.6)
        async with client:
            code = answer[1:].split(b" ")[0].decode()
            started = asyncio.get_running_loop().time()
            with pytest.raises(error, match=f"GET on .*{code}.*tries within the command timeout") as caught:
                await client.get("foo")
            waited = asyncio.get_running_loop().time() - started
            assert not isinstance(caught.value, TooManyRedirects)
            tries = sum(1 for c in node.commands if c[0] == b"GET")
            assert tries >= 5  # pauses of 1, 2, 4 ... 256 ms fit in 0.6 s
            assert (
                0.2 < waited < 0.6 + 1.0
            )  # by the deadline (a loaded machine may add a little), not at a count


async def test_uncovered_slot_and_partial_coverage(stages):
    async with FakeRedis() as node:
        node.handlers[b"CLUSTER"] = lambda args: shards_for((port_of(node), 0, 99))
        with pytest.raises(ClusterDownError, match="serves only 100 of 16384 slots"):
            await connect(node, stages)
        client = await connect(node, stages, require_full_coverage=False)
        async with client:
            with pytest.raises(ClusterDownError, match="slot 12182 is not served by any node"):
                await client.get("foo")


async def test_other_error_replies_are_raised_not_retried(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"GET"] = lambda args: b"-WRONGTYPE Operation against a key\r\n"
        client = await connect(node, stages)
        async with client:
            with pytest.raises(ResponseError, match="WRONGTYPE .*command GET on 127.0.0.1"):
                await client.get("foo")
            assert sum(1 for c in node.commands if c[0] == b"GET") == 1


async def test_cluster_shards_falls_back_to_cluster_slots():
    async with FakeRedis() as node:
        port = port_of(node)

        def cluster(args):
            if args[0].upper() == b"SHARDS":
                return b"-ERR unknown subcommand 'SHARDS'\r\n"
            return encode_reply([[0, 16383, [b"127.0.0.1", port, b"id"]]])

        node.handlers[b"CLUSTER"] = cluster
        node.data[b"foo"] = b"v"
        client = await connect(node, Stages.optimized())
        async with client:
            assert client.topology.is_complete and await client.get("foo") == b"v"


def test_every_registered_stage_has_a_variant_in_the_e2e_sets():
    """The e2e suite's stage sets together use every registered variant at least once."""
    from tests.stage_sets import STAGE_SETS

    used = {(stage, getattr(s, stage)) for s in STAGE_SETS for stage in REGISTRY}
    assert {(stage, v) for stage, variants in REGISTRY.items() for v in variants} <= used


async def test_commands_on_unassigned_slots_cannot_cause_a_refresh_storm(stages):
    async with FakeRedis() as node:
        node.handlers[b"CLUSTER"] = lambda args: shards_for((port_of(node), 0, 99))
        client = await connect(node, stages, require_full_coverage=False, min_refresh_interval=60)
        async with client:
            refreshes = client.counters["refreshes"]
            results = await asyncio.gather(*(client.get("foo") for _ in range(200)), return_exceptions=True)
            assert all(isinstance(r, ClusterDownError) for r in results)
            # 200 commands on an unassigned slot, within the interval: no refresh at all
            assert client.counters["refreshes"] == refreshes
            assert sum(1 for c in node.commands if c[:2] == [b"CLUSTER", b"SHARDS"]) == 1


async def test_ask_redirects_do_not_grow_the_pooled_free_list():
    async with FakeRedis() as source, FakeRedis() as target:
        serve_all_slots(source)
        source.handlers[b"GET"] = lambda args: b"-ASK 12182 %s\r\n" % target.address.encode()
        target.data[b"foo"] = b"v"
        client = await connect(source, Stages.optimized())
        async with client:
            for _ in range(3000):
                assert await client.get("foo") == b"v"
            sizes = [len(mux._submit._free) for mux in client._pool.connections()]
            assert max(sizes) <= 2  # one command in flight at a time: a record or two, never one per ASK


async def test_a_closed_client_fails_at_once_without_retries_or_refreshes(stages):
    async with FakeRedis() as node:
        serve_all_slots(node)
        client = await ClusterClient.connect([node.address], stages=stages, retry_backoff=0.2)
        await client.close()
        refreshes = client.counters["refreshes"]
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(RedisConnectionError, match="GET: the client is closed"):
            await client.get("foo")
        assert loop.time() - started < 0.1  # a retry would have slept 0.2 s first
        assert client.counters["refreshes"] == refreshes and client.counters["reconnects"] == 0


async def test_a_password_protected_cluster_says_authentication_not_cluster_down():
    async with FakeRedis() as node:
        node.handlers[b"CLUSTER"] = lambda args: b"-NOAUTH Authentication required.\r\n"
        with pytest.raises(
            AuthenticationError, match=f"NOAUTH Authentication required.*CLUSTER SHARDS on {node.address}"
        ):
            await ClusterClient.connect([node.address])
        serve_all_slots(node)
        node.handlers[b"GET"] = lambda args: b"-WRONGPASS invalid username-password pair\r\n"
        client = await connect(node, Stages.optimized())
        async with client:
            with pytest.raises(AuthenticationError, match="WRONGPASS"):
                await client.get("foo")


async def test_a_blocking_command_takes_moved_and_clusterdown_as_any_command_does(stages):
    """BLPOP on its dedicated connection: CLUSTERDOWN is retried until the deadline, MOVED
    is followed (and patched), and the reply comes from the new owner."""
    async with FakeRedis() as old, FakeRedis() as new:
        layout = [(port_of(old), 0, 16383)]
        for node in (old, new):
            node.handlers[b"CLUSTER"] = lambda args: shards_for(*layout)
        answers = iter([b"-CLUSTERDOWN The cluster is down\r\n"] * 2)
        old.handlers[b"BLPOP"] = lambda args: next(answers, f"-MOVED 12182 {new.address}\r\n".encode())
        new.handlers[b"BLPOP"] = lambda args: encode_reply([b"foo", b"popped"])
        client = await connect(old, stages, command_timeout=2.0)
        async with client:
            assert await client.blpop("foo", timeout=1) == (b"foo", b"popped")
            assert client.counters["clusterdown"] == 2 and client.counters["moved"] == 1
            assert client._lookup(12182) == new.address


async def test_one_slow_path_for_pinned_commands_too(stages):
    """A standalone command and a keyless one go through the same slow path as a keyed
    one, pinned to their node: TRYAGAIN is retried there, a redirect is not followed."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        answers = iter([b"-TRYAGAIN Multiple keys request during rehashing of slot\r\n"])
        node.handlers[b"GET"] = lambda args: next(answers, b"$2\r\nok\r\n")
        node.handlers[b"DBSIZE"] = lambda args: f"-MOVED 1 {node.address}\r\n".encode()
        async with await StandaloneClient.connect(node.address, stages=stages, command_timeout=2.0) as alone:
            assert await alone.get("k") == b"ok"
            assert alone.counters["tryagain"] == 1
        client = await connect(node, stages)
        async with client:
            with pytest.raises(ResponseError, match="MOVED"):
                await client.execute_command("DBSIZE", target=node.address)
            assert client.counters["moved"] == 0
