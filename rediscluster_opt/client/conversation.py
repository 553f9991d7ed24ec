"""A pipeline's run: one conversation per node and round, entirely in the caller's task.

A round takes every command still to send, in the order queued, and groups them by the
node each belongs to now (its slot's owner, a redirect's target, the node it is pinned
to); the commands of one slot stay in one conversation, a later one waiting a round
rather than going to another node ahead of an earlier one. Each node's share goes down
one connection, in order and in one write, so the server runs it in the order queued
whatever `connections_per_node` is. The replies are awaited by progress: a node that
answers nothing for `command_timeout` fails the rest of its share, while one that keeps
answering a long pipeline is given the time it needs. Each outcome is then decided as a
single command's would be (`SlowPath.decide`, `SlowPath.after_loss`): the answer, an
error in its place, or a next try. The next tries form the next round, after the longest
pause any of them asks for; the round before has been answered by then, so nothing of
one round overtakes the other.

Nothing runs in a task of its own: a caller cancelled while waiting stops the pipeline
there, and nothing of it is sent after that.

Two rules are the pipeline's own, both for the order queued. After a lost connection, a
read is sent again only when no later command of its share that may have run writes one
of its keys: the second read would see that write, a reply no execution in that order
gives. And a command refused without running (TRYAGAIN for a multi-key command whose
keys are split by a migration, a redirect) is tried again only when no later command of
its share on its keys has run: `MSET a b` answered TRYAGAIN, then `SET a` run on the
source, would otherwise overwrite the later SET when it is retried (OutOfOrderError).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ..errors import MaybeAppliedError, NotSentError, OutOfOrderError, RedisError
from ..mux.multiplexer import Multiplexer
from .outcome import ASKING, Lost, Outcome, Replied, Single, drop, outcome_of
from .router import Placement
from .slowpath import Attempt, SlowPath, command_label

__all__ = ["run_pipeline"]


class _Item:
    """One queued command: what it is, where it goes, how far it got."""

    __slots__ = ("answered", "attempt", "done", "pause", "request", "result", "slot")

    def __init__(self, request: Single, slot: int | None, address: str | None, deadline: float) -> None:
        self.request = request
        self.slot = slot
        self.attempt = Attempt(address, deadline, pinned=slot is None)
        self.answered = False  # its first outcome came: its retries' clock starts then
        self.done = False
        self.result: object = None  # the reply, or the error it ended in
        self.pause = 0.0  # before its next try

    def finish(self, result: object) -> None:
        self.result, self.done = result, True


async def run_pipeline(
    slow: SlowPath, requests: Sequence[Single], placements: Sequence[Placement]
) -> list[object]:
    """Each command's reply, or the error it ended in, in the order queued."""
    deadline = slow.deadline()
    items = [
        _Item(r, slot, address, deadline) for r, (slot, address) in zip(requests, placements, strict=True)
    ]
    todo = items
    while todo:
        groups = await _group(slow, todo)
        sent: list[tuple[list[_Item], list[asyncio.Future[object]], str]] = []
        for address, group in groups.items():
            mux = await _connection(slow, address, group)
            if mux is not None:
                sent.append((group, _send(mux, group), address))
        for group, futures, address in sent:
            outcomes = await _outcomes(futures, slow.policy.command_timeout)
            _settle(slow, address, group, outcomes)
        todo = [item for item in items if not item.done]
        pause = max((item.pause for item in todo), default=0.0)
        if pause:
            await asyncio.sleep(pause)
        for item in todo:
            item.pause = 0.0
    return [item.result for item in items]


_WAITS = "<the rest of this slot waits for the next round>"  # an address no node has


async def _group(slow: SlowPath, todo: list[_Item]) -> dict[str, list[_Item]]:
    """The commands of this round by node, each node's in the order queued. The commands
    of one slot go in one conversation per round: a command whose slot's earlier command
    goes to another node this round (an ASK target while the earlier one retries TRYAGAIN
    at the source), or waits, waits for the next round, so it never runs before it."""
    groups: dict[str, list[_Item]] = {}
    lead: dict[int, str | None] = {}  # slot -> where its first command of this round goes
    for item in todo:
        attempt = item.attempt
        try:
            if attempt.retarget and item.slot is not None:
                attempt.retarget = False
                attempt.address = slow.router.target(item.slot, attempt.replica)
            if attempt.address is None:
                assert item.slot is not None  # a pinned command always has its node
                if not await slow.router.locate(item.slot, command_label(item.request.args), attempt):
                    attempt.address = None  # waited; the next round looks again
        except RedisError as exc:
            item.finish(exc)
            continue
        if item.slot is not None:
            if lead.setdefault(item.slot, attempt.address) != attempt.address:
                lead[item.slot] = _WAITS  # and every later one of the slot waits too
                continue  # behind an earlier command of its slot that goes elsewhere, or waits
        if attempt.address is not None:
            groups.setdefault(attempt.address, []).append(item)
    return groups


async def _connection(slow: SlowPath, address: str, group: list[_Item]) -> Multiplexer | None:
    """The node's connection for this round, once it is open with room; None when none
    came (each command of the group then decides whether and where to try again)."""
    try:
        mux = await slow.ready(address, group[0].request.args, min(item.attempt.deadline for item in group))
    except RedisError as exc:
        for item in group:
            try:
                if not isinstance(exc, NotSentError):
                    raise exc
                slow.connect_failed(exc, item.attempt)
                item.pause = slow.policy.backoff(item.attempt.connect_failures)
            except RedisError as final:
                item.finish(final)
        return None
    if mux is None:  # closed while waiting: the node may have lost its slots
        for item in group:
            item.attempt.retarget = not item.attempt.asking and not item.attempt.pinned
    return mux


def _send(mux: Multiplexer, group: list[_Item]) -> list[asyncio.Future[object]]:
    """Every command of the group on the node's one connection, in order; each command's
    own future (an ASK target's ASKING is sent before it, its reply dropped)."""
    payloads: list[bytes] = []
    own: list[int] = []
    for item in group:
        if item.attempt.asking:
            payloads.append(ASKING)
        own.append(len(payloads))
        payloads.append(item.request.encoded())
    futures = mux.execute_many(payloads)
    if len(futures) > len(own):  # ASKING's reply is not the caller's: read and dropped
        mine = set(own)
        drop([future for position, future in enumerate(futures) if position not in mine])
    return [futures[position] for position in own]


async def _outcomes(futures: list[asyncio.Future[object]], patience: float) -> list[Outcome]:
    """Each command's outcome, in order. The node has `patience` seconds for each next
    reply; when it sends none, the rest of its share ends as lost by a timeout."""
    outcomes: list[Outcome] = []
    try:
        for future in futures:
            if not future.done():
                try:
                    async with asyncio.timeout(patience):
                        await asyncio.wait((future,))
                except TimeoutError:
                    # After a stall of the process, the reply and the timer can fall due
                    # in one loop turn; the read runs first, so an answered command shows
                    # as done here, and its reply is its outcome, not a timeout.
                    if not future.done():
                        break
            outcomes.append(outcome_of(future))
    finally:  # a timeout, or the caller cancelled: the rest is dropped when it comes
        drop(futures[len(outcomes) :])
    silent = Lost(TimeoutError(f"no reply from the node for {patience:g} s while its pipeline waited"))
    return outcomes + [silent] * (len(futures) - len(outcomes))


def _settle(slow: SlowPath, address: str, group: list[_Item], outcomes: list[Outcome]) -> None:
    """Decide each command's outcome as the slow path decides a single command's."""
    unsafe = _unsafe_resends(group, outcomes)
    overtaken = _overtaken(slow, group, outcomes)
    now = slow.now()
    for item, outcome in zip(group, outcomes, strict=True):
        attempt = item.attempt
        if not item.answered:  # a long pipeline's tail is answered late: its retries count from then
            item.answered = True
            attempt.deadline = max(attempt.deadline, now + slow.policy.command_timeout)
        try:
            if type(outcome) is Replied:
                if item in overtaken:
                    raise OutOfOrderError(
                        f"{command_label(item.request.args)} on {address}: {outcome.value}; not sent "
                        f"again: a later {overtaken[item]} of its pipeline on the same keys already "
                        "ran, and this one would run after it"
                    )
                pause = slow.decide(outcome.value, item.slot, item.request.args, attempt)
                if pause is None:
                    item.finish(outcome.value)
                else:
                    item.pause = pause
            elif type(outcome) is Lost:
                if item in unsafe:
                    slow.router.node_failed(address)
                    slow.count("maybe_applied")
                    raise MaybeAppliedError(
                        f"{command_label(item.request.args)} on {address}: {outcome.error}; {unsafe[item]}"
                    )
                slow.after_loss(outcome, address, item.request, attempt.deadline)
                attempt.retarget = not attempt.asking and not attempt.pinned
        except RedisError as exc:
            item.finish(exc)


def _shares_keys(first: Single, later: Single) -> bool:
    """Whether two commands may touch a key in common (a keyless one may touch any)."""
    mine, theirs = first.keys, later.keys
    return not mine or not theirs or not set(mine).isdisjoint(theirs)


def _overtaken(slow: SlowPath, group: list[_Item], outcomes: list[Outcome]) -> dict[_Item, str]:
    """Commands refused without running that a later command of the share on their keys
    overtook (it ran, or may have; two reads never conflict), with that command's name."""
    ran = [
        (position, item)
        for position, (item, outcome) in enumerate(zip(group, outcomes, strict=True))
        if (type(outcome) is Replied and not slow.refused_for_now(outcome.value))
        or (type(outcome) is Lost and outcome.written)
    ]
    overtaken: dict[_Item, str] = {}
    for position, (item, outcome) in enumerate(zip(group, outcomes, strict=True)):
        if type(outcome) is not Replied or not slow.refused_for_now(outcome.value):
            continue
        for later_position, later in ran:
            if (
                later_position > position
                and not (item.request.read_only and later.request.read_only)
                and _shares_keys(item.request, later.request)
            ):
                overtaken[item] = command_label(later.request.args)
                break
    return overtaken


def _unsafe_resends(group: list[_Item], outcomes: list[Outcome]) -> dict[_Item, str]:
    """Reads lost after they were written that a later lost-after-written write of the
    same share may have overtaken, with why each is not sent again."""
    written = [
        item
        for item, outcome in zip(group, outcomes, strict=True)
        if type(outcome) is Lost and outcome.written and not isinstance(outcome.error, TimeoutError)
    ]
    unsafe: dict[_Item, str] = {}
    for position, item in enumerate(written):
        if not item.request.read_only:
            continue
        keys = set(item.request.keys)
        for later in written[position + 1 :]:
            if not later.request.read_only and (
                not keys or not later.request.keys or keys & set(later.request.keys)
            ):
                unsafe[item] = (
                    f"not sent again: a later {command_label(later.request.args)} of its pipeline on the "
                    "same keys was in flight too and may have run, and a second read would see it"
                )
                break
    return unsafe
