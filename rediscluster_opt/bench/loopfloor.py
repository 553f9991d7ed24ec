"""`calibration:loop`: what the event loop alone costs per command. NOT A CLIENT.

Each command returns a future that the loop resolves on its next iteration, from a dict
that stands for the server's keyspace: no socket, no encoding, no parsing. What remains is
what every asyncio client pays whatever it is written in: a future, a callback on the
loop's ready queue, and the waiting task's wake-up. It is the floor under
`calibration:bare` (which adds one real connection per master and hiredis) and under any
native build of our hot path; `rcopt bench --clients optimized,calibration:loop` reads a
figure of ours as a multiple of it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .workload import Workload

__all__ = ["open_loop_floor"]


class _LoopFloor:
    def __init__(self, loop: asyncio.AbstractEventLoop, keyspace: dict[bytes, bytes]) -> None:
        self._new_future = loop.create_future
        self._call_soon = loop.call_soon
        self._keyspace = keyspace

    def _answer(self, reply: object) -> asyncio.Future[Any]:
        future = self._new_future()
        self._call_soon(future.set_result, reply)  # resolved by the loop, as a reply would be
        return future

    def get(self, key: bytes) -> asyncio.Future[Any]:
        return self._answer(self._keyspace.get(key))

    def set(self, key: bytes, value: bytes, px: int | None = None) -> asyncio.Future[Any]:
        self._keyspace[key] = value
        return self._answer(b"OK")

    def delete(self, key: bytes) -> asyncio.Future[Any]:
        return self._answer(1 if self._keyspace.pop(key, None) is not None else 0)

    async def close(self) -> None:
        self._keyspace.clear()


def open_loop_floor(workload: Workload) -> _LoopFloor:
    """The arm over a keyspace holding `workload`'s keys, as the trial's populate left
    the servers, so its GETs are checked like any client's."""
    keyspace = dict(zip(*workload.keys_and_values, strict=True))
    return _LoopFloor(asyncio.get_running_loop(), keyspace)
