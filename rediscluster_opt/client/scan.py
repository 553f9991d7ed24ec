"""Scans that stay correct while slots move: every master's keys, one key's members.

SCAN's promise, on one server, is that a key present for the whole scan is returned at
least once (maybe more than once). In a cluster each master is scanned with its own
cursor, and a migration or a failover during the scan can carry a key from a node not yet
scanned to one already done. So the scan notes the layout when it starts and when it ends,
and each slot that changed owner in between, or that a master reports migrating or
importing at either moment, has its keys read again from every master with CLUSTER
GETKEYSINSLOT, filtered by the same MATCH (core/glob.py) and TYPE. A master that fails
mid-scan is treated the same way: once the layout shows it replaced, its slots are read
again from their new owners. What is not caught: a slot that moves away and back again
entirely within one scan (its owner is the same at both ends and no migration is open at
either). Duplicates are possible, as with SCAN itself.

Where the servers have it (Valkey >= 9.1), CLUSTERSCAN does this on the server's side: it
walks the slots one by one, its cursor names the slot it is in by a hash tag, so each call
is routed by its cursor like a key, and a MOVED is followed with the same cursor. Every key
present throughout is returned at least once there too; `scan_cluster` uses it when the
first master asked knows the command (COMMAND INFO), and the per-master walk otherwise.

For HSCAN, SSCAN and ZSCAN the cursor belongs to the node's copy of the key: when the
key's slot changes owner during the iteration (MOVED, a failover), the iteration starts
again at cursor 0 on the new owner, so every member present throughout is returned.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ..core.glob import glob_matches
from ..core.resp import to_bytes
from ..core.topology import migrating_slots
from ..errors import RedisConnectionError, RedisTimeoutError

if TYPE_CHECKING:
    from .client import Client
    from .router import ClusterRouter

__all__ = ["has_clusterscan", "scan_cluster", "scan_clusterscan", "scan_key", "scan_node"]


def _options(match: Any, count: int | None, kind: Any) -> tuple[Any, ...]:
    return (
        *((b"MATCH", match) if match is not None else ()),
        *((b"COUNT", count) if count is not None else ()),
        *((b"TYPE", kind) if kind is not None else ()),
    )


async def scan_node(
    client: Client, address: str | None, match: Any, count: int | None, kind: Any
) -> AsyncIterator[bytes]:
    """One server's keys, SCAN cursor by cursor (`address`: None for a standalone client's)."""
    cursor: Any = b"0"
    options = _options(match, count, kind)
    while True:
        cursor, keys = await client.execute_command(b"SCAN", cursor, *options, target=address)
        for key in keys:
            yield key
        if cursor in (b"0", 0):
            return


async def scan_cluster(
    client: Client, router: ClusterRouter, match: Any, count: int | None, kind: Any
) -> AsyncIterator[bytes]:
    """Every master's keys, each slot that moved during the scan read again at the end.
    The layout at the start is the client's own (a stale one differs from the one read
    at the end, so the slots it had wrong are read again). With CLUSTERSCAN, that instead."""
    if await has_clusterscan(client, router):
        async for key in scan_clusterscan(client, match, count, kind):
            yield key
        return
    start = router.topology.slot_table()
    redo = await _migrating(client, router.topology.masters)
    for master in router.topology.masters:
        try:
            async for key in scan_node(client, master, match, count, kind):
                yield key
        except (RedisConnectionError, RedisTimeoutError):
            if not await _replaced(router, master, client.command_timeout):
                raise  # nothing else serves its keys
            redo.update(slot for slot, owner in enumerate(start) if owner == master)
    await router.relearn()
    end = router.topology.slot_table()
    redo.update(slot for slot, (before, now) in enumerate(zip(start, end, strict=True)) if before != now)
    redo.update(await _migrating(client, router.topology.masters))
    for slot in sorted(redo):
        for key in await _slot_keys(client, router.topology.masters, slot):
            if await _wanted(client, key, match, kind):
                yield key


async def has_clusterscan(client: Client, router: ClusterRouter) -> bool:
    """Whether the cluster's servers have CLUSTERSCAN (asked once per client, of one master:
    a cluster runs one server version, and a mixed one during an upgrade would answer MOVED
    or an unknown-command error, which the scan raises)."""
    known = router.clusterscan
    if known is None:
        (info,) = await client.execute_command(b"COMMAND", b"INFO", b"CLUSTERSCAN")
        known = router.clusterscan = info is not None
    return known


async def scan_clusterscan(client: Client, match: Any, count: int | None, kind: Any) -> AsyncIterator[bytes]:
    """Every key of the cluster by CLUSTERSCAN, each call sent to the owner of the slot its
    cursor's hash tag names (a MOVED, when the slot moved meanwhile, is followed with the
    same cursor by the slow path)."""
    cursor: bytes = b"0"
    options = _options(match, count, kind)
    while True:
        # routed by the cursor as by a key: its hash tag names the slot it scans ("0", the
        # start, names none, and any master answers it with slot 0's cursor)
        found, keys = await client.execute_command(b"CLUSTERSCAN", cursor, *options, key=cursor)
        cursor = to_bytes(found)
        for key in keys:
            yield key
        if cursor == b"0":
            return


async def _replaced(router: ClusterRouter, master: str, wait: float) -> bool:
    """Does the layout show `master` replaced (its replica promoted) within `wait` seconds,
    as long as a command to it would have waited?"""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        await router.relearn()
        if not router.is_master(master):
            return True
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(router.refreshes.min_interval)


async def _migrating(client: Client, masters: tuple[str, ...]) -> set[int]:
    slots: set[int] = set()
    for master in masters:
        slots |= migrating_slots(await client.execute_command(b"CLUSTER", b"NODES", target=master))
    return slots


async def _slot_keys(client: Client, masters: tuple[str, ...], slot: int) -> list[bytes]:
    """The slot's keys on every master (during a migration both hold some)."""
    keys: list[bytes] = []
    for master in masters:
        held = await client.execute_command(b"CLUSTER", b"COUNTKEYSINSLOT", slot, target=master)
        if held:
            keys += await client.execute_command(b"CLUSTER", b"GETKEYSINSLOT", slot, held, target=master)
    return keys


async def _wanted(client: Client, key: bytes, match: Any, kind: Any) -> bool:
    """SCAN's MATCH and TYPE filters, for a key read with GETKEYSINSLOT."""
    if match is not None and not glob_matches(to_bytes(match), key):
        return False
    if kind is None:
        return True
    found = await client.execute_command(b"TYPE", key)
    return bool(to_bytes(found).lower() == to_bytes(kind).lower())


async def scan_key(
    client: Client, command: bytes, key: Any, match: Any, count: int | None, extra: tuple[Any, ...] = ()
) -> AsyncIterator[list[Any]]:
    """One key's members, a reply's worth at a time (HSCAN, SSCAN, ZSCAN; `extra`: more
    options, HSCAN's NOVALUES), starting again at cursor 0 when the key's slot changes
    owner meanwhile."""
    router = client.router
    slot = router.slot_for(key)
    owner = router.target(slot, False)
    cursor: Any = b"0"
    options = (*_options(match, count, None), *extra)
    while True:
        cursor, items = await client.execute_command(command, key, cursor, *options, key=key)
        yield items
        now = router.target(slot, False)
        if now != owner:  # the cursor was another node's: this node's copy from the start
            owner, cursor = now, b"0"
            continue
        if cursor in (b"0", 0):
            return
