"""The native stage variants (Cython) beyond what the contract tests hold every variant to:
their C paths with each other, a ring that grows past its first size with its FIFO order
kept, the native routes' seam and slow-path entries, and what choosing them says when they
are not built."""

import asyncio
import random

import pytest

from rediscluster_opt import Stages, native
from rediscluster_opt.stages import NATIVE, REGISTRY, slot_hash

built = native.load()
needs_build = pytest.mark.skipif(built is None, reason="the native variants are not built (rcopt build)")


class _Transport:
    def __init__(self):
        self.data = []

    def write(self, data):
        self.data.append(bytes(data))

    def is_closing(self):
        return False


@needs_build
def test_the_native_slot_is_the_pure_one_for_any_key_and_hash_tag():
    rng = random.Random(7)
    keys = [b"", b"{", b"}", b"{}", b"{}x", b"a{b}c", b"{user1000}.following", b"x{}{y}", b"{{a}}"]
    keys += [bytes(rng.choice(b"ab{}x") for _ in range(rng.randrange(12))) for _ in range(3000)]
    for key in keys:
        assert built.slot_native(key) == slot_hash.slot_crc_hqx(key), key


@needs_build
async def test_a_native_submit_queues_through_a_native_writer_in_c_and_keeps_fifo_past_its_ring():
    loop = asyncio.get_running_loop()
    writer = built.NativeWriter(loop)
    transport = _Transport()
    writer.attach(transport)
    submit = built.NativeSubmit(loop, writer.send, 5.0)
    delivery = built.NativeDelivery(REGISTRY["parser"]["hiredis"](), submit)
    futures = [submit.call(b"%d" % i) for i in range(500)]  # the ring starts at 64 entries
    assert submit.in_flight == 500 and transport.data == []  # queued, written on the next tick
    await asyncio.sleep(0)
    assert transport.data == [b"".join(b"%d" % i for i in range(500))] and writer.writes == 1
    half = b"".join(b"$%d\r\n%d\r\n" % (len(b"%d" % i), i) for i in range(250))
    delivery.data_received(half)
    futures[250].cancel()  # a caller that gave up keeps its place: its reply is read and dropped
    delivery.data_received(b"".join(b"$%d\r\n%d\r\n" % (len(b"%d" % i), i) for i in range(250, 500)))
    assert [f.result() for f in futures[:250] + futures[251:]] == [b"%d" % i for i in range(500) if i != 250]
    assert submit.in_flight == 0 and delivery.replies == 500


@needs_build
async def test_a_reply_with_no_command_waiting_is_an_error_not_a_crash():
    loop = asyncio.get_running_loop()
    submit = built.NativeSubmit(loop, [].append, 5.0)
    delivery = built.NativeDelivery(REGISTRY["parser"]["hiredis"](), submit)
    with pytest.raises(IndexError):
        delivery.data_received(b"+OK\r\n")


def test_choosing_a_native_variant_that_is_not_built_says_how_to_build_it(monkeypatch):
    for stage in NATIVE:
        monkeypatch.delitem(REGISTRY[stage], "native", raising=False)
    with pytest.raises(ValueError, match=r"submit=native: the native hot path is not built.*rcopt build"):
        Stages.optimized().replace(submit="native")
    with pytest.raises(ValueError, match="rcopt build"):
        Stages.native()


@needs_build
def test_the_native_preset_is_named_in_labels_and_bench_arms():
    from rediscluster_opt.bench.adapters import ClientConfig

    assert Stages.native().label() == "native"
    assert Stages.native().replace(writer="join").label() == "native+writer=join"
    arm = ClientConfig.parse("native@compiled")
    assert arm.client == "ours" and arm.build == "compiled" and arm.stage_set() == Stages.native()


def test_an_extension_pip_installed_is_loaded_only_when_its_key_names_this_source(tmp_path, monkeypatch):
    import sysconfig

    source = tmp_path / "hotpath.pyx"
    source.write_bytes(native.SOURCE.read_bytes())
    monkeypatch.setattr(native, "SOURCE", source)
    extension = tmp_path / f"hotpath{sysconfig.get_config_var('EXT_SUFFIX')}"
    extension.write_bytes(b"\0")  # only looked at, never loaded, here
    assert native.installed() is None  # no key: of unknown source
    (tmp_path / "hotpath.key").write_text(native.source_key() + "\n")
    assert native.installed() == extension
    source.write_bytes(source.read_bytes() + b"\n# changed\n")  # the source moved on since the install
    assert native.installed() is None


class _Raise:
    def __init__(self, error):
        self.error = error


class _Mux:
    """A connection that answers each command with the next of `replies` (a `_Raise`'s
    error is raised by the await; an error reply is a reply, as the submit stages give it)."""

    congested = False

    def __init__(self, *replies):
        self.replies = list(replies)
        self.sent = []

    def execute(self, payload):
        self.sent.append(payload)
        future = asyncio.get_running_loop().create_future()
        reply = self.replies.pop(0)
        if isinstance(reply, _Raise):
            future.set_exception(reply.error)
        else:
            future.set_result(reply)
        return future


def _host(mux, cluster):
    """A client holding only `RouteHost`'s members (slots: reading anything else fails),
    its slow path recording how it was entered."""
    import typing

    from rediscluster_opt.client.fused import RouteHost
    from rediscluster_opt.core.topology import SlotRange, Topology
    from rediscluster_opt.stages.node_select import LockFreeSelector
    from rediscluster_opt.stages.slot_map import FlatSlotMap

    class Host:
        __slots__ = (*(set(typing.get_type_hints(RouteHost)) - {"_retry"}), "retries")

        async def _retry(self, slot, request, address, outcome):
            self.retries.append((slot, request.args, address, outcome))
            return b"from the slow path"

        def _foreign_loop(self, exc, /):
            return RuntimeError(f"foreign: {exc}")

    host = Host()
    host.retries = []
    host._slot_map = FlatSlotMap(Topology((SlotRange(0, 16383, "n:1", ()),))) if cluster else None
    host._address = None if cluster else "n:1"
    host._selector = LockFreeSelector()
    if mux is not None:
        host._selector.install("n:1", [mux])
    host._max_bulk = 512 * 1024 * 1024
    return host


def _native_routes(cluster):
    from rediscluster_opt.client.client import Client
    from rediscluster_opt.client.fused import generate
    from rediscluster_opt.stages.dispatch import SHAPES

    general = {name: getattr(Client, name) for name in SHAPES}
    return generate(Stages.native().resolve(), cluster, general).functions


@needs_build
@pytest.mark.parametrize("cluster", [True, False], ids=["cluster", "standalone"])
async def test_native_routes_read_only_the_typed_seam_and_enter_the_slow_path_as_generated(cluster):
    """The Cython routes read nothing of their client but `RouteHost` (the host has no
    other member) and enter the slow path with the generated route's arguments: not sent
    (no connection), lost (a connection error), replied (an error reply); a foreign loop's
    RuntimeError is the client's to word."""
    from rediscluster_opt.client.outcome import NOT_SENT, Lost, Replied
    from rediscluster_opt.core.resp import ReplyError
    from rediscluster_opt.errors import RedisConnectionError

    routes = _native_routes(cluster)
    slot = slot_hash.slot_crc_hqx(b"k") if cluster else None
    mux = _Mux(b"v", b"OK", 7)
    host = _host(mux, cluster)
    assert await routes["get"](host, "k") == b"v"
    assert await routes["set"](host, b"k", 3.5) is True  # SET's reply through its result function
    assert await routes["_keyed"](host, "k", (b"APPEND", b"k", b"x")) == 7
    assert mux.sent == [b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\n3.5\r\n",
                        b"*3\r\n$6\r\nAPPEND\r\n$1\r\nk\r\n$1\r\nx\r\n"]  # fmt: skip
    assert host.retries == []

    lost, moved = RedisConnectionError("gone"), ReplyError("MOVED 1 n:2")
    host = _host(_Mux(_Raise(lost), moved, _Raise(RuntimeError("other loop"))), cluster)
    assert await routes["get"](host, b"k") == b"from the slow path"
    assert await routes["incrby"](host, "k", 2) == b"from the slow path"
    with pytest.raises(RuntimeError, match="foreign: other loop"):
        await routes["get"](host, b"k")
    assert host.retries == [(slot, (b"GET", b"k"), "n:1", Lost(lost)),
                            (slot, (b"INCRBY", b"k", b"2"), "n:1", Replied(moved))]  # fmt: skip
    nowhere = _host(None, cluster)
    assert await routes["get"](nowhere, b"k") == b"from the slow path"
    assert nowhere.retries == [(slot, (b"GET", b"k"), "n:1", NOT_SENT)]


@needs_build
async def test_a_native_command_method_serves_await_tasks_and_gather_and_passes_options_on():
    from rediscluster_opt.testing.fake import fake_client

    client = fake_client(Stages.native(), reply=b"+OK\r\n")
    assert client.describe()["dispatch"]["dispatch"] == "native"
    assert await client.get("a") == b"OK"
    assert await asyncio.create_task(client.get("a")) == b"OK"
    assert await asyncio.gather(client.set("a", 1), client.set("b", 2, ex=5)) == [True, True]
    with pytest.raises(TypeError):
        await client.set("a", 1, no_such_option=True)  # the general method's own refusal
    await client.close()
