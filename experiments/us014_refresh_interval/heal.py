"""How long our client takes to learn of a slot that moved when nothing told it.

A MOVED reply corrects a slot at once. A slot no command touches (an idle key range), or
one whose reads a replica serves, moves without any: the periodic refresh is then the
only way the client learns. `heal_trial` measures that, in its own process: the client
connects with the refresh interval asked for; a repeat waits a random part of one
interval (a move lands anywhere in the refresh cycle), makes the client's view of one
random slot stale exactly as a move would leave it (another master serves it, and no
refresh is asked for), and times until a refresh replaces the view and names the slot's
real owner again. The cluster itself is not changed, so nothing has to be put back and
the repeats can follow each other at once.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import asdict
from typing import Any

from rediscluster_opt.bench.adapters import Target
from rediscluster_opt.child import run_child
from rediscluster_opt.core.slots import SLOT_COUNT
from rediscluster_opt.results.stats import Interval, interval

__all__ = ["heal_times", "heal_trial"]

POLL_S = 0.002  # how often the trial looks whether the view was replaced
SLACK_S = 5.0  # beyond one interval per repeat: connect, and a refresh that is slow to answer


def heal_trial(spec: dict[str, Any]) -> dict[str, Any]:
    """Child entry: {"target", "refresh_interval", "repeats", "seed"} -> {"heal_s": [...]}."""
    return asyncio.run(_heal(spec))


async def _heal(spec: dict[str, Any]) -> dict[str, Any]:
    from rediscluster_opt.client import ClusterClient

    target = Target(**spec["target"])
    period = float(spec["refresh_interval"])
    draw = random.Random(spec["seed"])
    client = await ClusterClient.connect(target.seeds, refresh_interval=period, **target.client_options())
    heal: list[float] = []
    try:
        for _ in range(spec["repeats"]):
            await asyncio.sleep(draw.uniform(0, period))
            slot = draw.randrange(SLOT_COUNT)
            owner = client.topology.slot_table()[slot]
            elsewhere = draw.choice([m for m in client.topology.masters if m != owner])
            # What a move leaves behind in a client nobody told: the snapshot and the map
            # name the old owner's neighbour, and no refresh was asked for.
            router = client.router
            stale = router.topology = router.topology.moved(slot, elsewhere)
            router.slot_map.patch(slot, elsewhere)
            started = time.perf_counter()
            while client.topology is stale or client.topology.slot_table()[slot] != owner:
                await asyncio.sleep(POLL_S)
            heal.append(time.perf_counter() - started)
    finally:
        await client.close()
    return {"heal_s": heal}


def heal_times(target: Target, refresh_interval: float, repeats: int, seed: int = 0) -> dict[str, Any]:
    """The heal times of `repeats` silent moves at `refresh_interval`, with their median's
    interval, measured in a child process."""
    spec = {"target": asdict(target), "refresh_interval": refresh_interval, "repeats": repeats, "seed": seed}
    found = run_child(heal_trial, spec, timeout=repeats * (2 * refresh_interval + SLACK_S) + SLACK_S)
    summary: Interval | None = interval(found["heal_s"])
    return {
        "refresh_interval": refresh_interval,
        "heal_s": found["heal_s"],
        "summary": summary.as_dict() if summary else None,
    }
