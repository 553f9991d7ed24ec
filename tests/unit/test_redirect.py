import pytest

from rediscluster_opt.core.redirect import Redirect, error_code, parse_redirect
from rediscluster_opt.core.resp import ReplyError
from rediscluster_opt.stages import REGISTRY


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("MOVED 3999 127.0.0.1:6381", Redirect("MOVED", 3999, "127.0.0.1", 6381)),
        ("ASK 0 10.0.0.5:7000", Redirect("ASK", 0, "10.0.0.5", 7000)),
        ("MOVED 16383 redis-3.local:65535", Redirect("MOVED", 16383, "redis-3.local", 65535)),
        ("MOVED 12 ::1:7000", Redirect("MOVED", 12, "::1", 7000)),  # IPv6: split on the last ':'
        ("MOVED 12 :7000", Redirect("MOVED", 12, "", 7000)),  # unknown endpoint: same host
        ("MOVED 1 h:0", Redirect("MOVED", 1, "h", 0)),
    ],
)
def test_valid_redirects(message, expected):
    assert parse_redirect(message) == expected


@pytest.mark.parametrize(
    "message",
    [
        "MOVED",
        "MOVED ",
        "MOVED 1",
        "MOVED 1 host",
        "MOVED x h:1",
        "MOVED 16384 h:1",
        "MOVED 1 h:65536",
        "MOVED 1 h:x",
        "MOVED -1 h:1",
        "MOVED  1 h:1",
        "MOVED 1  h:1",
        "MOVED 1 h:1 extra",
        "MOVED 1 h:1 ",
        "MOVEDX 1 h:1",
        "moved 1 h:1",
        "ERR MOVED 1 h:1",
        "ASKING 1 h:1",
        "MOVED １ h:1",
        "",
        "A",
        "M",
    ],
)
def test_malformed_redirects_are_rejected(message):
    assert parse_redirect(message) is None


def test_redirect_address_falls_back_to_current_host():
    assert parse_redirect("ASK 5 :7001").address("10.1.1.1") == "10.1.1.1:7001"
    assert parse_redirect("ASK 5 h:7001").address("10.1.1.1") == "h:7001"


def test_error_code():
    assert error_code("TRYAGAIN Multiple keys request during rehashing of slot") == "TRYAGAIN"
    assert error_code("CLUSTERDOWN") == "CLUSTERDOWN"


REPLIES = [
    b"OK",
    b"MOVED 1 h:2",
    b"",
    12,
    None,
    [b"MOVED 1 h:2"],
    ReplyError("MOVED 1 h:2"),
    ReplyError("ASK 7 10.0.0.1:7000"),
    ReplyError("ERR wrong"),
    ReplyError("MASTERDOWN x"),
    ReplyError("ASKX 1 h:2"),
    ReplyError("MOVED 1 h:2 junk"),
    ReplyError(""),
    b"\xff\xfe",
    1.5,
]


@pytest.mark.parametrize("reply", REPLIES, ids=repr)
def test_redirect_detectors_agree(reply):
    results = {name: check(reply) for name, check in REGISTRY["redirect"].items()}
    assert len(set(results.values())) == 1, results


def test_detectors_find_real_redirects_only_in_error_replies():
    for check in REGISTRY["redirect"].values():
        assert check(ReplyError("MOVED 1 h:2")) == Redirect("MOVED", 1, "h", 2)
        assert check(b"MOVED 1 h:2") is None
