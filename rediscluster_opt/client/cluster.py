"""Multiplexed Redis Cluster client.

The hot path (`_keyed` -> `_route`) is: slot hash, slot-map lookup, node selection,
submit, redirect check, each a stage function chosen at construction. Everything else
(connecting, MOVED/ASK, TRYAGAIN/CLUSTERDOWN, unassigned slots) is the slow path `_retry`.

Redirect policy: MOVED retries at the address the error names, patches that one slot at
once and asks for a single deduplicated, rate-limited background refresh; ASK sends
ASKING and the command together to the target with no refresh. A redirect never closes a
connection, since other callers' commands share it.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Coroutine, Iterable
from typing import Any

from ..core.address import parse_address, split_address
from ..core.redirect import error_code
from ..core.resp import ReplyError, encode_command, to_bytes
from ..core.topology import Topology, TopologyError, parse_cluster_shards, parse_cluster_slots
from ..errors import (
    AuthenticationError,
    ClusterDownError,
    RedisConnectionError,
    RedisError,
    ResponseError,
    RetriesExhausted,
    TooManyRedirects,
)
from ..mux.multiplexer import Multiplexer
from ..stages import Stages
from .base import BaseClient, command_label, reply_failure, wrap_failure

__all__ = ["ClusterClient"]

_ASKING = encode_command((b"ASKING",))
_NOT_SENT = object()  # `_retry` has no reply yet: the command still has to be sent


class ClusterClient(BaseClient):
    def __init__(
        self,
        seeds: Iterable[str] | str,
        stages: Stages | None = None,
        *,
        max_redirects: int = 16,
        retry_attempts: int = 3,
        retry_backoff: float = 0.05,
        min_refresh_interval: float = 1.0,
        **options: Any,
    ) -> None:
        """`options`: connections_per_node, connect_timeout, command_timeout (see BaseClient).
        `max_redirects` bounds MOVED/ASK hops per command; `retry_attempts` bounds
        TRYAGAIN/CLUSTERDOWN/connect retries, spaced from `retry_backoff` seconds doubling."""
        super().__init__(stages, **options)
        seed_list = [seeds] if isinstance(seeds, str) else list(seeds)
        if not seed_list:
            raise ValueError("give at least one seed address, e.g. '127.0.0.1:7000'")
        self.seeds = [parse_address(s) for s in seed_list]
        self.max_redirects = max_redirects
        self.retry_attempts = retry_attempts
        self.retry_backoff = retry_backoff
        self.min_refresh_interval = min_refresh_interval
        self.topology = Topology(())
        self._slot_of = self._impl.slot_hash
        self._check_redirect = self._impl.redirect
        self._slot_map = self._impl.slot_map(self.topology)
        self._lookup = self._slot_map.lookup
        self._refresh_task: asyncio.Task[Any] | None = None
        self._last_refresh = float("-inf")
        self.counters = dict.fromkeys(
            (
                "moved",
                "ask",
                "tryagain",
                "clusterdown",
                "reconnects",
                "refreshes",
                "refresh_failures",
            ),
            0,
        )

    @classmethod
    async def connect(
        cls, seeds: Iterable[str] | str, *, require_full_coverage: bool = True, **options: Any
    ) -> ClusterClient:
        """Build a client, load the topology from the seeds and return it."""
        client = cls(seeds, **options)
        try:
            topology = await client.refresh_topology()
            if require_full_coverage and not topology.is_complete:
                raise ClusterDownError(
                    f"the cluster at {', '.join(client.seeds)} serves only "
                    f"{topology.covered_slots} of 16384 slots"
                )
        except BaseException:
            await client.close()
            raise
        return client

    # -- hot path ---------------------------------------------------------------------
    def _keyed(self, key: Any, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        return self._route(self._slot_of(key if type(key) is bytes else to_bytes(key)), args)

    async def _route(self, slot: int, args: tuple[Any, ...]) -> Any:
        payload = self._encode(args)
        address = self._lookup(slot)
        mux = self._pick(address)
        if mux is None:
            return await self._retry(slot, payload, args, address, _NOT_SENT)
        try:
            reply = await mux.execute(payload)
        except (RedisConnectionError, TimeoutError) as exc:
            raise wrap_failure(exc, address, args) from exc
        if self._check_redirect(reply) is None and type(reply) is not ReplyError:
            return reply
        return await self._retry(slot, payload, args, address, reply)

    # -- slow path --------------------------------------------------------------------
    async def _retry(
        self, slot: int, payload: bytes, args: tuple[Any, ...], address: str | None, reply: Any
    ) -> Any:
        """Everything but the one-hop success: follow redirects, retry what is retryable,
        connect where needed, within the client's bounds."""
        attempt = _Attempt(address)
        while True:
            if reply is not _NOT_SENT and await self._absorb(reply, slot, args, attempt):
                return reply
            mux = await self._connection_for(slot, args, attempt)
            if mux is None:
                reply = _NOT_SENT
                continue
            try:
                if attempt.asking:
                    reply = await mux.execute_pair(_ASKING, payload)
                else:
                    reply = await mux.execute(payload)
            except (RedisConnectionError, TimeoutError) as exc:
                # The command may have run: failing it is the only honest answer.
                raise wrap_failure(exc, attempt.address, args) from exc

    async def _absorb(self, reply: Any, slot: int, args: tuple[Any, ...], attempt: _Attempt) -> bool:
        """True when `reply` is the answer; otherwise update `attempt` for the next try
        (after MOVED/ASK, or a backoff on TRYAGAIN/CLUSTERDOWN), or raise."""
        redirect = self._check_redirect(reply)
        if redirect is not None:
            attempt.redirects += 1
            if attempt.redirects > self.max_redirects:
                raise TooManyRedirects(
                    f"{command_label(args)} for slot {slot}: more than "
                    f"{self.max_redirects} redirects, last {redirect.kind} to {attempt.address}"
                )
            # the redirect answered a command sent to attempt.address, so it is set
            attempt.address = redirect.address(split_address(attempt.address or "")[0])
            attempt.asking = redirect.kind == "ASK"
            if attempt.asking:
                self.counters["ask"] += 1
            else:
                self.counters["moved"] += 1
                self._slot_map.patch(redirect.slot, attempt.address)
                self._request_refresh()
            return False
        if type(reply) is not ReplyError:
            return True
        code = error_code(reply.args[0])
        if code not in ("TRYAGAIN", "CLUSTERDOWN"):
            raise reply_failure(reply, attempt.address or "?", args)
        self.counters[code.lower()] += 1
        if attempt.transient_failure(self.retry_attempts):
            text = (
                f"{command_label(args)} on {attempt.address}: still {reply.args[0]!r} "
                f"after {self.retry_attempts} retries"
            )
            if code == "CLUSTERDOWN":
                raise ClusterDownError(text)
            raise RetriesExhausted(text, code=code)
        if code == "CLUSTERDOWN":
            self._request_refresh()
        await asyncio.sleep(self._backoff(attempt.transient))
        attempt.address, attempt.asking = self._lookup(slot), False
        return False

    async def _connection_for(
        self, slot: int, args: tuple[Any, ...], attempt: _Attempt
    ) -> Multiplexer | None:
        """The connection to send to, connecting if needed; None means "try again" (after
        a failed connect, which sent nothing and so is safe to retry)."""
        if self._pool.closed:  # not a transient failure: no retry, no refresh
            raise RedisConnectionError(f"{command_label(args)}: the client is closed")
        if attempt.address is None:
            await self._refresh_now()
            attempt.address = self._lookup(slot)
            if attempt.address is None:
                raise ClusterDownError(f"{command_label(args)}: slot {slot} is not served by any node")
        mux: Multiplexer | None = self._pick(attempt.address)
        if mux is not None:
            return mux
        try:
            return await self._pool.connect(attempt.address)
        except RedisConnectionError as exc:
            self.counters["reconnects"] += 1
            if attempt.transient_failure(self.retry_attempts):
                raise wrap_failure(exc, attempt.address, args) from exc
            self._request_refresh()
            await asyncio.sleep(self._backoff(attempt.transient))
            if not attempt.asking:
                attempt.address = self._lookup(slot)
            return None

    def _backoff(self, attempt: int) -> float:
        return min(self.retry_backoff * 2.0 ** (attempt - 1), 1.0)

    # -- multi-key and keyless --------------------------------------------------------
    async def _per_slot(self, command: bytes, items: list[tuple[Any, ...]]) -> list[tuple[list[int], Any]]:
        groups: dict[int, list[int]] = {}
        for index, item in enumerate(items):
            groups.setdefault(self._slot_of(to_bytes(item[0])), []).append(index)

        async def send(slot: int, indexes: list[int]) -> tuple[list[int], Any]:
            args = (command, *(part for i in indexes for part in items[i]))
            return indexes, await self._route(slot, args)

        if len(groups) <= 1:
            return [await send(slot, indexes) for slot, indexes in groups.items()]
        return await _gather_or_raise(send(slot, indexes) for slot, indexes in groups.items())

    async def _keyless(self, args: tuple[Any, ...], target: str | None) -> Any:
        if not self.topology.masters:
            await self._refresh_now()
            if not self.topology.masters:
                raise ClusterDownError(
                    f"{command_label(args)}: no master is known; the last topology refresh failed"
                )
        if target == "all":
            masters = self.topology.masters
            replies = await _gather_or_raise(self._call_node(a, args) for a in masters)
            return dict(zip(masters, replies, strict=True))
        address = parse_address(target) if target else random.choice(self.topology.masters)
        return await self._call_node(address, args)

    # -- topology ---------------------------------------------------------------------
    async def refresh_topology(self) -> Topology:
        """Reload the layout from any node that answers: known masters first (in random
        order), then the seeds, so losing the seed node does not matter."""
        # Rate limits count attempts, not successes: a cluster that cannot answer is not
        # asked again at once by every waiting command.
        self._last_refresh = asyncio.get_running_loop().time()
        known = list(self.topology.masters)
        random.shuffle(known)
        failures = []
        for address in dict.fromkeys([*known, *self.seeds]):
            try:
                topology = await self._fetch_topology(address)
            except AuthenticationError:
                raise  # another node will want the same credentials: say so, not "cluster down"
            except (RedisError, TopologyError) as exc:
                failures.append(f"{address}: {exc}")
                continue
            if not topology.ranges:
                failures.append(f"{address}: no slots assigned")
                continue
            self._install(topology)
            return topology
        self.counters["refresh_failures"] += 1
        raise ClusterDownError("no node gave a cluster topology: " + "; ".join(failures))

    async def _fetch_topology(self, address: str) -> Topology:
        host = split_address(address)[0]
        try:
            return parse_cluster_shards(await self._call_node(address, (b"CLUSTER", b"SHARDS")), host)
        except ResponseError as exc:
            if "cluster support disabled" in exc.message:
                raise
        # CLUSTER SHARDS is Redis >= 7.0; older servers only know CLUSTER SLOTS.
        return parse_cluster_slots(await self._call_node(address, (b"CLUSTER", b"SLOTS")), host)

    def _install(self, topology: Topology) -> None:
        self.topology = topology
        self._slot_map.replace(topology)
        self._last_refresh = asyncio.get_running_loop().time()
        self.counters["refreshes"] += 1

    def _request_refresh(self) -> None:
        """Schedule one background refresh, unless one is pending; at most one per
        `min_refresh_interval`, since a burst of MOVED usually reports one change."""
        task = self._refresh_task
        if task is not None and not task.done():
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, self._last_refresh + self.min_refresh_interval - loop.time())
        self._refresh_task = loop.create_task(self._background_refresh(delay))

    async def _background_refresh(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            await self.refresh_topology()
        except RedisError:
            pass  # counted in refresh_failures; commands keep using the patched map

    async def _refresh_now(self) -> None:
        """A refresh the caller waits for. Like `_request_refresh`, deduplicated (callers
        share the running one) and rate-limited: within `min_refresh_interval` of the last
        refresh the caller goes on with the map it has, so commands on unassigned slots
        cannot turn into a refresh storm."""
        task = self._refresh_task
        loop = asyncio.get_running_loop()
        if task is None or task.done():
            if loop.time() - self._last_refresh < self.min_refresh_interval:
                return
            task = self._refresh_task = loop.create_task(self.refresh_topology())
        await asyncio.shield(task)

    async def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
        await super().close()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": "cluster", "seeds": list(self.seeds)}


class _Attempt:
    """One command's progress through the slow path."""

    __slots__ = ("address", "asking", "redirects", "transient")

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.asking = False  # the next send goes to an ASK target, preceded by ASKING
        self.redirects = 0  # MOVED/ASK hops so far
        self.transient = 0  # TRYAGAIN/CLUSTERDOWN/connect failures so far

    def transient_failure(self, limit: int) -> bool:
        """Count one transient failure; True when that exceeds `limit`."""
        self.transient += 1
        return self.transient > limit


async def _gather_or_raise(coroutines: Iterable[Coroutine[Any, Any, Any]]) -> list[Any]:
    """gather() that waits for every coroutine, then raises the first failure, so no
    exception is left unretrieved in a sibling task."""
    results = await asyncio.gather(*coroutines, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results
