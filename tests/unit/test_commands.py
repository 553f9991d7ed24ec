import pytest

from rediscluster_opt.core.commands import command_keys, command_name


@pytest.mark.parametrize(
    ("args", "keys"),
    [
        (("GET", "k"), [b"k"]),
        ((b"hset", b"h", b"f", b"v"), [b"h"]),
        (("PING",), []),
        (("FLUSHALL", "ASYNC"), []),
        (("cluster", "info"), []),
        (("MGET", "a", "b"), [b"a", b"b"]),
        (("DEL", "a", b"b", 3), [b"a", b"b", b"3"]),
        (("MSET", "a", 1, "b", 2), [b"a", b"b"]),
        (("EVAL", "return 1", 2, "k1", "k2", "arg"), [b"k1", b"k2"]),
        (("EVAL", "return 1", 0), []),
        (("OBJECT", "ENCODING", "k"), [b"k"]),
        (("SOMENEWCOMMAND", "k", "x"), [b"k"]),  # default: the first argument is the key
    ],
)
def test_key_rule(args, keys):
    assert command_keys(args) == keys


def test_empty_and_bad_commands():
    with pytest.raises(ValueError, match="empty command"):
        command_name(())
    with pytest.raises(ValueError, match="numkeys must be an integer"):
        command_keys(("EVAL", "s", "two", "k"))
