"""A cluster-wide scan by Valkey 9.1's CLUSTERSCAN (client/scan.py), on a scripted server:
the cursor walks the slots, each call after the first is routed by its cursor's hash tag,
and the command is asked about once per client (Redis 7.0 here has no CLUSTERSCAN; the
per-master walk is tests/e2e/test_scans.py's)."""

from __future__ import annotations

from types import SimpleNamespace

from rediscluster_opt.client import scan

SLOTS = {b"06S": [b"a1", b"a2", b"a3"], b"Qi": [], b"x7": [b"c1"]}  # slot tag -> its keys


class ScriptedValkey:
    """CLUSTERSCAN as Valkey answers it: "0" starts at the first slot with no keys, a
    slot's cursor gives up to two keys, a slot done moves to the next one's cursor, the
    last slot done gives "0"."""

    def __init__(self, known: bool = True) -> None:
        self.known = known
        self.calls: list[tuple[bytes, ...]] = []
        self.routed: list[bytes | None] = []

    async def execute_command(self, *args, key=None, target=None):
        self.calls.append(args)
        if args[:2] == (b"COMMAND", b"INFO"):
            return [[b"clusterscan", -2] if self.known else None]
        assert args[0] == b"CLUSTERSCAN"
        self.routed.append(key)
        tags = list(SLOTS)
        cursor = args[1]
        if cursor == b"0":
            return [b"0-{%s}-0" % tags[0], []]
        _, rest = cursor.split(b"-{", 1)
        tag, local = rest.split(b"}-")
        keys, at = SLOTS[tag], int(local)
        if at + 2 < len(keys):
            return [b"f1-{%s}-%d" % (tag, at + 2), keys[at : at + 2]]
        following = tags.index(tag) + 1
        after = b"0" if following == len(tags) else b"0-{%s}-0" % tags[following]
        return [after, keys[at:]]


async def test_every_slot_s_keys_come_and_each_call_follows_its_cursor():
    server = ScriptedValkey()
    router = SimpleNamespace(clusterscan=None)
    keys = [key async for key in scan.scan_cluster(server, router, b"*", 100, None)]
    assert keys == [b"a1", b"a2", b"a3", b"c1"]
    # each call is routed by its cursor, as by a key (its hash tag: the slot it scans)
    cursors = [call[1] for call in server.calls if call[0] == b"CLUSTERSCAN"]
    assert server.routed == cursors and cursors[1] == b"0-{06S}-0"
    assert all(call[2:] == (b"MATCH", b"*", b"COUNT", 100) for call in server.calls[1:])
    assert router.clusterscan is True


async def test_the_command_is_asked_about_once_per_client():
    server = ScriptedValkey(known=False)
    router = SimpleNamespace(clusterscan=None)
    assert await scan.has_clusterscan(server, router) is False
    assert await scan.has_clusterscan(server, router) is False
    assert [call[:2] for call in server.calls] == [(b"COMMAND", b"INFO")]


def test_a_cursor_s_hash_tag_routes_it_to_the_slot_it_scans():
    # Valkey's own example: {06S} is slot 0's tag, {Qi} slot 1's
    from rediscluster_opt.core.slots import crc16_table, hash_tag

    assert [crc16_table(hash_tag(c)) % 16384 for c in (b"0-{06S}-0", b"0B3a21-{Qi}-96")] == [0, 1]
