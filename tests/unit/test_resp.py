import hiredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rediscluster_opt.core.resp import (
    NEED_DATA,
    PythonReader,
    ReplyError,
    RespProtocolError,
    encode_command,
    to_bytes,
)
from rediscluster_opt.stages import REGISTRY
from rediscluster_opt.stages.parser import hiredis_parser, python_parser
from tests.resp_values import encode_reply, resp2_values, resp3_values, same

PARSERS = {"python": python_parser, "hiredis": hiredis_parser}


@pytest.fixture(params=list(PARSERS))
def make_parser(request):
    return PARSERS[request.param]


@pytest.mark.parametrize(
    ("arg", "wire"),
    [
        ("GET", b"GET"),
        ("héllo", "héllo".encode()),
        (b"a\x00b", b"a\x00b"),
        (42, b"42"),
        (-7, b"-7"),
        (2**70, str(2**70).encode()),
        (1.5, b"1.5"),
        (bytearray(b"ba"), b"ba"),
        (memoryview(b"mv"), b"mv"),
        (b"", b""),
    ],
    ids=[
        "str",
        "non-ascii",
        "nul-bytes",
        "int",
        "negative",
        "big-int",
        "float",
        "bytearray",
        "memoryview",
        "empty",
    ],
)
def test_to_bytes(arg, wire):
    assert to_bytes(arg) == wire


@pytest.mark.parametrize("bad", [True, None, object(), ["x"]], ids=["bool", "none", "object", "list"])
def test_to_bytes_rejects_ambiguous_types(bad):
    with pytest.raises(TypeError, match="cannot send"):
        to_bytes(bad)


def test_encode_command_matches_hiredis_pack_command():
    args = (b"SET", "clé", b"v\r\nal", 12)
    assert encode_command(args) == b"*4\r\n$3\r\nSET\r\n$4\r\ncl\xc3\xa9\r\n$5\r\nv\r\nal\r\n$2\r\n12\r\n"
    assert encode_command(args) == hiredis.pack_command(args)


@pytest.mark.parametrize(
    ("wire", "value"),
    [
        (b"+OK\r\n", b"OK"),
        (b"-ERR bad thing\r\n", ReplyError("ERR bad thing")),
        (b":-12\r\n", -12),
        (b"$-1\r\n", None),
        (b"*-1\r\n", None),
        (b"$0\r\n\r\n", b""),
        (b"$5\r\na\r\nbc\r\n", b"a\r\nbc"),
        (b"*0\r\n", []),
        (b"*2\r\n:1\r\n*1\r\n-E x\r\n", [1, [ReplyError("E x")]]),
        (b"_\r\n", None),
        (b"#t\r\n", True),
        (b"#f\r\n", False),
        (b",1.5\r\n", 1.5),
        (b",inf\r\n", float("inf")),
        (b"(12345678901234567890\r\n", b"12345678901234567890"),
        (b"%1\r\n+a\r\n:1\r\n", {b"a": 1}),
        (b"~2\r\n:1\r\n:2\r\n", [1, 2]),
        (b"=8\r\ntxt:abcd\r\n", b"abcd"),
        (b">2\r\n+a\r\n+b\r\n", [b"a", b"b"]),
    ],
    ids=[
        "simple",
        "error",
        "int",
        "null-bulk",
        "null-array",
        "empty-bulk",
        "bulk-with-crlf",
        "empty-array",
        "nested",
        "null",
        "true",
        "false",
        "double",
        "inf",
        "big-number",
        "map",
        "set",
        "verbatim",
        "push",
    ],
)
def test_every_type(make_parser, wire, value):
    parser = make_parser()
    parser.feed(wire)
    got = parser.gets()
    assert same(list(got) if isinstance(got, list) else got, value)
    assert parser.gets() is NEED_DATA


def test_incomplete_reply_at_every_split(make_parser):
    wire = b"*3\r\n$3\r\nfoo\r\n:42\r\n*2\r\n+OK\r\n$-1\r\n"
    for cut in range(len(wire)):
        parser = make_parser()
        parser.feed(wire[:cut])
        assert parser.gets() is NEED_DATA, cut
        parser.feed(wire[cut:])
        assert parser.gets() == [b"foo", 42, [b"OK", None]]


def test_byte_by_byte_many_replies(make_parser):
    values = [b"x" * 100, 7, None, [b"a", [b"b"]], ReplyError("MOVED 1 h:2")]
    parser = make_parser()
    got = []
    for byte in b"".join(encode_reply(v) for v in values):
        parser.feed(bytes([byte]))
        while (reply := parser.gets()) is not NEED_DATA:
            got.append(reply)
    assert same(got, values)


@pytest.mark.parametrize("wire", [b"?x\r\n", b"$x\r\n", b":1.5\r\n"], ids=["type", "len", "int"])
def test_corrupt_stream_raises_in_both(make_parser, wire):
    parser = make_parser()
    parser.feed(wire)
    with pytest.raises((RespProtocolError, hiredis.ProtocolError, ValueError)):
        parser.gets()


def test_python_reader_compacts_consumed_input():
    reader = PythonReader()
    for _ in range(2000):
        reader.feed(b"$60\r\n" + b"v" * 60 + b"\r\n+O")  # always a partial reply left over
        assert reader.gets() is not NEED_DATA
        reader.feed(b"K\r\n")
        assert reader.gets() == b"OK"
    assert len(reader._buffer) < 70_000


def _parse_all(factory, chunks):
    parser, out = factory(), []
    for chunk in chunks:
        parser.feed(chunk)
        while (reply := parser.gets()) is not NEED_DATA:
            out.append(reply)
    return out


@settings(max_examples=150, deadline=None)
@given(st.lists(resp2_values, min_size=1, max_size=5), st.data())
def test_parsers_agree_on_resp2_under_any_chunking(values, data):
    wire = b"".join(encode_reply(v) for v in values)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    chunks = [wire[a:b] for a, b in zip([0, *cuts], [*cuts, len(wire)], strict=True)]
    python_out = _parse_all(python_parser, chunks)
    assert same(python_out, values)
    assert same(
        [list(x) if isinstance(x, list) else x for x in _parse_all(hiredis_parser, chunks)], python_out
    )


@settings(max_examples=100, deadline=None)
@given(resp3_values)
def test_parsers_agree_on_resp3(value):
    wire = encode_reply(value, resp3=True)
    python_out = _parse_all(python_parser, [wire])
    hiredis_out = _parse_all(hiredis_parser, [wire])
    assert same(python_out, [value])
    assert same(hiredis_out, python_out)


@pytest.mark.parametrize("name", list(REGISTRY["encoder"]))
@pytest.mark.parametrize(
    "args",
    [(b"GET", b"k"), ("SET", "clé", b"\x00\r\n", 12, 1.5), (b"SET", bytearray(b"k"), memoryview(b"v"))],
    ids=["bytes", "mixed", "buffers"],
)
def test_encoders_agree(name, args):
    assert REGISTRY["encoder"][name](args) == encode_command(args)


@pytest.mark.parametrize("name", list(REGISTRY["encoder"]))
def test_encoders_reject_the_same_arguments(name):
    with pytest.raises(TypeError, match="cannot send bool"):
        REGISTRY["encoder"][name]((b"SET", b"k", True))
