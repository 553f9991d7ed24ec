"""rediscluster_opt: a multiplexed asyncio Redis Cluster client with swappable hot-path
stages, and the lab that measures each stage.

    from rediscluster_opt import ClusterClient, Stages
    client = await ClusterClient.connect(["127.0.0.1:7000"], stages=Stages.optimized())

`$RCOPT_BUILD` (pure, compiled or auto) picks the pure or the compiled build of the hot
path when the package is first imported; see `rediscluster_opt.compiled`.
"""

from .compiled import select as _select_build

_select_build()  # before any module of the hot path is imported

from .client import ClusterClient, Pipeline, StandaloneClient  # noqa: E402
from .errors import (  # noqa: E402
    AuthenticationError,
    ClusterDownError,
    ClusterError,
    CrossSlotError,
    MaybeAppliedError,
    NotSentError,
    OutOfOrderError,
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
from .stages import Stages  # noqa: E402
from .tls import TLSSettings, tls_context  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "AuthenticationError",
    "ClusterClient",
    "ClusterDownError",
    "ClusterError",
    "CrossSlotError",
    "MaybeAppliedError",
    "NotSentError",
    "OutOfOrderError",
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
