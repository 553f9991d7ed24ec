"""The native stage variants (Cython) beyond what the contract tests hold every variant to:
their C paths with each other, a ring that grows past its first size with its FIFO order
kept, and what choosing them says when they are not built."""

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
