"""Options and inputs are checked where they are given: a ValueError names the option and
what it accepts (NaN and the infinities included), before anything connects."""

import math

import pytest

from rediscluster_opt import ClusterClient, StandaloneClient
from tests.fake_server import FakeRedis
from tests.unit.test_cluster_policy import serve_all_slots

BAD = [
    (
        {"refresh_interval": -1},
        "refresh_interval must be a positive number of seconds, or None for no periodic refresh, got -1",
    ),
    ({"refresh_interval": 0}, "refresh_interval must be a positive number"),  # not a silent "off"
    ({"refresh_interval": math.inf}, "refresh_interval must be a positive number"),
    ({"command_timeout": math.nan}, "command_timeout must be a positive number of seconds, got nan"),
    ({"command_timeout": math.inf}, "command_timeout must be a positive number of seconds, got inf"),
    ({"connect_timeout": 0}, "connect_timeout must be a positive number of seconds, got 0"),
    ({"max_redirects": -1}, "max_redirects must be an integer >= 0, got -1"),
    ({"retry_attempts": -2}, "retry_attempts must be an integer >= 0, got -2"),
    ({"retry_attempts": 1.5}, "retry_attempts must be an integer >= 0, got 1.5"),
    ({"retry_backoff": -0.1}, "retry_backoff must be a number >= 0 of seconds, got -0.1"),
    ({"retry_backoff": math.nan}, "retry_backoff must be a number >= 0 of seconds, got nan"),
    ({"min_refresh_interval": -1}, "min_refresh_interval must be a number >= 0 of seconds, got -1"),
    ({"connections_per_node": 0}, "connections_per_node must be a positive integer, got 0"),
    ({"blocking_connections_per_node": True}, "blocking_connections_per_node must be a positive integer"),
    ({"retry": "yes"}, "retry must be True or False, got 'yes'"),
    ({"resend_writes": None}, "resend_writes must be True or False, got None"),
]


@pytest.mark.parametrize(("options", "message"), BAD, ids=lambda v: str(v)[:40])
def test_a_bad_option_is_named_with_its_range(options, message):
    with pytest.raises(ValueError) as caught:
        ClusterClient(["127.0.0.1:7000"], **options)
    assert message in str(caught.value)


def test_good_edges_are_accepted():
    client = ClusterClient("127.0.0.1:7000", refresh_interval=None, max_redirects=0, retry_attempts=0,
                           retry_backoff=0, min_refresh_interval=0)  # fmt: skip
    assert client.refresh_interval is None and client.max_redirects == 0


def test_a_comma_separated_seed_string_is_several_seeds():
    client = ClusterClient("127.0.0.1:9100, 127.0.0.1:9101")
    assert client.seeds == ["127.0.0.1:9100", "127.0.0.1:9101"]
    with pytest.raises(ValueError, match="bad address 'nohost'"):
        ClusterClient("127.0.0.1:9100,nohost")


async def test_inputs_that_would_go_wrong_on_the_wire_are_refused_with_their_reason():
    async with FakeRedis() as node:
        serve_all_slots(node)
        async with await ClusterClient.connect([node.address]) as client:
            with pytest.raises(
                ValueError, match="BLPOP: the timeout must be a number of seconds >= 0 .*got None"
            ):
                await client.blpop("k", timeout=None)
            with pytest.raises(
                ValueError, match=r"tuple of its arguments, e.g. \('GET', 'k'\), not the string 'GET k'"
            ):
                await client.transaction("GET k")
        assert not [c for c in node.commands if c[0] in (b"BLPOP", b"G", b"MULTI")]  # nothing was sent
    with pytest.raises(ValueError, match="command_timeout must be a positive number"):
        StandaloneClient("127.0.0.1:7100", command_timeout=-1)
