"""Connection URLs (redis-py's conventions where they overlap), and that a password never
shows in a repr, a redacted URL or an error message."""

import logging
import string
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rediscluster_opt.core.url import parse_url, redacted


def test_user_password_seeds_db_and_options():
    spec = parse_url("redis://app:s%40cret@10.0.0.5:7000,10.0.0.6:7001/0?client_name=lab")
    assert spec.addresses == ("10.0.0.5:7000", "10.0.0.6:7001")
    assert (spec.username, spec.password, spec.tls, spec.db, spec.client_name) == (
        "app",
        "s@cret",
        None,
        0,
        "lab",
    )
    assert "s@cret" not in repr(spec) and spec.redacted() == "redis://app:***@10.0.0.5:7000,10.0.0.6:7001"


def test_redis_py_conventions():
    assert parse_url("redis://localhost").addresses == ("localhost:6379",)  # the default port
    alone = parse_url("rediss://secret@h:6380")
    assert (alone.username, alone.password, alone.tls is not None) == (None, "secret", True)  # password alone
    assert parse_url("redis://:pw@h:1").password == "pw"
    assert parse_url("redis://h:1/3").db == 3 and parse_url("redis://h:1?db=2").db == 2


def test_seeds_as_a_list_must_share_credentials():
    assert parse_url(["redis://u:p@a:1", "redis://u:p@b:2"]).addresses == ("a:1", "b:2")
    with pytest.raises(ValueError, match="differ in scheme, credentials or db") as caught:
        parse_url(["redis://u:p@a:1", "redis://u:other@b:2"])
    assert "other" not in str(caught.value)


def test_the_password_may_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("LAB_PASSWORD", "from-env")
    spec = parse_url("redis://app@h:1?password_env=LAB_PASSWORD")
    assert (spec.username, spec.password) == ("app", "from-env")
    with pytest.raises(ValueError, match="password_env=MISSING, which is not set"):
        parse_url("redis://app@h:1?password_env=MISSING")


@pytest.mark.parametrize(
    "url, message",
    [
        ("http://h:1", "the scheme must be redis:// or rediss://"),
        ("redis://u:hunter2@h:port", "bad address"),
        ("redis://u:hunter2@h:1?timeout=3", "unknown option"),
        ("redis://u:hunter2@h:1/x", "the database must be a number"),
        ("127.0.0.1:7000", "expected redis://host:port"),
    ],
)
def test_bad_urls_are_named_without_their_password(url, message):
    with pytest.raises(ValueError, match=message) as caught:
        parse_url(url)
    assert "hunter2" not in str(caught.value)


def test_redacted():
    assert redacted("redis://u:pw@h:1?db=0") == "redis://u:***@h:1?db=0"
    assert redacted("redis://h:1") == "redis://h:1"


async def test_clients_from_url_authenticate_every_connection_first():
    from rediscluster_opt import AuthenticationError, ClusterClient, StandaloneClient
    from tests.fake_server import FakeRedis
    from tests.resp_values import encode_reply
    from tests.unit.test_cluster_policy import serve_all_slots

    async with FakeRedis() as node:
        serve_all_slots(node)
        node.data[b"k"] = b"v"
        accepted = {(b"app", b"right")}
        node.handlers[b"AUTH"] = lambda args: (
            b"+OK\r\n" if tuple(args) in accepted else encode_reply(_wrongpass())
        )
        node.handlers[b"CLIENT"] = lambda args: b"+OK\r\n"
        async with await ClusterClient.from_url(
            f"redis://app:right@{node.address}?client_name=lab"
        ) as client:
            assert await client.get("k") == b"v"
        async with await StandaloneClient.from_url(f"redis://app:right@{node.address}") as client:
            assert await client.get("k") == b"v"
        firsts = [c[:2] for c in node.commands if c[0] in (b"AUTH", b"CLIENT")]
        assert firsts[:2] == [[b"AUTH", b"app"], [b"CLIENT", b"SETNAME"]]
        for make in (ClusterClient.from_url, StandaloneClient.from_url):
            with pytest.raises(
                AuthenticationError, match=rf"WRONGPASS .*AUTH \(connection setup\) on {node.address}"
            ) as caught:
                await make(f"redis://app:wrong@{node.address}")
            assert "wrong" not in str(caught.value).replace("WRONGPASS", "")
    with pytest.raises(ValueError, match="database 0 only"):
        await ClusterClient.from_url("redis://h:1/2")


def _wrongpass():
    from rediscluster_opt.core.resp import ReplyError

    return ReplyError("WRONGPASS invalid username-password pair or user is disabled.")


SHAPES = (
    "redis://user:{pw}@127.0.0.1:9100",
    "redis://{pw}@127.0.0.1:9100",  # redis-py: a password alone
    "rediss://app:{pw}@h1:7000,h2:7001/0?ssl_cert_reqs=none",
    "redis://user:{pw}@127.0.0.1:9100?client_name=lab&nonsense=1",
    "redis://user:{pw}@not a host",
    "redis://user:{pw}@h:1/x",
)


@settings(max_examples=300, deadline=None)
@given(
    secret=st.text(alphabet=string.printable, min_size=1, max_size=24),
    shape=st.sampled_from(SHAPES),
    encoded=st.booleans(),
)
def test_no_password_reaches_an_error_a_repr_or_a_log(secret, shape, encoded):
    """Whatever the password holds (any printable character, written raw or
    percent-encoded) and whatever is wrong with the rest of the URL, neither the password
    nor its encoded form is in an exception's text, a repr or a log record."""
    password = f"Zx{secret}Qj"  # a marker at each end: no message template contains it
    url = shape.format(pw=quote(password, safe="") if encoded else password)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    try:
        try:
            spec = parse_url(url)
            shown = [repr(spec), str(spec), spec.redacted()]
        except ValueError as exc:
            shown = [str(exc), repr(exc)]
        shown.append(redacted(url))
    finally:
        logging.getLogger().removeHandler(handler)
    shown += [r.getMessage() for r in records]
    for text in shown:
        assert password not in text and quote(password, safe="") not in text, text
