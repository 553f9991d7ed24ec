"""The public clients."""

from .client import Client
from .cluster import ClusterClient
from .pipeline import Pipeline
from .standalone import StandaloneClient

__all__ = ["Client", "ClusterClient", "Pipeline", "StandaloneClient"]
