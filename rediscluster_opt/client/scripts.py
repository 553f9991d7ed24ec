"""Registered Lua scripts: run by SHA1, the source sent only where a node lacks it.

A node's script cache is its own: SCRIPT LOAD is not replicated, so a replica promoted
by a failover, a master a slot migrated to, a restarted node or one after SCRIPT FLUSH
answers EVALSHA with NOSCRIPT. The script is then sent once with EVAL, routed by the same
keys, which runs it and caches it on that node; it is never loaded ahead on every master,
which would still miss a node that joins later. The keys must share a slot (as on the
server); the client checks that before sending anything (CrossSlotError).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.resp import to_bytes
from ..errors import ResponseError

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Script"]


class Script:
    """`script = client.register_script("return redis.call('GET', KEYS[1])")`, then
    `await script(keys=[...], args=[...])`."""

    def __init__(self, client: Client, source: str | bytes) -> None:
        self.client = client
        self.source = to_bytes(source)
        self.sha = hashlib.sha1(self.source).hexdigest().encode()  # Redis names scripts by SHA1

    async def __call__(self, keys: Sequence[Any] = (), args: Sequence[Any] = ()) -> Any:
        tail = (len(keys), *keys, *args)
        try:
            return await self.client.execute_command(b"EVALSHA", self.sha, *tail)
        except ResponseError as exc:
            if exc.code != "NOSCRIPT":
                raise
        return await self.client.execute_command(b"EVAL", self.source, *tail)
