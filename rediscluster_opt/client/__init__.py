"""The public clients."""

from .cluster import ClusterClient
from .standalone import StandaloneClient

__all__ = ["ClusterClient", "StandaloneClient"]
