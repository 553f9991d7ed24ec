"""The one slow path: everything but a one-hop success, for every command of every client.

A single command enters it from the hop (`retry`, with how its one try ended); a
transaction is sent through it from the start; a pipeline's rounds (client/conversation.py)
use its decisions command by command. The decisions, each in one place:

- a reply: the answer, a redirect to follow (MOVED patches the router's map, ASK sends
  ASKING first), a transient state to wait out (TRYAGAIN, CLUSTERDOWN, LOADING,
  MASTERDOWN: until the command's deadline), or an error to raise (`decide`);
- a lost try: sent again only when nothing was written, or when a second execution is
  indistinguishable from one (the resend rule), within the deadline (`after_loss`);
- where to send next: the router's target, a connection opened or waited for, a failed
  connect retried a bounded number of times elsewhere (`connection_for`).

Which node a slot belongs to, and what a failure says about the layout, is the router's
business (client/router.py); this module never reads the topology itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.address import split_address
from ..core.redirect import Redirect, error_code
from ..core.resp import ReplyError
from ..errors import (
    ClusterDownError,
    MaybeAppliedError,
    NotSentError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    RetriesExhausted,
    TooManyRedirects,
    response_error,
)
from ..mux.multiplexer import Multiplexer
from ..mux.pool import MultiplexPool
from ..stages.contracts import RedirectCheck
from .outcome import ASKING, NOT_SENT, Lost, Outcome, Replied, Request, Single

__all__ = [
    "RETRY_BACKOFF_MAX",
    "TRANSIENT",
    "Attempt",
    "RetryPolicy",
    "Router",
    "SlowPath",
    "command_label",
    "reply_failure",
    "wrap_failure",
]

RETRY_BACKOFF_MAX = 0.5  # seconds: the longest pause between two tries of one command
# Error replies that say "not now" rather than "no": a slot mid-migration (TRYAGAIN), a
# cluster waiting for a promotion (CLUSTERDOWN), a replica loading its dataset after a
# resync (LOADING) or cut off from its master (MASTERDOWN). Each passes, so the command
# is tried again until its deadline.
TRANSIENT = frozenset(("TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN"))


def command_label(args: tuple[Any, ...]) -> str:
    name = args[0] if args else b"?"
    return (name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)).upper()


def wrap_failure(
    exc: RedisConnectionError | TimeoutError, address: str | None, args: tuple[Any, ...]
) -> RedisError:
    """A mux-level failure (the only two kinds a multiplexer raises) as the typed error
    the caller sees, naming node and command. A timeout's own text is often empty."""
    label = command_label(args)
    if isinstance(exc, RedisConnectionError):
        return type(exc)(f"{label} on {address}: {exc}")
    return RedisTimeoutError(f"{label} on {address}: {str(exc) or 'no reply within the command timeout'}")


def reply_failure(reply: ReplyError, address: str, args: tuple[Any, ...]) -> ResponseError:
    return response_error(reply.args[0], node=address, command=command_label(args))


@dataclass(frozen=True)
class RetryPolicy:
    """The slow path's bounds. `command_timeout`: every wait and retry of a command ends
    this many seconds after it was first sent. `retry`: send again after a connection
    loss what the resend rule allows; `resend_writes=False`: only reads among written
    commands. `max_redirects`: MOVED/ASK hops per command. `retry_attempts`: failed
    connects per command. `retry_backoff`: the first pause, doubled up to RETRY_BACKOFF_MAX."""

    command_timeout: float
    retry: bool = True
    resend_writes: bool = True
    max_redirects: int = 16
    retry_attempts: int = 3
    retry_backoff: float = 0.05
    max_bulk_bytes: int = 512 * 1024 * 1024

    def backoff(self, attempt: int) -> float:
        return min(self.retry_backoff * 2.0 ** (attempt - 1), RETRY_BACKOFF_MAX)


class Attempt:
    """One command's progress through the slow path."""

    __slots__ = (
        "address", "asking", "connect_failures", "deadline", "pinned", "redirects", "replica",
        "retarget", "transient",
    )  # fmt: skip

    def __init__(
        self, address: str | None, deadline: float, replica: bool = False, pinned: bool = False
    ) -> None:
        self.address = address
        self.deadline = deadline  # every wait and retry of the command ends here
        self.replica = replica  # a read for a replica of the slot's shard
        self.pinned = pinned  # to `address`: nothing moves it to another node
        self.asking = False  # the next send goes to an ASK target, preceded by ASKING
        self.retarget = False  # ask the router where to go before the next send
        self.redirects = 0  # MOVED/ASK hops so far
        self.transient = 0  # TRYAGAIN/CLUSTERDOWN/LOADING answers so far
        self.connect_failures = 0


class Router(Protocol):
    """Where commands go, and what failures say about the layout (client/router.py):
    the cluster's topology, or a standalone server's one address."""

    def target(self, slot: int, replica: bool) -> str | None:
        """The node for the slot's next try (a replica of its owner for a replica read);
        None when none is known."""

    async def locate(self, slot: int, label: str, attempt: Attempt) -> bool:
        """A slot with no known node: find one (True), wait and try again (False), or raise."""

    def moved(self, slot: int, address: str) -> None:
        """A MOVED reply: the slot belongs to `address` now."""

    def layout_changed(self) -> None:
        """A CLUSTERDOWN reply: the layout is changing."""

    def node_failed(self, address: str) -> None:
        """A lost connection, a timeout or a failed connect on `address`."""


class SlowPath:
    def __init__(
        self,
        pool: MultiplexPool,
        router: Router,
        policy: RetryPolicy,
        check_redirect: RedirectCheck,
        counters: dict[str, int],
        check_loop: Callable[[], None],
    ) -> None:
        self.pool = pool
        self.router = router
        self.policy = policy
        self._check_redirect = check_redirect
        self.counters = counters
        self._check_loop = check_loop

    # -- a single command (or a transaction) ----------------------------------------------
    async def retry(
        self,
        slot: int | None,
        request: Request,
        address: str | None,
        outcome: Outcome,
        redirect: Redirect | None = None,
        replica: bool = False,
    ) -> Any:
        """The slow path of one request, from how its last try ended (`outcome`) to its
        answer or its typed error. `slot` None: the command is pinned to `address` (a
        standalone server, a keyless command, a topology read), so nothing moves it and a
        redirect is an error. `redirect`: the MOVED/ASK already parsed from the reply.
        `replica`: a read for a replica of the slot's shard."""
        attempt = Attempt(address, self.deadline(), replica, pinned=slot is None)
        while True:
            if type(outcome) is Lost:
                self.after_loss(outcome, attempt.address, request, attempt.deadline)
                if not attempt.asking and not attempt.pinned:
                    attempt.retarget = True
            elif type(outcome) is Replied:
                reply = request.reply(outcome.value)
                pause = self.decide(reply, slot, request.args, attempt, redirect)
                if pause is None:
                    return reply
                if pause:
                    await asyncio.sleep(pause)
                redirect = None
            mux = await self.connection_for(slot, request.args, attempt)
            if mux is None:
                outcome = NOT_SENT
                continue
            try:
                outcome = Replied(await self._send(request, mux, attempt))
            except (RedisConnectionError, TimeoutError) as exc:
                outcome = Lost(exc)

    async def _send(self, request: Request, mux: Multiplexer, attempt: Attempt) -> Any:
        """A slow path's send, ending by the command's deadline: the connection's own
        timeout counts from this send, and a redirect or a retry may come late in it. A
        transaction's commands have no deadline on the connection: it always has one here."""
        remaining = attempt.deadline - self.now()
        if remaining <= 0:
            raise RedisTimeoutError("the command timeout passed before it could be sent again")
        asking = ASKING if attempt.asking else None
        if isinstance(request, Single):
            sent = request.send(mux, asking, self.policy.max_bulk_bytes)
            if remaining >= self.policy.command_timeout:
                return await sent
        else:
            sent = request.send(mux, asking)
        async with asyncio.timeout(remaining):  # not wait_for: the send must run in this task, now
            return await sent

    # -- decisions, shared with the pipeline's rounds --------------------------------------
    def decide(
        self,
        reply: object,
        slot: int | None,
        args: tuple[Any, ...],
        attempt: Attempt,
        redirect: Redirect | None = None,
    ) -> float | None:
        """None when `reply` is the answer; otherwise the pause before the next try, with
        `attempt` updated for it (after MOVED/ASK: 0; TRYAGAIN and the like: a backoff);
        or raise the error the caller sees."""
        if type(reply) is not ReplyError:
            return None
        if redirect is None:
            redirect = self._check_redirect(reply)
        if redirect is not None and not attempt.pinned and slot is not None:
            self._follow(redirect, slot, args, attempt)
            return 0.0
        code = error_code(reply.args[0])
        if redirect is not None or code not in TRANSIENT:
            raise reply_failure(reply, attempt.address or "?", args)
        self.count(code.lower())
        attempt.transient += 1
        pause = self.policy.backoff(attempt.transient)
        if self.now() + pause >= attempt.deadline:
            text = (
                f"{command_label(args)} on {attempt.address}: still {reply.args[0]!r} after "
                f"{attempt.transient} tries within the command timeout ({self.policy.command_timeout:g} s)"
            )
            if code == "CLUSTERDOWN":
                raise ClusterDownError(text)
            raise RetriesExhausted(text, code=code)
        if code == "CLUSTERDOWN":
            self.router.layout_changed()
        attempt.retarget = not attempt.pinned
        attempt.asking = False
        return pause

    def refused_for_now(self, reply: object) -> bool:
        """Is `reply` an answer that says "not here" or "not now" (a redirect, or a
        transient state), so the command did not run and may be tried again?"""
        if type(reply) is not ReplyError:
            return False
        return self._check_redirect(reply) is not None or error_code(reply.args[0]) in TRANSIENT

    def _follow(self, redirect: Redirect, slot: int, args: tuple[Any, ...], attempt: Attempt) -> None:
        attempt.redirects += 1
        if attempt.redirects > self.policy.max_redirects:
            raise TooManyRedirects(
                f"{command_label(args)} for slot {slot}: more than {self.policy.max_redirects} "
                f"redirects, last {redirect.kind} to {attempt.address}"
            )
        # the redirect answered a command sent to attempt.address, so it is set
        attempt.address = redirect.address(split_address(attempt.address or "")[0])
        attempt.asking = redirect.kind == "ASK"
        attempt.retarget = False
        if attempt.asking:
            self.count("ask")
            return
        self.count("moved")
        self.router.moved(redirect.slot, attempt.address)
        if attempt.replica:  # a replica of the new owner, if one is known
            attempt.retarget = True

    def after_loss(self, lost: Lost, address: str | None, request: Request, deadline: float) -> None:
        """The retry policy, after a send failed: return to send again, or raise the
        error the caller sees. A timeout is final (the caller's deadline passed); a
        connection loss is retried when nothing was written, or when a second execution
        of the written command is indistinguishable from one, while the deadline allows."""
        exc, args = lost.error, request.args
        if address is not None:
            self.router.node_failed(address)
        if isinstance(exc, TimeoutError) or self.pool.closed or not self.policy.retry:
            raise wrap_failure(exc, address, args) from exc
        if lost.written and not (request.repeatable and (self.policy.resend_writes or request.read_only)):
            raise self.maybe_applied(exc, address, args) from exc
        if self.now() >= deadline:
            raise wrap_failure(exc, address, args) from exc
        self.counters["retries"] += 1

    def maybe_applied(
        self, exc: BaseException, address: str | None, args: tuple[Any, ...]
    ) -> MaybeAppliedError:
        self.counters["maybe_applied"] += 1
        return MaybeAppliedError(
            f"{command_label(args)} on {address}: {exc}; it had been sent, so it may have been applied"
        )

    # -- where to send --------------------------------------------------------------------
    async def connection_for(
        self, slot: int | None, args: tuple[Any, ...], attempt: Attempt
    ) -> Multiplexer | None:
        """The connection to send to, connecting if needed and waiting while it is
        congested; None means "try again" (after a failed connect, which sent nothing
        and so is safe to retry, or while waiting for a node to send to)."""
        if self.pool.closed:  # not a transient failure: no retry, no refresh
            raise RedisConnectionError(f"{command_label(args)}: the client is closed")
        if attempt.retarget and slot is not None:
            attempt.retarget = False
            attempt.address = self.router.target(slot, attempt.replica)
        if attempt.address is None:
            assert slot is not None  # a pinned command always has its node
            if not await self.router.locate(slot, command_label(args), attempt):
                return None
        assert attempt.address is not None
        try:
            mux = await self.ready(attempt.address, args, attempt.deadline)
        except NotSentError as exc:
            self.connect_failed(exc, attempt)
            await asyncio.sleep(self.policy.backoff(attempt.connect_failures))
            return None
        if mux is None and not attempt.asking and not attempt.pinned:
            attempt.retarget = True  # closed while it waited: its slots may be elsewhere now
        return mux

    def connect_failed(self, exc: NotSentError, attempt: Attempt) -> None:
        """A connect to the attempt's node failed (nothing was sent): raise when there is
        nowhere else to go or the bound is reached, else count it and go on."""
        if self.pool.closed or attempt.pinned:  # nowhere else to go: say so at once
            raise exc
        self.count("reconnects")
        attempt.connect_failures += 1
        if attempt.connect_failures > self.policy.retry_attempts:
            raise exc
        if not attempt.asking:
            attempt.retarget = True

    async def ready(self, address: str, args: tuple[Any, ...], deadline: float) -> Multiplexer | None:
        """An open connection to `address` with room for one more command: connecting
        if needed, waiting while it is congested or held. None when it closed while this
        waited (its node may have lost its slots: the caller asks the router again).
        A failed connect raises NotSentError, labelled with the command once."""
        mux: Multiplexer | None = self.pool.pick(address)
        if mux is None:
            self._check_loop()
            try:  # the pool shields the connect: giving up here aborts it for no one else
                mux = await asyncio.wait_for(self.pool.connect(address), max(deadline - self.now(), 0))
            except RedisConnectionError as exc:
                self.router.node_failed(address)
                raise NotSentError(
                    f"{command_label(args)} on {address}: {exc}; the command was not sent"
                ) from exc
            except TimeoutError:
                raise RedisTimeoutError(
                    f"{command_label(args)} on {address}: no connection within the command "
                    "timeout; the command was not sent"
                ) from None
        while mux.congested and not mux.closed:
            self.counters["capacity_waits"] += 1
            try:
                await mux.wait_capacity(max(deadline - self.now(), 0.0))
            except RedisTimeoutError as exc:
                raise wrap_failure(exc, address, args) from None
        return None if mux.closed else mux

    # -- time and counts --------------------------------------------------------------------
    def deadline(self) -> float:
        return self.now() + self.policy.command_timeout

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def count(self, name: str) -> None:
        self.counters[name] = self.counters.get(name, 0) + 1
