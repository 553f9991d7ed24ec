"""The public clients."""

from .cluster import ClusterClient
from .pipeline import Pipeline
from .standalone import StandaloneClient

__all__ = ["ClusterClient", "Pipeline", "StandaloneClient"]
