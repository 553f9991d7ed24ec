"""Commands that would corrupt a multiplexed connection are refused before anything is sent,
with a typed error naming the alternative; the connection keeps serving everyone else."""

import pytest

from rediscluster_opt import ClusterClient, StandaloneClient, UnsafeCommandError
from rediscluster_opt.core.commands import shared_connection_problem
from tests.fake_server import FakeRedis
from tests.unit.test_cluster_policy import serve_all_slots

REFUSED = [
    ("MULTI",),
    ("exec",),
    ("WATCH", "k"),
    ("SUBSCRIBE", "news"),
    ("PSUBSCRIBE", "n*"),
    ("SSUBSCRIBE", "news"),
    ("MONITOR",),
    ("SELECT", 1),
    ("CLIENT", "REPLY", "OFF"),
    ("RESET",),
    ("QUIT",),
    ("HELLO", 3),
    ("AUTH", "secret"),
    ("WAIT", 1, 0),
    ("SYNC",),
    ("psync", "?", -1),
    ("REPLCONF", "listening-port", 7000),
    ("READWRITE",),
    ("READONLY",),
    ("CLIENT", "TRACKING", "ON"),
    ("client", "no-evict", "on"),
]
# Blocking commands are allowed: they run on a dedicated connection (see test_blocking_*).
ALLOWED = [
    ("GET", "k"),
    ("CLIENT", "LIST"),
    ("CLIENT", "SETINFO", "LIB-NAME", "x"),
    ("XREAD", "COUNT", 1, "STREAMS", "s", "0"),
    ("LPOP", "q"),
    ("BLPOP", "q", 0),
    ("BZPOPMIN", "z", 1),
    ("XREAD", "BLOCK", 0, "STREAMS", "s", "$"),
]


@pytest.mark.parametrize("args", REFUSED, ids=lambda a: " ".join(map(str, a)))
def test_unsafe_commands_are_named_with_an_alternative(args):
    problem = shared_connection_problem(args)
    what, alternative = problem.split("; ", 1)  # what goes wrong; what to do instead
    assert "connection every caller shares" in what and alternative


@pytest.mark.parametrize("args", ALLOWED, ids=lambda a: " ".join(map(str, a)))
def test_safe_commands_pass(args):
    assert shared_connection_problem(args) is None


def test_a_name_always_shared_is_refused_in_no_form_and_never_blocks():
    # what the drop-in decides once per command name (core.commands.always_shared) must
    # agree with the per-command checks for every form those tables know
    from rediscluster_opt.core.commands import always_shared, blocking_seconds

    for args in [*REFUSED, *ALLOWED]:
        name = str(args[0]).upper().encode()
        if always_shared(name):
            assert shared_connection_problem(args) is None and blocking_seconds(args) is None, args
    assert always_shared(b"GET") and always_shared(b"HGETALL")
    assert not any(always_shared(n) for n in (b"CLIENT", b"BLPOP", b"XREAD", b"MULTI", b"WAIT"))


async def test_a_refused_command_is_never_sent_and_the_connection_keeps_serving():
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.data[b"k"] = b"v"
        for client in (
            await ClusterClient.connect([node.address]),
            await StandaloneClient.connect(node.address),
        ):
            async with client:
                with pytest.raises(UnsafeCommandError, match=r"MULTI refused: .*client\.transaction"):
                    await client.execute_command("MULTI")
                with pytest.raises(UnsafeCommandError, match="WAIT refused: .*blocks"):
                    await client.execute_command("WAIT", 1, 0)
                assert await client.get("k") == b"v"
        assert not [c for c in node.commands if c[0] in (b"MULTI", b"WAIT")]
