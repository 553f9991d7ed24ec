"""Multiplexed client for one standalone Redis server."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from ..core.address import parse_address
from ..core.resp import ReplyError
from ..core.url import parse_url
from ..stages import Stages
from .base import NOT_SENT, BaseClient, Transaction, reply_failure, url_options

__all__ = ["StandaloneClient"]


class StandaloneClient(BaseClient):
    def __init__(self, address: str, stages: Stages | None = None, **options: Any) -> None:
        """`options`: connections_per_node, connect_timeout, command_timeout (see BaseClient)."""
        super().__init__(stages, **options)
        self.address = parse_address(address)
        self._install_routes(None, self.address, self._retry)

    @classmethod
    async def connect(cls, address: str = "127.0.0.1:6379", **options: Any) -> StandaloneClient:
        """Connect (so a bad address or a server that is down fails here) and return."""
        client = cls(address, **options)
        try:
            await client._pool.connect(client.address)
        except BaseException:
            await client.close()
            raise
        return client

    @classmethod
    async def from_url(cls, url: str, **options: Any) -> StandaloneClient:
        """Connect from `redis://[user:password@]host:port[/db]`; see
        `rediscluster_opt.core.url`. Options override the URL's."""
        spec = parse_url(url)
        if len(spec.addresses) != 1:
            raise ValueError(f"{spec.redacted()}: a standalone client takes one address")
        setup = ((b"SELECT", spec.db),) if spec.db else ()
        merged = {**url_options(spec), "setup_commands": setup, **options}
        return await cls.connect(spec.addresses[0], **merged)

    _route_stages = BaseClient._route_stages - {"slot_hash", "slot_map", "redirect"}  # no slots here

    def _composed_route(self) -> tuple[Callable[..., Any], ...]:
        return (StandaloneClient._keyed, BaseClient._route)

    def _placement(self, args: tuple[Any, ...], key: Any = None) -> tuple[int | None, str | None]:
        return None, self.address

    def _keyed(self, key: object, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        # A plain function returning the coroutine: no extra coroutine frame per command.
        return self._route(None, self.address, args)

    async def _per_slot(self, command: bytes, items: list[tuple[Any, ...]]) -> list[tuple[list[int], Any]]:
        if not items:
            return []
        args = (command, *(part for item in items for part in item))
        return [(list(range(len(items))), await self._keyed(None, args))]

    async def _keyless(self, args: tuple[Any, ...], target: str | None) -> Any:
        if target == "all":
            return {self.address: await self._keyed(None, args)}
        if target not in (None, self.address):
            raise ValueError(f"target {target!r} is not this client's server {self.address}")
        return await self._keyed(None, args)

    def _run_transaction(self, keys: list[bytes], request: Transaction) -> Coroutine[Any, Any, Any]:
        return self._retry(None, request, self.address, NOT_SENT)

    async def _blocking_keyed(self, key: object, args: tuple[Any, ...], seconds: float) -> Any:
        reply = await self._blocking(self.address, args, seconds + self.command_timeout)
        if type(reply) is ReplyError:
            raise reply_failure(reply, self.address, args)
        return reply

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": "standalone", "address": self.address}
