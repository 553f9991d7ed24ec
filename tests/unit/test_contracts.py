"""Every REGISTRY entry against its stage's contract (stages/contracts.py): the constructor
shape of its kind, and the behaviour the hot path relies on. A new variant is checked here
the moment it is registered."""

import asyncio
import enum
import inspect
import warnings

import pytest

from rediscluster_opt.core.redirect import Redirect
from rediscluster_opt.core.resp import NEED_DATA, ReplyError
from rediscluster_opt.lab.instruments.perfcases import five_masters
from rediscluster_opt.stages import REGISTRY, Impl, Stages, contracts

# stage -> number of positional parameters its constructor or function takes
SHAPES = {
    "slot_hash": 1,
    "slot_map": 1,
    "encoder": 1,
    "submit": 3,
    "node_select": 0,
    "writer": 1,
    "parser": 0,
    "delivery": 2,
    "redirect": 1,
    "dispatch": 0,
}
ENTRIES = [(stage, name, impl) for stage, variants in REGISTRY.items() for name, impl in variants.items()]


def test_every_stage_has_a_contract_and_a_field_in_impl():
    assert set(SHAPES) == set(REGISTRY) == set(Impl.__dataclass_fields__)


@pytest.mark.parametrize(("stage", "name", "impl"), ENTRIES, ids=[f"{s}.{n}" for s, n, _ in ENTRIES])
def test_constructor_shape(stage, name, impl):
    parameters = [
        p
        for p in inspect.signature(impl).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty
    ]
    assert len(parameters) == SHAPES[stage], f"{stage}.{name} takes {[p.name for p in parameters]}"


def _variants(stage):
    return list(REGISTRY[stage].items())


@pytest.mark.parametrize(("name", "slot_of"), _variants("slot_hash"))
def test_slot_hash(name, slot_of):
    assert slot_of(b"123456789") == 0x31C3 % 16384  # the spec's CRC16 check value
    assert slot_of(b"{user1000}.following") == slot_of(b"{user1000}.followers")  # hash tags


@pytest.mark.parametrize(("name", "factory"), _variants("slot_map"))
def test_slot_map(name, factory):
    slots = factory(five_masters())
    assert isinstance(slots, contracts.SlotMap)
    assert slots.lookup(0) == "127.0.0.1:7000" and slots.lookup(16383) == "127.0.0.1:7004"
    slots.patch(5, "127.0.0.1:7009")
    assert slots.lookup(5) == "127.0.0.1:7009" and slots.lookup(6) == "127.0.0.1:7000"


class _Colour(enum.StrEnum):
    RED = "red"


class _Raw(bytes):
    pass


@pytest.mark.parametrize(("name", "encode"), _variants("encoder"))
def test_encoder(name, encode):
    assert encode((b"SET", "key", b"v", 10)) == b"*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n$1\r\nv\r\n$2\r\n10\r\n"
    # str and bytes subclasses are their base type's value, whichever encoder
    assert encode((b"GET", _Colour.RED)) == encode((b"GET", _Raw(b"red"))) == encode((b"GET", "red"))
    with pytest.raises(TypeError, match="cannot send bool"):
        encode((b"SET", "k", True))


@pytest.mark.parametrize(("name", "check"), _variants("redirect"))
def test_redirect_check(name, check):
    assert check(ReplyError("MOVED 3999 127.0.0.1:7001")) == Redirect("MOVED", 3999, "127.0.0.1", 7001)
    for reply in (b"MOVED 1 h:2", b"x" * 200, None, 42, ReplyError("ERR no"), [b"a"]):
        assert check(reply) is None


@pytest.mark.parametrize(("name", "factory"), _variants("parser"))
def test_parser(name, factory):
    parser = factory()
    assert isinstance(parser, contracts.Parser)
    parser.feed(b"+OK\r\n$3\r\nab")
    assert parser.gets() == b"OK" and parser.gets() is NEED_DATA
    parser.feed(b"c\r\n-ERR x\r\n")
    assert parser.gets() == b"abc"
    error = parser.gets()
    assert type(error) is ReplyError and error.message == "ERR x"


@pytest.mark.parametrize(("name", "factory"), _variants("node_select"))
def test_node_select(name, factory):
    selector = factory()
    assert isinstance(selector, contracts.NodeSelector)
    a, b = object(), object()
    selector.install("n:1", [a, b])
    assert {selector.pick("n:1") for _ in range(4)} == {a, b} and selector.pick("other:1") is None
    selector.remove("n:1", a)
    assert selector.pick("n:1") is b and selector.all() == [b]


class _Transport:
    def __init__(self):
        self.data = []

    def is_closing(self):
        return False

    def write(self, data):
        self.data.append(bytes(data))

    def writelines(self, chunks):
        self.data.append(b"".join(chunks))


@pytest.mark.parametrize(("name", "factory"), _variants("writer"))
async def test_writer(name, factory):
    writer = factory(asyncio.get_running_loop())
    assert isinstance(writer, contracts.Writer)
    transport = _Transport()
    writer.attach(transport)
    writer.send(b"a")
    writer.send(b"b")
    await asyncio.sleep(0)  # batching writers flush once per loop tick
    assert b"".join(transport.data) == b"ab" and writer.writes == len(transport.data) >= 1


@pytest.mark.parametrize(("name", "factory"), _variants("submit"))
async def test_submit_and_every_delivery(name, factory):
    for delivery_name, delivery_factory in _variants("delivery"):
        sent = []
        submit = factory(asyncio.get_running_loop(), sent.append, 5.0)
        assert isinstance(submit, contracts.Submit)
        delivery = delivery_factory(REGISTRY["parser"]["hiredis"](), submit)
        assert isinstance(delivery, contracts.Delivery)
        first, second = asyncio.ensure_future(submit.call(b"1")), asyncio.ensure_future(submit.call(b"2"))
        await asyncio.sleep(0)
        assert submit.in_flight == 2 and sent == [b"1", b"2"]
        delivery.data_received(b"$1\r\nx\r\n$1\r\ny\r\n")
        assert (await first, await second) == (b"x", b"y"), delivery_name
        assert delivery.reads == 1 and delivery.replies == 2


@pytest.mark.parametrize(("name", "factory"), _variants("submit"))
async def test_call_many_queues_a_pipeline_without_deadlines(name, factory):
    """A pipeline's entries are sent at once, in order, among ordinary calls; they keep
    their FIFO place and outlive the per-command timeout (the pipeline waits by progress),
    while an ordinary call behind them still times out; a lost connection fails them."""
    sent = []
    submit = factory(asyncio.get_running_loop(), sent.append, 0.05)
    before = asyncio.ensure_future(submit.call(b"0"))
    await asyncio.sleep(0)
    many = submit.call_many([b"1", b"2"])
    assert sent == [b"0", b"1", b"2"] and submit.in_flight == 3
    behind = asyncio.ensure_future(submit.call(b"3"))
    await asyncio.sleep(0.15)  # past the 50 ms timeout
    assert isinstance(before.exception(), TimeoutError)
    assert isinstance(behind.exception(), TimeoutError)  # not held up by the entries before it
    assert not any(future.done() for future in many)
    submit.deliver_many([b"a", b"b", b"c", b"d"])  # FIFO places kept: "b" and "c" are the pipeline's
    assert [future.result() for future in many] == [b"b", b"c"]
    lost = submit.call_many([b"4", b"5"])
    submit.fail_all(ConnectionError("lost"), 1, ConnectionAbortedError("never written"))
    assert type(lost[0].exception()) is ConnectionError
    assert type(lost[1].exception()) is ConnectionAbortedError


def test_the_old_reader_name_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match="stage 'reader' is now called 'delivery'"):
        stages = Stages.optimized().replace(reader="per_reply")
    assert stages.delivery == "per_reply"
    with pytest.warns(DeprecationWarning):
        assert Stages.from_dict({"reader": "batch"}).delivery == "batch"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Stages.optimized().replace(delivery="batch")  # the new name warns nothing


@pytest.mark.parametrize(("name", "factory"), _variants("dispatch"))
def test_dispatch(name, factory):
    dispatch = factory()
    assert isinstance(dispatch, contracts.Dispatch)
    loop = asyncio.new_event_loop()
    try:  # a pair with no fused form keeps the submit stage's own call
        submit = REGISTRY["submit"]["event"](loop, lambda payload: None, 1.0)
        assert dispatch.execute(submit, REGISTRY["writer"]["direct"](loop)) == submit.call
    finally:
        loop.close()
