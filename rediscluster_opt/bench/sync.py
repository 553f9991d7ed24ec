"""Run a coroutine to completion from synchronous code, including inside Jupyter."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any

__all__ = ["run_sync"]


def run_sync(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    """Run a coroutine on a fresh loop in a helper thread, so this works inside Jupyter,
    whose kernel already runs a loop in the main thread."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, name="rcopt-run-sync")
    thread.start()
    thread.join()
    if "error" in box:
        raise box["error"]
    return box.get("value")
