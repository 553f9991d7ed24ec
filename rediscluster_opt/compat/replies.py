"""Replies and errors as redis-py gives them: decoding and redis-py's exception classes.

No I/O: the facade (`compat.facade`) calls these on what the native client returned.
"""

from __future__ import annotations

from typing import Any

from redis import exceptions as redis_errors
from redis._parsers.base import BaseParser

from .. import errors

__all__ = ["converted", "redis_error"]


def converted(reply: Any, decoding: tuple[str, str] | None) -> Any:
    """`reply` as redis-py's parser gives it: an error reply nested in an array (EXEC's)
    as redis-py's exception instance, and with `decoding` (encoding, errors), every bulk
    and simple string decoded, as decode_responses=True does, RESP3's maps too, keys and
    values; integers, doubles, booleans and nil as they are."""
    if isinstance(reply, bytes):
        return reply.decode(*decoding) if decoding is not None else reply
    if isinstance(reply, list):
        return [converted(item, decoding) for item in reply]
    if isinstance(reply, dict):
        return {converted(key, decoding): converted(value, decoding) for key, value in reply.items()}
    if isinstance(reply, errors.ResponseError):
        return redis_error(reply)
    return reply


def redis_error(exc: BaseException) -> BaseException:
    """The redis-py exception a redis-py caller expects for one of ours: an error reply
    by redis-py's own table (NOSCRIPT -> NoScriptError, ...), a lost connection as its
    ConnectionError, a deadline as its TimeoutError; anything else unchanged."""
    if isinstance(exc, errors.ResponseError):
        return BaseParser.parse_error(exc.message)
    if isinstance(exc, errors.RedisTimeoutError | TimeoutError):
        return redis_errors.TimeoutError(str(exc))
    if isinstance(exc, errors.CrossSlotError):
        return redis_errors.RedisClusterException(str(exc))
    if isinstance(exc, errors.ClusterDownError):
        return redis_errors.ClusterDownError(str(exc))
    if isinstance(exc, errors.RedisConnectionError | errors.TLSError):
        return redis_errors.ConnectionError(str(exc))
    if isinstance(exc, errors.UnsafeCommandError | errors.ConfigurationError):
        return redis_errors.DataError(str(exc))
    return exc
