"""Multiplexed client for one standalone Redis server: the client assembly
(client/client.py) holding a router with one address (client/router.py)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from ..core.address import parse_address
from ..core.url import parse_url
from ..stages import Stages
from .client import Client, url_options
from .router import StandaloneRouter

__all__ = ["StandaloneClient"]


class StandaloneClient(Client):
    router: StandaloneRouter

    def __init__(self, address: str, stages: Stages | None = None, **options: Any) -> None:
        """`options`: connections_per_node, connect_timeout, command_timeout... (see Client)."""
        self.address = parse_address(address)
        super().__init__(lambda *parts: StandaloneRouter(self.address), stages, **options)
        self._address = self.address
        self._install_routes()

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

    _route_stages = Client._route_stages - {"slot_hash", "slot_map", "redirect"}  # no slots here

    def _keyed(self, key: object, args: tuple[Any, ...]) -> Coroutine[Any, Any, Any]:
        # A plain function returning the coroutine: no extra coroutine frame per command.
        return self._route(None, self.address, args)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mode": "standalone", "address": self.address}
