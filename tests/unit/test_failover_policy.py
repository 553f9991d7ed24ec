"""Following a failover without losing acknowledged writes, against scripted fake nodes:
topology reads that move on from a hung node and pass over a failed node's own view, the
stall watch that holds a node before its commands time out, blocking commands that
follow their slot, and connection setup that names the option at fault without echoing a
secret. The real thing (SIGSTOP, kill -9 of redis-server): tests/e2e/test_pipeline_faults.py."""

import asyncio
import time

import pytest

from rediscluster_opt import (
    ClusterClient,
    MaybeAppliedError,
    NotSentError,
    StandaloneClient,
)
from rediscluster_opt.errors import ConfigurationError
from tests.fake_server import FakeRedis
from tests.resp_values import encode_reply
from tests.unit.test_cluster_policy import port_of, serve_all_slots


def shard(port, start, end, health="online", role="master"):
    node = [b"id", b"n%d" % port, b"port", port, b"ip", b"127.0.0.1", b"endpoint", b"127.0.0.1",
            b"role", role.encode(), b"health", health.encode()]  # fmt: skip
    return [b"slots", [start, end] if start is not None else [], b"nodes", [node]]


def view(node, shards, epoch):
    """`node` answers CLUSTER SHARDS with `shards` and CLUSTER INFO with `epoch`."""

    def cluster(args):
        if args[0].upper() == b"INFO":
            return encode_reply(b"cluster_state:ok\r\ncluster_current_epoch:%d\r\n" % epoch)
        return encode_reply(shards)

    node.handlers[b"CLUSTER"] = cluster


class HungNode:
    """Accepts connections and never answers: a SIGSTOPped process, as far as a client sees."""

    async def __aenter__(self):
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self._held = []
        return self

    async def _hold(self, reader, writer):
        self._held.append(writer)
        await asyncio.sleep(3600)

    async def __aexit__(self, *exc):
        for writer in self._held:
            writer.close()
        self._server.close()

    @property
    def address(self):
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"


# -- topology reads -------------------------------------------------------------------
async def test_a_hung_seed_costs_a_topology_timeout_not_a_command_timeout():
    async with HungNode() as hung, FakeRedis() as healthy:
        serve_all_slots(healthy)
        started = time.monotonic()
        client = await ClusterClient.connect(
            [hung.address, healthy.address], command_timeout=5.0, topology_timeout=0.3
        )
        async with client:
            assert time.monotonic() - started < 1.5
            assert client.topology.masters == (healthy.address,)
            # the hung seed is suspect now: asked last, so a refresh does not wait for it
            # (a long topology_timeout makes waiting for it plain even on a loaded machine)
            client.router.topology_timeout = 3.0
            started = time.monotonic()
            await client.refresh_topology()
            assert time.monotonic() - started < 1.0


async def test_a_view_from_a_node_others_report_failed_is_not_adopted():
    """A master woken after its replica's promotion still says it serves every slot (and
    at an old epoch); the others report it failed and its replica the owner."""
    async with FakeRedis() as zombie, FakeRedis() as promoted, FakeRedis() as other:
        z, p, o = (port_of(n) for n in (zombie, promoted, other))
        view(zombie, [shard(z, 0, 16383)], epoch=6)
        live = [shard(p, 0, 16383), shard(z, None, None, health="fail")]
        view(promoted, live, epoch=7)
        view(other, live, epoch=7)
        for seeds in ([zombie.address, promoted.address, other.address], [zombie.address, other.address]):
            async with await ClusterClient.connect(seeds) as client:
                assert client.topology.masters == (promoted.address,), seeds
                assert zombie.address in client.topology.failed


async def test_a_stale_view_loses_to_a_newer_epoch():
    async with FakeRedis() as stale, FakeRedis() as fresh:
        s, f = port_of(stale), port_of(fresh)
        view(stale, [shard(s, 0, 16383)], epoch=3)
        view(fresh, [shard(f, 0, 16383)], epoch=4)
        async with await ClusterClient.connect([stale.address, fresh.address]) as client:
            assert client.topology.masters == (fresh.address,)


# -- the stall watch ------------------------------------------------------------------
async def test_a_node_that_stops_answering_is_held_before_commands_time_out_and_released_after():
    """A 0.8 s stall with a 2 s command timeout: after 0.5 s without a reply the node is
    suspect and held (a GET issued then waits, unsent); once it has answered everything
    in flight it is released and the waiting GET goes out."""
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.data[b"k"] = b"v"
        async with await ClusterClient.connect([node.address], command_timeout=2.0) as client:
            stall = asyncio.ensure_future(client.execute_command("SLEEP", 800))
            await asyncio.sleep(0.7)
            mux = client._pick(node.address)
            assert mux.held and client.counters["held"] == 1 and node.address in client.router.suspects
            waiting = asyncio.ensure_future(client.get("k"))
            await asyncio.sleep(0.05)
            assert not [c for c in node.commands if c[0] == b"GET"]  # held back, not queued on the node
            assert await stall == b"SLEPT"
            assert await asyncio.wait_for(waiting, 1.5) == b"v"
            assert not mux.held and client.counters["stalls"] >= 1


async def test_a_held_node_whose_slots_move_fails_its_commands_over_at_once():
    """Held, then its slots go to another node (the replica's promotion): the commands
    waiting for it go to the new owner, long before their timeout."""
    async with HungNode() as hung, FakeRedis() as replica:
        h, r = port_of(hung), port_of(replica)
        replica.data[b"k"] = b"from the new master"
        layout = {"owner": h}
        view(replica, [], epoch=1)
        replica.handlers[b"CLUSTER"] = lambda args: (
            encode_reply(b"cluster_current_epoch:7\r\n")
            if args[0].upper() == b"INFO"
            else encode_reply([shard(layout["owner"], 0, 16383)])
        )
        client = ClusterClient([replica.address], command_timeout=3.0)
        async with client:
            await client.refresh_topology()  # the replica says the hung node owns every slot
            # a refresh asks the hung node too: 0.2 s to give up on it keeps the failover
            # quick; the first refresh had the default, so a loaded machine could not fail it
            client.router.topology_timeout = 0.2
            first = asyncio.ensure_future(client.get("k"))
            await asyncio.sleep(0.7)
            assert client.counters["held"] == 1
            layout["owner"] = r  # promoted
            started = time.monotonic()
            second = await asyncio.wait_for(client.get("k"), 2.0)
            assert second == b"from the new master" and time.monotonic() - started < 1.0
            assert await asyncio.wait_for(first, 2.0) == b"from the new master"  # a GET lost: sent again


async def test_a_blocking_command_ends_with_a_typed_error_when_its_slot_moves():
    async with FakeRedis() as old, FakeRedis() as new:
        serve_all_slots(old)
        old.handlers[b"BLPOP"] = lambda args: b""  # blocks for ever
        async with await ClusterClient.connect([old.address]) as client:
            waiting = asyncio.ensure_future(client.blpop("q", timeout=0))
            await asyncio.sleep(0.2)
            client.router.moved(client._slot_of(b"q"), new.address)
            with pytest.raises(MaybeAppliedError, match="no longer serves the command's slot"):
                await asyncio.wait_for(waiting, 1.0)


# -- connecting ---------------------------------------------------------------------------
async def test_a_command_that_could_not_connect_is_not_sent_and_says_so_once():
    async with FakeRedis() as gone:
        dead = port_of(gone)  # nothing listens there once it has stopped
    async with FakeRedis() as seed:
        view(seed, [shard(dead, 0, 16383)], epoch=1)
        async with await ClusterClient.connect([seed.address], retry_backoff=0.001) as client:
            with pytest.raises(NotSentError) as caught:
                await client.incr("k")
            text = str(caught.value)
            assert text.count("INCR on") == 1 and text.endswith("the command was not sent"), text
            assert client.counters["reconnects"] == client.retry_attempts + 1


async def test_a_setup_refusal_names_the_option_and_masks_the_password():
    async with FakeRedis() as node:
        serve_all_slots(node)
        node.handlers[b"AUTH"] = lambda args: (
            b"-ERR unknown command 'AUTH', with args beginning with: '" + args[0] + b"' \r\n"
        )
        for connect in (
            lambda: StandaloneClient.connect(node.address, password="hunter2-secret"),
            lambda: ClusterClient.connect([node.address], password="hunter2-secret"),
        ):
            with pytest.raises(ConfigurationError) as caught:
                await connect()
            assert "hunter2" not in str(caught.value) and "***" in str(caught.value)
            assert str(caught.value).startswith("password:")
        node.handlers[b"CONFIG"] = lambda args: b"-ERR unknown subcommand\r\n"
        with pytest.raises(ConfigurationError, match=r"setup_commands\[0\]: .* refused CONFIG"):
            await StandaloneClient.connect(node.address, setup_commands=[("CONFIG", "SET", "x", "1")])


def test_options_the_servers_would_refuse_are_refused_at_construction():
    with pytest.raises(ConfigurationError, match="client_name 'my app' has ' '"):
        StandaloneClient("127.0.0.1:6379", client_name="my app")
    with pytest.raises(ConfigurationError, match=r"setup_commands\[0\]: SELECT is refused in cluster mode"):
        ClusterClient(["127.0.0.1:7000"], setup_commands=[("SELECT", 1)])
