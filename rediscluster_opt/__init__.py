"""rediscluster_opt: a multiplexed asyncio Redis Cluster client with swappable hot-path
stages, and the lab that measures each stage.

    from rediscluster_opt import ClusterClient, Stages
    client = await ClusterClient.connect(["127.0.0.1:7000"], stages=Stages.optimized())
"""

from .client import ClusterClient, Pipeline, StandaloneClient
from .errors import (
    AuthenticationError,
    ClusterDownError,
    ClusterError,
    CrossSlotError,
    MaybeAppliedError,
    NotSentError,
    ProtocolError,
    RedisConnectionError,
    RedisError,
    RedisTimeoutError,
    ResponseError,
    RetriesExhausted,
    TLSError,
    TooManyRedirects,
    UnsafeCommandError,
    WrongEventLoopError,
)
from .stages import Stages
from .tls import TLSSettings, tls_context

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ClusterClient",
    "ClusterDownError",
    "ClusterError",
    "CrossSlotError",
    "MaybeAppliedError",
    "NotSentError",
    "Pipeline",
    "ProtocolError",
    "RedisConnectionError",
    "RedisError",
    "RedisTimeoutError",
    "ResponseError",
    "RetriesExhausted",
    "Stages",
    "StandaloneClient",
    "TLSError",
    "TLSSettings",
    "TooManyRedirects",
    "UnsafeCommandError",
    "WrongEventLoopError",
    "tls_context",
]
