"""The dispatch stage: the fused and shaped routes send exactly what the composed route
sends, to the same nodes, for every registered stage variant; they make no per-command
choice on stage names; and they cross fewer Python frames per GET (a deterministic
count). Behaviour under redirects, retries, timeouts and faults is held to the composed
route's by the policy suites, which run every dispatch variant."""

import asyncio
import types

import pytest

from rediscluster_opt import Stages
from rediscluster_opt.lab.instruments.inprocess import BARE, frames_per_get
from rediscluster_opt.stages import REGISTRY
from rediscluster_opt.testing.fake import FakeServerTransport, fake_client

FUSED = [name for name in REGISTRY["dispatch"] if name != "composed"]
# The routes generated as Python (the native dispatch's are Cython: tests/unit/test_native.py
# holds them to the same seam)
GENERATED = [name for name in FUSED if not REGISTRY["dispatch"][name].native]
# Both presets, and each preset with any one stage swapped for each of its variants.
COMBINATIONS = list(
    {
        preset.replace(**{stage: variant})
        for preset in (Stages.baseline(), Stages.optimized())
        for stage, variants in REGISTRY.items()
        if stage != "dispatch"
        for variant in variants
    }
)


class Recording(FakeServerTransport):
    """Keeps every byte written, per connection."""

    def write(self, data):
        self.seen = getattr(self, "seen", b"") + bytes(data)
        super().write(data)


async def traffic(stages, mode):
    """What each node receives for a mix of commands and key types."""
    client = fake_client(stages, mode, reply=b"+OK\r\n")
    loop = asyncio.get_running_loop()
    for mux in client._pool.connections():
        mux.connection_made(Recording(loop, mux, b"+OK\r\n"))
    calls = [
        client.get("user:1"),
        client.get(b"{tag}:a"),
        client.get(42),
        client.set("k\xe9", "v"),
        client.set(b"k2", 3.5),
        client.set("k3", b"v", ex=10, nx=True),
        client.incrby("counter", 7),
        client.hget("h", "field"),
        client.ttl(b"t"),
        client.execute_command("APPEND", "k4", "x"),
        client.execute_command("MGET", "{tag}:x", "{tag}:y"),
    ]
    await asyncio.gather(*calls)
    for _ in range(3):
        await asyncio.sleep(0)
    sent = {mux.address: getattr(mux._transport, "seen", b"") for mux in client._pool.connections()}
    await client.close()
    return sent


@pytest.mark.parametrize("mode", ["cluster", "standalone"])
@pytest.mark.parametrize("stages", COMBINATIONS, ids=lambda s: s.label())
def test_fused_routes_send_what_the_composed_route_sends(stages, mode):
    reference = asyncio.run(traffic(stages.replace(dispatch="composed"), mode))
    assert sum(len(v) for v in reference.values()) > 300
    for fused in FUSED:
        assert asyncio.run(traffic(stages.replace(dispatch=fused), mode)) == reference, fused


def _code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


NAMES = set(REGISTRY) | {variant for variants in REGISTRY.values() for variant in variants}


@pytest.mark.parametrize("mode", ["cluster", "standalone"])
@pytest.mark.parametrize("stages", COMBINATIONS[:6], ids=lambda s: s.label())
def test_a_fused_route_makes_no_choice_on_stage_names(stages, mode):
    """A per-command branch on a stage name would need that name as a constant (or the
    Stages value itself); the generated code holds neither."""

    async def build():
        client = fake_client(stages.replace(dispatch="shaped"), mode)
        routes = [client._keyed, client.get, client.set]
        await client.close()
        return routes

    for route in asyncio.run(build()):
        assert route.__code__.co_filename.startswith("<rediscluster_opt fused route")
        for code in _code_objects(route.__code__):
            strings = {c for c in code.co_consts if isinstance(c, str)}
            assert not strings & NAMES, (route.__name__, strings & NAMES)
            assert "stages" not in code.co_names and "_impl" not in code.co_names


def test_describe_says_what_was_inlined_and_what_is_called():
    async def describe(stages):
        client = fake_client(stages)
        text = client.describe()["dispatch"]
        await client.close()
        return text

    shaped = asyncio.run(describe(Stages.optimized()))
    assert shaped["dispatch"] == "shaped" and shaped["called"] == []
    assert shaped["execute"] == "submit and writer fused" and "GET" in shaped["shaped_commands"]
    mixed_stages = Stages.optimized().replace(slot_hash="table", submit="event", dispatch="fused")
    mixed = asyncio.run(describe(mixed_stages))
    assert mixed["called"] == ["slot_hash"] and "no fused form" in mixed["execute"]
    assert asyncio.run(describe(Stages.baseline())) == {"dispatch": "composed"}


@pytest.mark.pure_only("counts Python frames per GET")
def test_frames_per_get_fused_is_within_two_of_the_bare_design():
    """Deterministic: every arm runs the same fake server on the same kind of loop, so the
    loop's and the benchmark caller's frames cancel in the differences."""
    bare = frames_per_get(BARE)
    composed = frames_per_get(Stages.optimized().replace(dispatch="composed"))
    fused = frames_per_get(Stages.optimized().replace(dispatch="fused"))
    shaped = frames_per_get(Stages.optimized())
    assert shaped - bare <= 2.5, (shaped, bare)
    assert fused - bare <= 3.5, (fused, bare)
    assert composed - shaped >= 7, (composed, shaped)  # the ten-frame route is gone


@pytest.mark.parametrize("mode", ["cluster", "standalone"])
def test_the_generated_route_can_be_read_where_it_runs(mode):
    """A traceback through the fused route shows its source lines, inspect.getsource and
    describe() give the source, and the file name tracebacks print is the one they read."""
    import inspect
    import traceback

    async def fail_inside():
        client = fake_client(Stages.optimized(), mode)
        try:
            await client.get(object())  # not a key: fails on the generated line that converts it
        except TypeError:
            text = traceback.format_exc()
        await client.close()
        return client, text

    client, text = asyncio.run(fail_inside())
    described = client._dispatch
    assert f'File "{described["file"]}"' in text
    assert "key = to_bytes(key)" in text  # the generated line, not just "line 4, in get"
    assert inspect.getsource(client.get) in described["source"]
    assert inspect.getsource(client.get).startswith("async def get(")


@pytest.mark.pure_only("names the Python functions a GET runs (compiled methods lack qualified names)")
def test_every_variant_describes_what_runs_and_a_fused_route_runs_what_it_says():
    """Traits sit on the variants; the profilers' lists come from them. The functions a
    client reports as its hot path are the ones a GET really runs: the generated route
    for a fused client (never the composed `_route`), the composed route otherwise."""
    from rediscluster_opt.bench.profiling import HOT_PATH, resolve_function
    from rediscluster_opt.lab.instruments.inprocess import STAGE_OF
    from rediscluster_opt.stages.traits import hot_functions, traits_of

    for stage, function in hot_functions(REGISTRY):
        assert callable(function), (stage, function)
        assert STAGE_OF[function.__name__] != "event loop", function
    for name in HOT_PATH:
        resolve_function(name)  # every listed name exists
    inlined = [v for variants in REGISTRY.values() for v in variants.values() if traits_of(v).inline]
    # slot hash, slot map, node select and encoder of the optimized preset, and the other
    # slot-map containers (tuple, dict, array, bytes), which are one expression each too
    assert len(inlined) == 8

    async def hot(stages):
        client = fake_client(stages, "cluster")
        await client.get("k")
        functions = client.hot_functions()
        await client.close()
        return {f.__qualname__ for f in functions}

    fused = asyncio.run(hot(Stages.optimized()))
    assert {"_keyed", "get", "PooledFutureSubmit.fused_execute.<locals>.execute"} <= fused
    assert "Client._route" not in fused
    composed = asyncio.run(hot(Stages.baseline()))
    expected = {"ClusterClient._keyed", "Client._route", "EventSubmit.call", "DirectWriter.send"}
    assert expected <= composed


def test_a_generated_route_is_a_method_of_the_client_s_class_made_once_per_stage_choice():
    from rediscluster_opt.client.cluster import ClusterClient
    from rediscluster_opt.client.commands import Commands

    async def build():
        clients = [fake_client(Stages.optimized()), fake_client(Stages.optimized()),
                   fake_client(Stages.optimized().replace(slot_hash="table")), fake_client(Stages.baseline()),
                   fake_client(Stages.optimized(), "standalone")]  # fmt: skip
        for client in clients:
            await client.close()
        return clients

    shaped, twin, other, composed, standalone = asyncio.run(build())
    assert type(shaped) is type(twin) and type(shaped) is not type(other)
    assert "get" in vars(type(shaped)) and shaped.get.__func__ is type(shaped).get
    assert isinstance(shaped, ClusterClient) and type(shaped).__name__ == "ClusterClient"
    assert type(composed) is ClusterClient and type(composed).get is Commands.get
    assert type(standalone) is not type(shaped) and type(standalone).__name__ == "StandaloneClient"


def _self_uses(source):
    """(attribute, call or None) for every `self.<attribute>` the source reads: the call's
    positional argument count and keyword names where it is called."""
    import ast

    tree = ast.parse(source)
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            yield node.attr, calls.get(id(node))


@pytest.mark.parametrize("mode", ["cluster", "standalone"])
@pytest.mark.parametrize("stages", COMBINATIONS, ids=lambda s: s.label())
def test_a_generated_route_reads_its_client_through_the_typed_seam_only(stages, mode):
    """Every `self.` of the generated source is a member of `RouteHost`, and each call
    fits the signature of what the client puts there (`SlowPath.retry`,
    `Client._foreign_loop`): a change to either fails here, not in a GET."""
    import inspect
    import typing

    from rediscluster_opt.client.client import Client
    from rediscluster_opt.client.fused import RouteHost, generate
    from rediscluster_opt.client.slowpath import SlowPath

    members = set(typing.get_type_hints(RouteHost)) | {"_foreign_loop"}
    signatures = {
        "_retry": inspect.signature(SlowPath.retry),
        "_foreign_loop": inspect.signature(Client._foreign_loop),
    }
    shaped = ("get", "set", "incr", "incrby", "decr", "decrby", "ttl", "pttl", "hget")
    general = {name: getattr(Client, name) for name in shaped}
    for dispatch in GENERATED:
        routing = generate(stages.replace(dispatch=dispatch).resolve(), mode == "cluster", general)
        uses = list(_self_uses(routing.source))
        assert {name for name, _ in uses} - {"_retry", "_foreign_loop"} and uses
        for name, call in uses:
            assert name in members, name
            if call is not None:
                fake = [object()] * (1 + len(call.args))  # self, then the call's arguments
                signatures[name].bind(*fake, **{k.arg: object() for k in call.keywords})
