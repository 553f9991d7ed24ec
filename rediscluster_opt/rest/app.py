"""The REST benchmark app: users in SQLite behind a Redis cache-aside layer, as a plain
ASGI application. One code path for every backend; only the cache adapter differs.

Configuration (environment): RCOPT_BACKEND (baseline | optimized | optimized:stage=v,... |
redis-py | coredis | valkey-glide), RCOPT_MODE (standalone | cluster), RCOPT_TARGET (a
`Target` as JSON: seeds, standalone, credentials' variable, TLS; default the local
cluster), RCOPT_DB (SQLite path). Cache keys live under the lab's prefix (rcopt:user:N).

    granian --interface asgi --factory --loop uvloop rediscluster_opt.rest.app:create_app
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
from typing import Any
from urllib.parse import parse_qs

import orjson

from ..bench.adapters import Adapter, ClientConfig, Target, open_adapter
from ..defaults import KEY_PREFIX
from .data import COLUMNS, connect, user_json

__all__ = ["RestApp", "create_app"]

CACHE_TTL_MS = 60_000
USER_PATH = re.compile(r"^/users/(\d+)$")
USER_KEY = f"{KEY_PREFIX}user:%d".encode()
JSON = [(b"content-type", b"application/json")]


# What a handler answers: the status, the body and the extra headers.
Response = tuple[int, bytes, list[Any]]


class RestApp:
    def __init__(self, config: ClientConfig, mode: str, target: Target, db_path: str) -> None:
        self.config, self.mode, self.target, self.db_path = config, mode, target, db_path
        self.cache: Adapter | None = None
        self.db: sqlite3.Connection | None = None
        self.counters = {"cache_hits": 0, "cache_misses": 0, "cache_errors": 0}

    @classmethod
    def from_environment(cls) -> RestApp:
        config = ClientConfig.parse(os.environ.get("RCOPT_BACKEND", "optimized"))
        mode = os.environ.get("RCOPT_MODE", "standalone")
        if mode not in ("standalone", "cluster"):
            raise ValueError(f"RCOPT_MODE must be standalone or cluster, got {mode!r}")
        target = Target(**json.loads(os.environ.get("RCOPT_TARGET", "{}")))
        return cls(config, mode, target, os.environ.get("RCOPT_DB", ".rcopt/rest/bench.db"))

    async def startup(self) -> None:
        self.db = connect(self.db_path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.cache = await open_adapter(self.config, self.mode, self.target, concurrency=100)

    async def shutdown(self) -> None:
        if self.cache is not None:
            await self.cache.close()
        if self.db is not None:
            self.db.close()

    # -- ASGI -------------------------------------------------------------------------
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        status, body, headers = await self.handle(
            scope["method"], scope["path"], scope.get("query_string", b""), receive
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # the server reports it and exits
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def handle(self, method: str, path: str, query: bytes, receive: Any) -> Response:
        match = USER_PATH.match(path)
        if match:
            user_id = int(match.group(1))
            if method == "GET":
                return await self.get_user(user_id)
            if method == "PUT":
                return await self.update_user(user_id, await _body(receive))
            if method == "DELETE":
                return await self.delete_user(user_id)
            return _error(405, "Method not allowed")
        if path == "/users":
            if method == "GET":
                return self.list_users(query)
            if method == "POST":
                return await self.create_user(await _body(receive))
            return _error(405, "Method not allowed")
        if path == "/_stats" and method == "GET":
            return 200, orjson.dumps(self.counters), JSON
        return _error(404, "Not found")

    # -- endpoints --------------------------------------------------------------------
    async def get_user(self, user_id: int) -> Response:
        key = USER_KEY % user_id
        try:
            cached = await self.cache.get(key)  # type: ignore[union-attr]  # opened in startup()
        except Exception:  # a cache outage falls back to SQLite, counted, never a 500
            self.counters["cache_errors"] += 1
            cached = None
        if cached is not None:
            self.counters["cache_hits"] += 1
            return 200, cached, JSON  # the cached JSON bytes, as they are
        self.counters["cache_misses"] += 1
        row = self.db.execute(f"SELECT {COLUMNS} FROM users WHERE id = ?", (user_id,)).fetchone()  # type: ignore[union-attr]  # opened in startup()
        if row is None:
            return _error(404, "User not found")
        body = orjson.dumps(user_json(row))
        try:
            await self.cache.set(key, body, px=CACHE_TTL_MS)  # type: ignore[union-attr]  # opened in startup()
        except Exception:
            self.counters["cache_errors"] += 1
        return 200, body, JSON

    def list_users(self, query: bytes) -> Response:
        params = parse_qs(query.decode("latin-1"))
        try:
            page = int(params.get("page", ["1"])[0])
            limit = min(int(params.get("limit", ["20"])[0]), 100)
        except ValueError:
            return _error(400, "page and limit must be integers")
        if page < 1 or limit < 1:
            return _error(400, "page and limit must be positive")
        rows = self.db.execute(  # type: ignore[union-attr]  # opened in startup()
            f"SELECT {COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?", (limit, (page - 1) * limit)
        ).fetchall()
        return 200, orjson.dumps({"page": page, "limit": limit, "data": [user_json(r) for r in rows]}), JSON

    async def create_user(self, body: bytes) -> Response:
        fields = _user_fields(body, require_all=True)
        if isinstance(fields, tuple):
            return fields
        try:
            row = self.db.execute(  # type: ignore[union-attr]  # opened in startup()
                f"INSERT INTO users (name, email, bio, created_at) VALUES (?, ?, ?, "
                f"strftime('%Y-%m-%dT%H:%M:%S', 'now')) RETURNING {COLUMNS}",
                (fields["name"], fields["email"], fields.get("bio")),
            ).fetchone()
        except sqlite3.IntegrityError:
            return _error(409, "Email already exists")
        await self._invalidate(row[0])
        headers = [*JSON, (b"location", b"/users/%d" % row[0])]
        return 201, orjson.dumps(user_json(row)), headers

    async def update_user(self, user_id: int, body: bytes) -> Response:
        fields = _user_fields(body, require_all=False)
        if isinstance(fields, tuple):
            return fields
        if not fields:
            return _error(400, "Give at least one of name, email, bio")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        try:
            row = self.db.execute(  # type: ignore[union-attr]  # opened in startup()
                f"UPDATE users SET {assignments} WHERE id = ? RETURNING {COLUMNS}",
                (*fields.values(), user_id),
            ).fetchone()
        except sqlite3.IntegrityError:
            return _error(409, "Email already exists")
        if row is None:
            return _error(404, "User not found")
        await self._invalidate(user_id)
        return 200, orjson.dumps(user_json(row)), JSON

    async def delete_user(self, user_id: int) -> Response:
        deleted = self.db.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount  # type: ignore[union-attr]  # opened in startup()
        if not deleted:
            return _error(404, "User not found")
        await self._invalidate(user_id)
        return 200, b'{"message":"User deleted"}', JSON

    async def _invalidate(self, user_id: int) -> None:
        try:
            await self.cache.delete(USER_KEY % user_id)  # type: ignore[union-attr]  # opened in startup()
        except Exception:
            self.counters["cache_errors"] += 1


async def _body(receive: Any) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _error(status: int, message: str) -> Response:
    return status, orjson.dumps({"error": message}), JSON


def _user_fields(body: bytes, *, require_all: bool) -> dict[str, Any] | Response:
    """The JSON body's user fields, or an error response naming what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(400, "Malformed JSON body")
    if not isinstance(data, dict):
        return _error(400, "The body must be a JSON object")
    missing = [name for name in ("name", "email") if require_all and not data.get(name)]
    if missing:
        return _error(400, f"Missing field(s): {', '.join(missing)}")
    fields = {name: data[name] for name in ("name", "email", "bio") if name in data}
    wrong = [name for name, value in fields.items() if value is not None and not isinstance(value, str)]
    if wrong:
        return _error(400, f"Field(s) must be strings: {', '.join(wrong)}")
    return fields


def create_app() -> RestApp:
    """ASGI factory for servers (`--factory`): the app configured from the environment."""
    return RestApp.from_environment()
