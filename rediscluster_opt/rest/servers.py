"""The ASGI servers that can serve the REST benchmark's app: a leaf module, so the
command line can list them without importing the app (orjson, granian: the lab extras)."""

from __future__ import annotations

__all__ = ["APP", "SERVERS"]

# How the app is served. Measured side by side (GET single / GET list, standalone, our
# optimized client, 2 interleaved repeats of 5 s): granian 17.9k / 6.5k req/s, uvicorn with
# httptools 10.2k / 4.9k, uvicorn with h11 3.4k / 2.3k. granian parses HTTP in Rust, which
# leaves the one Python event loop to the app and its Redis client, so it is the default.
SERVERS = {
    "uvicorn": ["-m", "uvicorn", "--factory", "--loop", "uvloop", "--http", "httptools"],
    "uvicorn-h11": ["-m", "uvicorn", "--factory", "--loop", "uvloop", "--http", "h11"],
    "granian": ["-m", "granian", "--interface", "asgi", "--factory", "--loop", "uvloop"],
}
APP = "rediscluster_opt.rest.app:create_app"
