"""The REST benchmark's SQLite store: schema, deterministic seed, and the queries.

Same data model as the original benchmark: 10,000 users from a fixed random seed (42),
`journal_mode=WAL` set once, `busy_timeout=5000` on every connection.
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

__all__ = ["SEED_ROWS", "connect", "seed_database"]

SEED_ROWS = 10_000
SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    bio TEXT,
    created_at TEXT
)
"""
FIRST = ["Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim"]
LAST = ["Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lee"]
DOMAINS = ["example.com", "example.org", "example.net"]
COLUMNS = "id, name, email, bio, created_at"


def connect(path: Path | str) -> sqlite3.Connection:
    connection = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
    connection.execute("PRAGMA busy_timeout=5000")
    return connection


def seed_database(path: Path | str, rows: int = SEED_ROWS) -> None:
    """(Re)create the users table with `rows` deterministic rows; safe while apps hold
    connections (delete + insert in one transaction)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(42)
    connection = connect(path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(SCHEMA)
        connection.execute("BEGIN")
        connection.execute("DELETE FROM users")
        connection.executemany(
            "INSERT INTO users (id, name, email, bio, created_at) VALUES (?, ?, ?, ?, ?)",
            (
                (
                    i,
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    f"user{i}@{DOMAINS[i % len(DOMAINS)]}",
                    " ".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(5, 20))),
                    f"2025-01-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00",
                )
                for i in range(1, rows + 1)
            ),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def user_json(row: tuple[Any, ...]) -> dict[str, Any]:
    return {"id": row[0], "name": row[1], "email": row[2], "bio": row[3], "createdAt": row[4]}
