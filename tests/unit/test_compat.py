"""compat.replies: our replies and errors as redis-py's parser would give them (no I/O)."""

from __future__ import annotations

import pytest

pytest.importorskip("redis")
from redis import exceptions as redis_errors  # noqa: E402

from rediscluster_opt import errors  # noqa: E402
from rediscluster_opt.compat.replies import converted, redis_error  # noqa: E402


def test_decoding_reaches_nested_arrays_and_leaves_integers_and_nil():
    reply = [b"a", [b"b", 1, None], 2]
    assert converted(reply, ("utf-8", "strict")) == ["a", ["b", 1, None], 2]
    assert converted(reply, None) == reply
    assert converted("\xff".encode("latin-1"), ("utf-8", "replace")) == "\ufffd"


def test_error_replies_become_redis_py_s_classes_by_its_own_table():
    assert (
        type(redis_error(errors.ResponseError("NOSCRIPT No matching script"))) is redis_errors.NoScriptError
    )
    wrongtype = redis_error(errors.ResponseError("WRONGTYPE Operation against a key"))
    assert type(wrongtype) is redis_errors.ResponseError and "WRONGTYPE" in str(wrongtype)
    nested = converted([b"OK", errors.ReplyError("ERR value is not an integer")], None)
    assert nested[0] == b"OK" and isinstance(nested[1], redis_errors.ResponseError)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (errors.RedisTimeoutError("deadline"), redis_errors.TimeoutError),
        (errors.RedisConnectionError("lost"), redis_errors.ConnectionError),
        (errors.ClusterDownError("down"), redis_errors.ClusterDownError),
        (errors.CrossSlotError("slots"), redis_errors.RedisClusterException),
        (errors.UnsafeCommandError("SUBSCRIBE refused"), redis_errors.DataError),
    ],
)
def test_client_side_errors_map_to_the_class_a_redis_py_caller_catches(ours, theirs):
    found = redis_error(ours)
    assert isinstance(found, theirs) and str(ours) in str(found)


def test_anything_else_is_left_as_it_is():
    problem = KeyError("x")
    assert redis_error(problem) is problem


def test_routing_follows_redis_pys_resolver_then_its_flags_then_the_keys():
    from redis.commands.metadata import ResponsePolicy

    from rediscluster_opt.compat.policies import ALL_MASTERS, BY_KEYS, CONTAINERS, DEFAULT_NODE, route_of

    randomkey = route_of("RANDOMKEY")  # redis-py's resolver: every shard, its special merge
    assert randomkey.to == ALL_MASTERS and randomkey.response is ResponsePolicy.SPECIAL
    assert route_of("FLUSHALL").to == ALL_MASTERS  # its PRIMARIES flag
    assert route_of("INFO").to == DEFAULT_NODE  # its DEFAULT_NODE flag: one node, the same each time
    assert route_of("CLIENT SETNAME").to == DEFAULT_NODE and "CLIENT" in CONTAINERS
    assert route_of("SCRIPT LOAD").to == ALL_MASTERS
    assert route_of("GET").to == BY_KEYS and route_of("PUBLISH").to == BY_KEYS


def test_redis_py_s_internals_are_named_and_still_missing_attributes():
    from rediscluster_opt.compat import RedisCluster, UnsupportedOption

    client = RedisCluster(host="127.0.0.1", port=7000)  # not connected: no I/O until a command
    with pytest.raises(UnsupportedOption, match="RedisCluster.nodes_manager is redis-py's own"):
        client.nodes_manager  # noqa: B018
    assert not hasattr(client, "connection_pool") and getattr(client, "nodes_cache", None) is None
    assert client.get_nodes() == [] and client.get_default_node() is None  # nothing known before connecting
    with pytest.raises(UnsupportedOption, match="cache_config"):
        RedisCluster(host="127.0.0.1", port=7000, cache_config={})


def test_a_keyed_command_that_always_shares_goes_straight_to_the_keyed_route():
    from rediscluster_opt.compat import Redis, RedisCluster

    cluster, server = RedisCluster(host="127.0.0.1", port=7000), Redis(host="127.0.0.1", port=7100)
    assert cluster._direct("GET") and cluster._direct("HGETALL") and server._direct("GET")
    # routed elsewhere (every master, the default node), blocking, or refused in some form
    for name in ("KEYS", "DBSIZE", "BLPOP", "XREAD", "CLIENT LIST", "CONFIG GET"):
        assert not cluster._direct(name), name
    assert not server._direct("BLPOP") and not server._direct("CLIENT LIST")
