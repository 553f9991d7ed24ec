"""Test helpers: encode Python values as RESP replies (the server side of the protocol),
and hypothesis strategies for reply values both parsers must agree on."""

from __future__ import annotations

from hypothesis import strategies as st

from rediscluster_opt.core.resp import ReplyError


def encode_reply(value: object, *, resp3: bool = False) -> bytes:
    if value is None:
        return b"_\r\n" if resp3 else b"$-1\r\n"
    if isinstance(value, ReplyError):
        return b"-" + str(value).encode() + b"\r\n"
    if value is True or value is False:
        return b"#t\r\n" if value else b"#f\r\n"
    if isinstance(value, int):
        return b":%d\r\n" % value
    if isinstance(value, float):
        return b"," + repr(value).encode() + b"\r\n"
    if isinstance(value, bytes):
        return b"$%d\r\n%s\r\n" % (len(value), value)
    if isinstance(value, dict):
        parts = [b"%%%d\r\n" % len(value)]
        for k, v in value.items():
            parts += (encode_reply(k, resp3=resp3), encode_reply(v, resp3=resp3))
        return b"".join(parts)
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(encode_reply(v, resp3=resp3) for v in value)
    raise TypeError(value)


class Simple(bytes):
    """Marks bytes to be sent as a simple string (+...)."""


def encode_simple(value: bytes) -> bytes:
    return b"+" + value + b"\r\n"


_scalars = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.binary(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30).map(
        lambda s: ReplyError("ERR " + s)
    ),
)

resp2_values = st.recursive(_scalars, lambda children: st.lists(children, max_size=6), max_leaves=25)

resp3_values = st.recursive(
    st.one_of(
        _scalars,
        st.booleans(),
        st.floats(allow_nan=False),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.binary(max_size=8), children, max_size=4),
    ),
    max_leaves=20,
)


def same(a: object, b: object) -> bool:
    """Equality that treats error replies as equal when their messages are."""
    if isinstance(a, ReplyError) or isinstance(b, ReplyError):
        return type(a) is type(b) and a.args == b.args
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b
