"""redis-py's pipelines over the native one: `Pipeline` (redis.asyncio's, standalone) and
`ClusterPipeline` (redis.asyncio.cluster's).

The command methods queue (and return the pipeline, so calls chain); `execute()` sends
the queue through the native pipeline or transaction and shapes each reply as the client
would. An error reply is raised, the first one, with redis-py's "Command # N (...) of
pipeline caused error: ..." annotation, or with raise_on_error=False returned in its place.
The cluster pipeline keeps redis-py's cluster rules: multi-key commands split per slot as
they are queued (`delete("a", "b")` queues one DEL per slot), and the commands redis-py
blocks in a cluster pipeline raise its RedisClusterException.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Self

from redis import exceptions as redis_errors
from redis.cluster import PIPELINE_BLOCKED_COMMANDS, block_pipeline_command
from redis.commands import AsyncCoreCommands, AsyncRedisClusterCommands
from redis.utils import command_text, truncate_text

from .replies import redis_error

if TYPE_CHECKING:
    from .facade import _Facade

__all__ = ["ClusterPipeline", "Pipeline"]


class _Queued:
    """What both pipelines share: the queue, `execute`, the context manager."""

    def __init__(self, owner: _Facade, transaction: bool, shard_hint: Any = None) -> None:
        if shard_hint is not None:
            from .facade import UnsupportedOption

            raise UnsupportedOption("pipeline(shard_hint=...): pipelines route each command by its keys here")
        self._owner, self._transaction = owner, transaction
        self._queued: list[tuple[str, tuple[bytes, ...], dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._queued)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.reset()

    def reset(self) -> None:
        self._queued = []

    def execute_command(self, *args: Any, **options: Any) -> Self:
        if "target_nodes" in options:
            from .facade import UnsupportedOption

            raise UnsupportedOption("target_nodes in a pipeline: each command goes where its keys are")
        name, encoded = self._owner._encoded(args)
        self._queued.append((name, encoded, options))
        return self

    async def execute(self, raise_on_error: bool = True) -> list[Any]:
        queued, self._queued = self._queued, []
        if not queued:
            return []
        owner = self._owner
        native = await owner._connected()
        try:
            if self._transaction:
                replies = await native.transaction(*(args for _, args, _ in queued), raise_on_error=False)
            else:
                pipe = native.pipeline()
                for _, args, _ in queued:
                    pipe.execute_command(*args)
                replies = await pipe.execute(raise_on_error=False)
        except Exception as exc:
            raise redis_error(exc) from exc
        results = [
            redis_error(reply) if isinstance(reply, BaseException) else owner._shaped(name, reply, options)
            for (name, _, options), reply in zip(queued, replies, strict=True)
        ]
        if raise_on_error:
            for number, ((_, args, _), result) in enumerate(zip(queued, results, strict=True), 1):
                if isinstance(result, BaseException):
                    raise _annotated(result, number, args)
        return results


def _annotated(error: BaseException, number: int, args: tuple[bytes, ...]) -> BaseException:
    """redis-py's message for a pipeline's failed command, which callers match on."""
    text = truncate_text(command_text(args))
    first = error.args[0] if error.args else type(error).__name__
    error.args = (f"Command # {number} ({text}) of pipeline caused error: {first}", *error.args[1:])
    return error


class Pipeline(_Queued, AsyncCoreCommands):  # type: ignore[misc]  # redis-py's mixins are untyped
    """redis.asyncio's Pipeline shape, for the standalone `Redis`."""

    reset = _Queued.reset  # type: ignore[assignment]  # the pipeline's reset, not the RESET command


class ClusterPipeline(_Queued, AsyncRedisClusterCommands):  # type: ignore[misc]
    """redis.asyncio.cluster's ClusterPipeline shape, for `RedisCluster`."""

    reset = _Queued.reset  # type: ignore[assignment]

    def __init__(self, owner: _Facade, transaction: bool, shard_hint: Any = None) -> None:
        if shard_hint is not None:  # redis-py's own words, which its tests match
            raise redis_errors.RedisClusterException("shard_hint is deprecated in cluster mode")
        super().__init__(owner, transaction)

    def _split_command_across_slots(self, command: str, *keys: Any) -> Self:  # type: ignore[override]
        for keys_in_slot in self._owner._by_slot(keys).values():
            self.execute_command(command, *keys_in_slot)
        return self

    def mset_nonatomic(self, mapping: Mapping[Any, Any]) -> Self:  # type: ignore[override]
        for keys_in_slot in self._owner._by_slot(list(mapping)).values():
            self.execute_command("MSET", *(part for key in keys_in_slot for part in (key, mapping[key])))
        return self


for _name in PIPELINE_BLOCKED_COMMANDS:
    _method = _name.replace(" ", "_").lower()
    if _method != "mset_nonatomic":
        setattr(ClusterPipeline, _method, block_pipeline_command(_method))
