"""A checked pipeline load: every reply compared with what execution in the order queued
may give, every acknowledged write accounted for.

Each worker owns a few keys (strings, a counter, a list), spread over a few slots so its
pipelines span nodes, and keeps for each key the set of states it may be in. A step of a
pipeline maps each possible state to the state after it and the reply it gives (SET k v:
v and OK; MSET: that for each of its two keys; GET k: itself and its value; INCR c: n+1
and n+1; RPUSH l x: the length plus one and that length). An answered step keeps only the
states whose reply matches, then moves them on; an answer no state gives is `wrong`: a
reply handed to the wrong command, a read sent again after a later write of its own
pipeline, an acknowledged write that is gone. A step that ended in an error may or may
not have run: a write's keys may then be in either state, and after the pipeline each
such key is read back (its state must be one of the possible ones, or it is `lost`),
which also bounds how far the sets grow. At the end every key is read back once more
(`final mismatch`).

`problems()` is the figure that must be 0. `client` is ours or any library's with a
redis-py-like `pipeline()` whose `execute_command` queues and whose
`execute(raise_on_error=False)` returns errors in place.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PipelineLoad"]

READ_BACK_FOR = 15.0  # seconds a worker keeps trying to read a key back (a failover takes seconds)
State = bytes | int | None
Effect = Callable[[State], tuple[State, Any]]  # a state -> the state after, and the reply


@dataclass(frozen=True)
class _Step:
    args: tuple[Any, ...]
    effects: tuple[tuple[str, Effect], ...]  # per key it touches (MSET touches two)
    writes: bool


def _counter(state: State) -> int:
    return 0 if state is None else int(state)


def _set(value: bytes) -> Effect:
    return lambda state: (value, b"OK")


def _get(state: State) -> tuple[State, Any]:
    return state, state


def _incr(state: State) -> tuple[State, Any]:
    return _counter(state) + 1, _counter(state) + 1


def _push(state: State) -> tuple[State, Any]:
    return _counter(state) + 1, _counter(state) + 1


def _matches(reply: Any, expected: Any) -> bool:
    if isinstance(expected, int):
        return isinstance(reply, int) and not isinstance(reply, bool) and reply == expected
    if expected == b"OK":
        return reply in (True, b"OK", "OK")
    return bool(reply == expected)


@dataclass
class PipelineLoad:
    client: Any
    prefix: str
    workers: int = 8
    depth: int = 8  # commands per pipeline
    migrating_tag: str | None = None  # keys under this hash tag share one slot (a test moves it)
    counts: Counter[str] = field(default_factory=Counter)  # ok, wrong, lost, error:<type> ...
    examples: list[str] = field(default_factory=list)

    def problems(self) -> int:
        return sum(self.counts[k] for k in ("wrong", "lost", "unresolved", "final mismatch"))

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._worker(n, stop) for n in range(self.workers)))

    def _keys(self, n: int) -> dict[str, str]:
        """Two pairs of strings that MSET may write together (each pair shares a slot), a
        counter and a list; with a migrating tag, the first pair and the counter are on
        the slot that moves, so an MSET there can find its keys split (TRYAGAIN)."""
        own = f"{{{self.prefix}:w{n}}}"
        moving = f"{{{self.migrating_tag}}}" if self.migrating_tag else own
        return {
            "s0": f"{self.prefix}:{moving}:w{n}:s0",
            "s1": f"{self.prefix}:{moving}:w{n}:s1",
            "s2": f"{self.prefix}:{own}:s2",
            "s3": f"{self.prefix}:{own}:s3",
            "c": f"{self.prefix}:{moving}:w{n}:c",
            "l": f"{self.prefix}:w{n}:l",
        }

    async def _worker(self, n: int, stop: asyncio.Event) -> None:
        keys = self._keys(n)
        for key in keys.values():
            if await self._read_back(("DEL", key)) is _UNREAD:
                self.counts["unresolved"] += 1
                return
        # strings: their value or None; the counter and the list: a number (0 when absent)
        states: dict[str, set[State]] = {key: {None} for key in keys.values()}
        states[keys["c"]] = states[keys["l"]] = {0}
        rng = random.Random(n)
        serial = 0
        while not stop.is_set():
            steps = []
            for _ in range(self.depth):
                serial += 1
                steps.append(self._step(rng, keys, b"w%d:%d" % (n, serial)))
            pipe = self.client.pipeline()
            for step in steps:
                pipe.execute_command(*step.args)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except Exception as exc:  # noqa: BLE001  # the whole pipeline failed: every step unknown
                replies = [exc] * len(steps)
            for step, reply in zip(steps, replies, strict=True):
                self._apply(step, reply, states)
            if not await self._resolve(states, keys, only_uncertain=True):
                return
        await self._resolve(states, keys, only_uncertain=False)

    @staticmethod
    def _step(rng: random.Random, keys: dict[str, str], value: bytes) -> _Step:
        string = keys[f"s{rng.randrange(4)}"]
        kind = rng.randrange(7)
        if kind == 0:
            return _Step(("SET", string, value), ((string, _set(value)),), True)
        if kind in (1, 2):
            return _Step(("GET", string), ((string, _get),), False)
        if kind == 3:
            return _Step(("INCR", keys["c"]), ((keys["c"], _incr),), True)
        if kind == 4:
            return _Step(("RPUSH", keys["l"], value), ((keys["l"], _push),), True)
        if kind == 5:
            pair = ("s0", "s1") if rng.randrange(2) else ("s2", "s3")
            first, second = keys[pair[0]], keys[pair[1]]
            other = value + b"'"
            args = ("MSET", first, value, second, other)
            return _Step(args, ((first, _set(value)), (second, _set(other))), True)
        return _Step(("LLEN", keys["l"]), ((keys["l"], _get),), False)

    def _apply(self, step: _Step, reply: Any, states: dict[str, set[State]]) -> None:
        if isinstance(reply, BaseException):
            self.counts[f"error:{type(reply).__name__}"] += 1
            if step.writes:  # it may have run: either state
                for key, effect in step.effects:
                    states[key] = states[key] | {effect(state)[0] for state in states[key]}
            return
        after = {
            key: {effect(state)[0] for state in states[key] if _matches(reply, effect(state)[1])}
            for key, effect in step.effects
        }
        if all(after.values()):
            self.counts["ok"] += 1
            states.update(after)
            return
        self._note("wrong", step.args, reply, {key: sorted(states[key], key=repr) for key, _ in step.effects})
        for key, effect in step.effects:  # the model no longer knows: anything, then read back
            states[key] = states[key] | {effect(state)[0] for state in states[key]} | {reply}

    async def _resolve(
        self, states: dict[str, set[State]], keys: dict[str, str], *, only_uncertain: bool
    ) -> bool:
        """Read back every key whose state is not known for sure (every key, at the end);
        False when one could not be read (the worker stops)."""
        for key, possible in states.items():
            if only_uncertain and len(possible) == 1:
                continue
            probe = ("LLEN", key) if key == keys["l"] else ("GET", key)
            found = await self._read_back(probe)
            if found is _UNREAD:
                self.counts["unresolved"] += 1
                return False
            state: State = _counter(found) if key in (keys["c"], keys["l"]) else found
            if state not in possible:
                kind = "lost" if only_uncertain else "final mismatch"
                self._note(kind, probe, found, sorted(possible, key=repr))
            states[key] = {state}
            self.counts["resolved" if only_uncertain else "checked"] += 1
        return True

    async def _read_back(self, args: Sequence[Any]) -> Any:
        """A single command retried through the fault, up to READ_BACK_FOR seconds."""
        give_up = time.monotonic() + READ_BACK_FOR
        while True:
            try:
                return await self.client.execute_command(*args)
            except Exception:  # noqa: BLE001
                if time.monotonic() > give_up:
                    return _UNREAD
                await asyncio.sleep(0.02)

    def _note(self, kind: str, args: Sequence[Any], got: Any, possible: Any) -> None:
        self.counts[kind] += 1
        if len(self.examples) < 8:
            self.examples.append(f"{kind}: {' '.join(map(str, args))} -> {got!r} (possible: {possible!r})")


_UNREAD = object()
