"""Explicit pipelines: commands queued by the caller and sent together on `execute()`.

The multiplexer already batches concurrent callers (a writer coalesces every command
queued in one event-loop tick into one write). A pipeline is that batching asked for by
one caller, without a task per command: in cluster mode its commands are split per node
by their keys' slot, and each node's share goes down one connection in the order queued,
in one write, whatever `connections_per_node` is (client/conversation.py). Each command
then gets the treatment a single command gets (client/slowpath.py): MOVED and ASK are
followed, TRYAGAIN and CLUSTERDOWN retried, a lost connection resends only what is safe
to resend, and a read never after a later write of its own pipeline that may have run.
Everything happens in the caller's task: a cancelled caller's pipeline sends nothing
more. Every command is encoded before anything is sent, so a bad argument sends nothing.
Errors are per command: `execute()` raises the first one in the caller's order once every
command has finished, or with `raise_on_error=False` returns each error in its command's
place, as redis-py's pipelines do. It is not a transaction: use `client.transaction()`
for MULTI/EXEC.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..core.commands import blocking_seconds, command_name, set_result, shared_connection_problem
from ..errors import UnsafeCommandError

if TYPE_CHECKING:
    from .client import Client

__all__ = ["Pipeline"]

Shape = Callable[[Any], Any] | None  # what a command's reply becomes (None: as it came)


class Pipeline:
    """`client.pipeline()`: queue commands (each method returns the pipeline, so calls
    chain), then `await pipe.execute()`. A pipeline can be executed once; `len(pipe)` is
    the number of queued commands."""

    def __init__(self, client: Client) -> None:
        self._client = client
        # (arguments, what the reply becomes, the key when the method knows it has one)
        self._commands: list[tuple[tuple[Any, ...], Shape, Any]] = []
        self._executed = False

    def __len__(self) -> int:
        return len(self._commands)

    def execute_command(self, *args: Any) -> Pipeline:
        """Queue any command by its arguments (routed by its keys, as the client routes
        it; a keyless command goes to any one master). Blocking commands and commands
        that change the connection's state are refused here, as on the shared
        connection."""
        return self._queue(tuple(args), None)

    def get(self, key: Any) -> Pipeline:
        return self._known((b"GET", key), None, key)

    def set(self, key: Any, value: Any, *, ex: int | None = None, px: int | None = None) -> Pipeline:
        """SET; its result is True when set, as `client.set` returns."""
        args: tuple[Any, ...] = (b"SET", key, value)
        args += (b"EX", ex) if ex is not None else ()
        args += (b"PX", px) if px is not None else ()
        return self._known(args, set_result, key)

    def delete(self, *keys: Any) -> Pipeline:
        return self._queue((b"DEL", *keys), None)

    def incr(self, key: Any) -> Pipeline:
        return self._known((b"INCR", key), None, key)

    def _queue(self, args: tuple[Any, ...], shape: Shape) -> Pipeline:
        if self._executed:
            raise RuntimeError("this pipeline was executed already; start another with client.pipeline()")
        name = command_name(args).decode(errors="replace")  # rejects an empty command
        problem = shared_connection_problem(args)
        if problem is not None:
            raise UnsafeCommandError(f"{name} refused in a pipeline: it {problem}")
        if blocking_seconds(args) is not None:
            raise UnsafeCommandError(f"{name} refused in a pipeline: it blocks; call it on the client")
        self._commands.append((args, shape, None))
        return self

    def _known(self, args: tuple[Any, ...], shape: Shape, key: Any) -> Pipeline:
        """A command of this class's own (GET, SET, INCR): neither blocking nor changing
        the connection, with one key the method names, so nothing needs checking or
        finding per command (a pipeline of 100 GETs paid four name parses per command)."""
        if self._executed:
            raise RuntimeError("this pipeline was executed already; start another with client.pipeline()")
        self._commands.append((args, shape, key))
        return self

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        """Send every queued command, wait for all of them, and return their results in
        the order they were queued (an empty pipeline returns [])."""
        if self._executed:
            raise RuntimeError("this pipeline was executed already; start another with client.pipeline()")
        self._executed = True
        if not self._commands:
            return []
        commands = self._commands
        outcomes = await self._client._run_pipeline([c[0] for c in commands], [c[2] for c in commands])
        results: list[Any] = []
        for (_, shape, _), outcome in zip(commands, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if raise_on_error:
                    raise outcome
                results.append(outcome)
            else:
                results.append(shape(outcome) if shape else outcome)
        return results
