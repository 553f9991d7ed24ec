"""A load that checks every reply against the reply a single execution gives.

Each worker owns a few keys under a hash tag of its own (a set, a hash, a bitmap, a
counter, a key it SETs and DELs, a string) and keeps a model of them, so it knows the
reply a single execution of each command gives: SADD of a new member is 1, SETBIT of a
fresh bit 0, DEL of a key it just SET 1, INCR the model plus one. A reply that differs is
`wrong`: what a client returns after it sent an applied command again. An error leaves
the command's outcome unknown, so the worker reads the state back: it must be the model
before or after the command (`resolved`, and the model follows), anything else is
`inconsistent`; a state it cannot read back within a few seconds is `unresolved`. At the
end the server's state must equal every model (`final mismatch` otherwise).

`command` is any coroutine function taking a command's arguments (our
`execute_command`, redis-py's, glide's `custom_command` wrapped), so peers run it too.
`kill_storm` is the fault it was made for: every normal connection killed again and
again while the load runs.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..admin import command as admin_command
from ..core.address import split_address

__all__ = ["SingleExecutionLoad", "kill_storm"]

Command = Callable[..., Awaitable[Any]]
OK = object()  # "a success reply": SET answers OK, True or "OK" depending on the library
READ_BACK_FOR = 5.0  # seconds a worker keeps trying to read an unknown outcome back


@dataclass
class _Model:
    members: set[int] = field(default_factory=set)
    fields: set[int] = field(default_factory=set)
    bits: set[int] = field(default_factory=set)
    counter: int = 0
    exists: bool = False  # the SET-then-DEL key
    string: bytes | None = None  # None: not SET yet, so GET answers nil


@dataclass(frozen=True)
class _Step:
    args: tuple[Any, ...]
    expected: Any  # the single execution's reply (OK: any success)
    probe: tuple[Any, ...] | None  # reads the state back after an error; None for a read
    applied: Callable[[Any], bool | None]  # probe reply -> applied? (None: neither state)
    apply: Callable[[], None]  # the model after the command


@dataclass
class SingleExecutionLoad:
    command: Command
    prefix: str
    workers: int = 8
    counts: Counter[str] = field(default_factory=Counter)  # ok, wrong, resolved, error:<type> ...
    examples: list[str] = field(default_factory=list)  # the first wrong replies, for a message

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(*(self._worker(n, stop) for n in range(self.workers)))

    def problems(self) -> int:
        """Replies or states that no single execution could give: the figure that must be 0."""
        return sum(self.counts[k] for k in ("wrong", "inconsistent", "unresolved", "final mismatch"))

    async def _worker(self, n: int, stop: asyncio.Event) -> None:
        tag = f"{self.prefix}:{{w{n}}}"
        keys = {name: f"{tag}:{name}" for name in ("set", "hash", "bits", "counter", "del", "string")}
        for key in keys.values():
            await self._settled(("DEL", key))
        model = _Model()
        i = 0
        while not stop.is_set():
            i += 1
            for step in _steps(keys, model, i):
                if not await self._one(step):
                    return
        await self._check_final(keys, model)

    async def _one(self, step: _Step) -> bool:
        """Run one step; False when its outcome could not be read back (worker stops)."""
        try:
            reply = await self.command(*step.args)
        except Exception as exc:  # noqa: BLE001  # any library's error leaves the outcome unknown
            self.counts[f"error:{type(exc).__name__}"] += 1
            if step.probe is None:  # a read: nothing to resolve
                self.counts["read error"] += 1
                return True
            state = await self._settled(step.probe)
            if state is _UNREAD:
                self.counts["unresolved"] += 1
                return False
            applied = step.applied(state)
            if applied is None:
                self._note("inconsistent", step.args, state)
                return False
            self.counts["resolved"] += 1
            if applied:
                step.apply()
            return True
        if _matches(reply, step.expected):
            self.counts["ok"] += 1
            step.apply()
        else:
            self._note("wrong", step.args, reply, step.expected)
            step.apply()  # the server ran it (it answered): the model follows the data
        return True

    async def _settled(self, args: tuple[Any, ...]) -> Any:
        """A read that is retried through the storm, up to READ_BACK_FOR seconds."""
        give_up = time.monotonic() + READ_BACK_FOR
        while True:
            try:
                return await self.command(*args)
            except Exception:  # noqa: BLE001
                if time.monotonic() > give_up:
                    return _UNREAD
                await asyncio.sleep(0.01)

    async def _check_final(self, keys: dict[str, str], model: _Model) -> None:
        expected = {
            ("SMEMBERS", keys["set"]): model.members,
            ("HKEYS", keys["hash"]): model.fields,
            ("BITCOUNT", keys["bits"]): len(model.bits),
            ("GET", keys["counter"]): model.counter,
            ("EXISTS", keys["del"]): int(model.exists),
            ("GET", keys["string"]): model.string,
        }
        for probe, want in expected.items():
            found = await self._settled(probe)
            if found is _UNREAD:
                self.counts["unresolved"] += 1
                continue
            if isinstance(want, set):
                found = {int(item) for item in found}
            elif probe[1] == keys["counter"]:
                found = _int(found)
            if found != want:
                self._note("final mismatch", probe, found, want)
        for key in keys.values():
            await self._settled(("DEL", key))

    def _note(self, kind: str, args: Sequence[Any], got: Any, expected: Any = None) -> None:
        self.counts[kind] += 1
        if len(self.examples) < 5:
            self.examples.append(
                f"{kind}: {' '.join(map(str, args))} -> {got!r} (single execution: {expected!r})"
            )


_UNREAD = object()


def _int(reply: Any) -> int:
    return 0 if reply is None else int(reply)


def _matches(reply: Any, expected: Any) -> bool:
    if expected is OK:
        return reply in (True, b"OK", "OK")
    if isinstance(expected, int):
        return isinstance(reply, int) and not isinstance(reply, bool) and reply == expected
    return bool(reply == expected)


def _steps(keys: dict[str, str], model: _Model, i: int) -> Iterator[_Step]:
    """One round of a worker's commands, each with its single-execution reply from the
    model as it stands when the step runs (a generator: each step sees the last one's)."""
    members, fields, bits, counter, dele, string = keys.values()

    def add(into: set[int]) -> Callable[[], None]:
        return lambda: into.add(i)

    def exists(value: bool) -> Callable[[], None]:
        return lambda: setattr(model, "exists", value)

    def one(reply: Any) -> bool:
        return bool(reply == 1)

    yield _Step(("SADD", members, i), 1, ("SISMEMBER", members, i), one, add(model.members))
    yield _Step(("HSET", fields, i, "v"), 1, ("HEXISTS", fields, i), one, add(model.fields))
    yield _Step(("SETBIT", bits, i, 1), 0, ("GETBIT", bits, i), one, add(model.bits))
    yield _Step(("SET", dele, "x"), OK, ("EXISTS", dele), one, exists(True))
    yield _Step(("DEL", dele), int(model.exists), ("EXISTS", dele), lambda r: r == 0, exists(False))
    before = model.counter

    def counted(reply: Any) -> bool | None:
        value = _int(reply)
        return True if value == before + 1 else False if value == before else None

    yield _Step(("INCR", counter), before + 1, ("GET", counter), counted,
                lambda: setattr(model, "counter", before + 1))  # fmt: skip
    value = b"v%d" % i
    yield _Step(("SET", string, value), OK, ("GET", string), lambda r: r == value,
                lambda: setattr(model, "string", value))  # fmt: skip
    yield _Step(("GET", string), model.string, None, lambda r: None, lambda: None)


async def kill_storm(addresses: Sequence[str], stop: asyncio.Event, every: float = 0.05) -> int:
    """CLIENT KILL TYPE normal on every node, every `every` seconds, until `stop`; the
    number of connections killed."""
    killed = 0
    while not stop.is_set():
        for address in addresses:
            host, port = split_address(address)
            try:
                reply = await asyncio.to_thread(admin_command, host, port, "CLIENT", "KILL", "TYPE", "normal")
            except OSError:
                continue
            killed += reply if isinstance(reply, int) else 0
        try:
            await asyncio.wait_for(stop.wait(), every)
        except TimeoutError:
            pass
    return killed
