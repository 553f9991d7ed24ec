import pytest

from rediscluster_opt.core.secrets import mask_secrets
from rediscluster_opt.core.topology import (
    SlotRange,
    Topology,
    TopologyError,
    View,
    choose_view,
    parse_cluster_epoch,
    parse_cluster_shards,
    parse_cluster_slots,
)


def shard(slots, *nodes):
    return [b"slots", list(slots), b"nodes", list(nodes)]


def node(port, role=b"master", ip=b"127.0.0.1", endpoint=None, health=b"online"):
    return [
        b"id",
        b"abc%d" % port,
        b"port",
        port,
        b"ip",
        ip,
        b"endpoint",
        endpoint or ip,
        b"role",
        role,
        b"replication-offset",
        0,
        b"health",
        health,
    ]


def test_parse_cluster_shards_like_redis_7():
    reply = [
        shard([0, 5460], node(7000), node(7003, role=b"replica")),
        shard([5461, 10922, 16000, 16383], node(7001)),
        shard([10923, 15999], node(7002), node(7005, role=b"replica", health=b"loading")),
        shard([], node(7009)),  # a master without slots is not routable
    ]
    topology = parse_cluster_shards(reply)
    assert topology.masters == ("127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002")
    assert topology.is_complete
    assert SlotRange(0, 5460, "127.0.0.1:7000", ("127.0.0.1:7003",)) in topology.ranges
    assert SlotRange(10923, 15999, "127.0.0.1:7002", ()) in topology.ranges
    table = topology.slot_table()
    assert table[16100] == table[6000] == "127.0.0.1:7001" and table[0] == "127.0.0.1:7000"


def test_resp3_maps_give_the_same_layout_as_resp2_lists():
    def as_map(flat):  # what a connection after HELLO 3 reads: maps, nodes' too
        pairs = dict(zip(flat[::2], flat[1::2], strict=True))
        if b"nodes" in pairs:
            pairs[b"nodes"] = [as_map(n) for n in pairs[b"nodes"]]
        return pairs

    reply = [
        shard([0, 8191], node(7000), node(7003, role=b"replica")),
        shard([8192, 16383], node(7001), node(7004, role=b"replica", health=b"fail")),
    ]
    resp2 = parse_cluster_shards(reply)
    assert parse_cluster_shards([as_map(s) for s in reply]) == resp2
    assert resp2.failed == frozenset({"127.0.0.1:7004"}) and resp2.is_complete


def test_unknown_endpoint_falls_back_to_the_asked_host():
    reply = [shard([0, 16383], node(7000, ip=b"", endpoint=b"?"))]
    assert parse_cluster_shards(reply, fallback_host="10.0.0.9").masters == ("10.0.0.9:7000",)


def test_parse_cluster_slots():
    reply = [
        [0, 8191, [b"127.0.0.1", 7000, b"id0"], [b"127.0.0.1", 7003, b"id3"]],
        [8192, 16383, [b"", 7001, b"id1"]],
    ]
    topology = parse_cluster_slots(reply, fallback_host="h")
    assert topology.masters == ("127.0.0.1:7000", "h:7001")
    assert topology.ranges[0].replicas == ("127.0.0.1:7003",)
    assert topology.is_complete


def test_partial_coverage_is_reported():
    topology = parse_cluster_slots([[0, 99, [b"h", 1]]])
    assert topology.covered_slots == 100 and not topology.is_complete
    assert topology.slot_table()[100] is None


@pytest.mark.parametrize(
    "ranges",
    [
        (SlotRange(0, 10, "a:1"), SlotRange(10, 20, "b:1")),
        (SlotRange(5, 4, "a:1"),),
        (SlotRange(0, 16384, "a:1"),),
    ],
    ids=["overlap", "reversed", "out-of-range"],
)
def test_invalid_layouts_raise(ranges):
    with pytest.raises(TopologyError):
        Topology(ranges)


@pytest.mark.parametrize(
    "reply",
    [b"nope", [[b"slots"]], [shard([0, 1], node(1), node(2))], [shard([0], node(1))]],
    ids=["not-a-list", "odd-pairs", "two-masters", "odd-bounds"],
)
def test_malformed_shards_raise(reply):
    with pytest.raises(TopologyError):
        parse_cluster_shards(reply)


def test_a_tls_client_dials_the_tls_port():
    both = node(7000) + [b"tls-port", 8000]  # a node listening for plain and TLS clients
    tls_only = [b"tls-port", 8001, *node(7001)[4:]]  # `port 0`: only "tls-port" is reported
    reply = [shard([0, 8191], both), shard([8192, 16383], tls_only)]
    assert parse_cluster_shards(reply).masters == ("127.0.0.1:7000", "127.0.0.1:8001")
    assert parse_cluster_shards(reply, tls=True).masters == ("127.0.0.1:8000", "127.0.0.1:8001")


def test_a_moved_slot_splits_its_range_and_keeps_every_view_in_one_value():
    from rediscluster_opt.core.topology import SlotRange, Topology

    a, b = "10.0.0.1:7000", "10.0.0.2:7000"
    layout = Topology(
        (SlotRange(0, 8191, a, ("10.0.0.3:7000",)), SlotRange(8192, 16383, b, ("10.0.0.4:7000",)))
    )
    moved = layout.moved(100, b)
    assert moved is not layout and layout.slot_table()[100] == a  # the old value is untouched
    table = moved.slot_table()
    assert (table[99], table[100], table[101], table[0], table[8191]) == (a, b, a, a, a)
    assert moved.covered_slots == 16384 and set(moved.masters) == {a, b}
    assert moved.replicas == {a: ("10.0.0.3:7000",), b: ("10.0.0.4:7000",)}  # b's replicas serve slot 100 too
    assert moved.moved(100, b) is moved  # already so
    edge = layout.moved(0, b).moved(8191, b)
    assert edge.slot_table()[0] == edge.slot_table()[8191] == b and edge.covered_slots == 16384
    newcomer = layout.moved(5, "10.0.0.9:7000")
    assert newcomer.replicas["10.0.0.9:7000"] == () and newcomer.slot_table()[5] == "10.0.0.9:7000"
    whole = Topology((SlotRange(7, 7, a),)).moved(7, b)
    assert whole.masters == (b,)  # a master whose last slot moved is no master any more


def _shard(port, slots, health="online", role="master"):
    node = [b"id", b"n%d" % port, b"port", port, b"ip", b"127.0.0.1", b"endpoint", b"127.0.0.1",
            b"role", role.encode(), b"health", health.encode()]  # fmt: skip
    return [b"slots", slots, b"nodes", [node]]


def test_a_failed_node_is_reported_and_a_shard_keeps_its_live_master():
    """After a promotion the old master is reported failed (in a shard of its own with no
    slots, or beside its replica as a second master): the live one serves."""
    reply = [
        _shard(7001, [0, 5460]),
        _shard(7000, [], health="fail"),
        [b"slots", [5461, 16383], b"nodes", [_shard(7002, [])[3][0], _shard(7003, [], health="fail")[3][0]]],
    ]
    topology = parse_cluster_shards(reply)
    assert topology.failed == frozenset({"127.0.0.1:7000", "127.0.0.1:7003"})
    assert topology.masters == ("127.0.0.1:7001", "127.0.0.1:7002")
    assert topology.moved(0, "127.0.0.1:7002").failed == topology.failed  # kept through a MOVED


def test_the_view_chosen_is_the_cluster_s_not_a_failed_node_s():
    own = Topology((SlotRange(0, 16383, "z:1"),))  # the woken master's own story
    theirs = Topology((SlotRange(0, 16383, "p:1"),), frozenset({"z:1"}))
    zombie, promoted, other = View("z:1", own, 6), View("p:1", theirs, 7), View("o:1", theirs, 7)
    assert choose_view([zombie, promoted, other]) is promoted
    assert choose_view([zombie, other]) is other  # one other view is enough to pass it over
    assert choose_view([zombie]) is zombie  # nothing says otherwise
    newer = View("n:1", own, 8)
    assert choose_view([View("o:1", own, 7), newer]) is newer  # the most recent epoch wins
    assert choose_view([View("o:1", Topology(()), 9)]) is None  # no slots: not a view to adopt


def test_the_epoch_is_read_from_cluster_info_or_taken_as_zero():
    assert (
        parse_cluster_epoch(b"cluster_state:ok\r\ncluster_current_epoch:12\r\ncluster_my_epoch:3\r\n") == 12
    )
    assert parse_cluster_epoch("cluster_current_epoch:4") == 4
    for odd in (None, [b"x"], b"cluster_current_epoch:", b"nothing here"):
        assert parse_cluster_epoch(odd) == 0


def test_secrets_are_masked_longest_first():
    assert mask_secrets("args beginning with: 'userpass' 'user'", ["user", "userpass", None, ""]) == (
        "args beginning with: '***' '***'"
    )
