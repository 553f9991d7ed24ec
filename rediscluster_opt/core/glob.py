"""Redis's glob patterns (SCAN MATCH, KEYS, PSUBSCRIBE) as Python regular expressions.

A cluster-wide scan re-reads the keys of a slot that moved while it ran with CLUSTER
GETKEYSINSLOT, which has no MATCH: the pattern is applied here, with the server's rules
(`stringmatchlen` in util.c): `*` any run of bytes, `?` one byte, `[abc]`, `[^abc]`,
`[a-z]` (either order) and `\\x` for a literal x, inside a class too. No I/O.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["glob_matches"]


def glob_matches(pattern: bytes, subject: bytes) -> bool:
    """Does `subject` match the Redis glob `pattern`?"""
    return _compiled(pattern).match(subject) is not None


@lru_cache(maxsize=64)
def _compiled(pattern: bytes) -> re.Pattern[bytes]:
    out, i, n = [], 0, len(pattern)
    while i < n:
        char = pattern[i : i + 1]
        if char == b"*":
            out.append(b".*")
        elif char == b"?":
            out.append(b".")
        elif char == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i : i + 1]))
        elif char == b"[":
            i, klass = _class(pattern, i + 1)
            out.append(klass)
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile(b"".join(out) + rb"\Z", re.DOTALL)


def _class(pattern: bytes, i: int) -> tuple[int, bytes]:
    """The class starting after `[` at `i`: (index of its `]`, the regex class). As in
    Redis, a class left open runs to the end of the pattern."""
    n = len(pattern)
    negated = pattern[i : i + 1] == b"^"
    if negated:
        i += 1
    items: list[bytes] = []
    while i < n and pattern[i : i + 1] != b"]":
        if pattern[i : i + 1] == b"\\" and i + 1 < n:
            i += 1
            items.append(re.escape(pattern[i : i + 1]))
        elif i + 2 < n and pattern[i + 1 : i + 2] == b"-":
            low, high = sorted((pattern[i], pattern[i + 2]))
            items.append(re.escape(bytes([low])) + b"-" + re.escape(bytes([high])))
            i += 2
        else:
            items.append(re.escape(pattern[i : i + 1]))
        i += 1
    if not items:  # "[]" matches nothing, "[^]" any one byte
        return i, rb"[\x00-\xff]" if negated else rb"(?!)"
    return i, b"[" + (b"^" if negated else b"") + b"".join(items) + b"]"
