"""Move a slot between masters while clients keep working: the US-007 experiment and the
e2e migration test share this."""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from ..bench.adapters import Target
from ..client import ClusterClient
from ..core.address import split_address
from ..defaults import KEY_PREFIX
from ..stages import Stages

__all__ = ["migrate_under_load", "move_slot"]


def move_slot(
    slot: int, source: str, target: str, masters: list[str], pause: float = 0.0, *, via: Target | None = None
) -> int:
    """Migrate one slot the way `redis-cli --cluster reshard` does (IMPORTING/MIGRATING,
    MIGRATE in batches, SETSLOT NODE on every master); returns the keys moved. `pause`
    between batches leaves the slot half-migrated long enough for clients to see ASK.
    `via`: the cluster's credentials and TLS (MIGRATE passes the credentials on)."""
    via = via or Target()
    ask = via.command
    source_id, target_id = ask(source, "CLUSTER", "MYID"), ask(target, "CLUSTER", "MYID")
    target_host, target_port = split_address(target)
    password = via.password
    auth = (
        () if password is None else ("AUTH2", via.username, password) if via.username else ("AUTH", password)
    )
    ask(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
    ask(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
    moved = 0
    while keys := cast("list[bytes]", ask(source, "CLUSTER", "GETKEYSINSLOT", slot, 10)):
        reply = ask(source, "MIGRATE", target_host, target_port, "", 0, 5000, *auth, "KEYS", *keys)
        if reply != b"OK":
            raise RuntimeError(f"MIGRATE of slot {slot} from {source} to {target} failed: {reply}")
        moved += len(keys)
        time.sleep(pause)
    for address in masters:
        ask(address, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
    return moved


async def migrate_under_load(
    cluster: Target,
    stages: Stages,
    *,
    workers: int = 16,
    keys: int = 120,
    pause: float = 0.02,
    after: float = 0.3,
    tag: str = "migrate",
) -> dict[str, Any]:
    """Concurrent GET/SET callers on one slot while it moves to another master and back.
    Every reply is checked. Returns the figures: operations, wrong answers, errors,
    ASK/MOVED seen, and the time from the end of the move until the client routes the
    slot to its new owner."""
    client = await ClusterClient.connect(cluster.seeds, stages=stages, **cluster.client_options())
    async with client:
        hashtag = f"{{{tag}}}"
        names = [f"{KEY_PREFIX}{hashtag}:{i}" for i in range(keys)]
        await client.mset({k: f"value-{k}" for k in names})
        slot = client._slot_of(hashtag.encode())
        masters = list(client.topology.masters)
        owner = client.topology.slot_table()[slot]
        if owner is None:
            raise RuntimeError(f"slot {slot} has no master: the cluster does not cover every slot")
        source = owner
        target = next(m for m in masters if m != source)
        running = True
        tally = {"ops": 0, "wrong": 0, "errors": 0}
        written: list[str] = []

        async def caller(n: int) -> None:
            i = 0
            while running:
                key = names[(n * 7 + i) % len(names)]
                fresh = f"{KEY_PREFIX}{hashtag}:w{n}:{i}"
                written.append(fresh)
                try:
                    ok = await client.get(key) == f"value-{key}".encode()
                    ok = (
                        ok
                        and await client.set(fresh, fresh) is True
                        and await client.get(fresh) == fresh.encode()
                    )
                    tally["ops"] += 3
                    tally["wrong"] += not ok
                except Exception:  # counted: the experiment's claim is that this stays 0
                    tally["errors"] += 1
                i += 1

        origin = time.monotonic()
        timeline: list[dict[str, float]] = []

        async def sample() -> None:  # cumulative counts every 50 ms, for the timeline figure
            while running:
                timeline.append(
                    {
                        "t_s": time.monotonic() - origin,
                        "ops": tally["ops"],
                        "errors": tally["errors"],
                        "ask": client.counters["ask"],
                        "moved": client.counters["moved"],
                    }
                )
                await asyncio.sleep(0.05)

        tasks = [asyncio.ensure_future(caller(n)) for n in range(workers)]
        sampler = asyncio.ensure_future(sample())
        await asyncio.sleep(0.2)
        move_started = time.monotonic() - origin
        moved = await asyncio.to_thread(move_slot, slot, source, target, masters, pause, via=cluster)
        done_at = time.monotonic()
        recovered_at = None
        while time.monotonic() - done_at < max(after, 5.0):
            if recovered_at is None and client._lookup(slot) == target:
                recovered_at = time.monotonic()
                if time.monotonic() - done_at >= after:
                    break
            await asyncio.sleep(0.001)
            if recovered_at is not None and time.monotonic() - done_at >= after:
                break
        running = False
        await asyncio.gather(*tasks, sampler)
        for start in range(0, len(written), 1000):  # leave the slot as we found it
            await client.delete(*written[start : start + 1000])
        await asyncio.to_thread(move_slot, slot, target, source, masters, via=cluster)  # put it back
        return {
            **tally,
            "keys_moved": moved,
            "ask": client.counters["ask"],
            "moved": client.counters["moved"],
            "refreshes": client.counters["refreshes"],
            "recover_ms": (recovered_at - done_at) * 1000 if recovered_at else None,
            "slot": slot,
            "move_started_s": move_started,
            "move_ended_s": done_at - origin,
            "timeline": timeline,
            "source": source,
            "target": target,
        }
