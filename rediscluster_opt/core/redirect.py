"""Classifying cluster error replies: MOVED/ASK redirects and retryable states.

Parsing is strict on purpose: ``MOVED <slot> <host>:<port>`` with single spaces, a slot in
range, a port in 0..65535 and nothing trailing. A malformed redirect is treated as an
ordinary error reply rather than sending a command to a guessed address.
"""

from __future__ import annotations

from typing import NamedTuple

from .slots import SLOT_COUNT

__all__ = ["Redirect", "error_code", "parse_redirect"]


class Redirect(NamedTuple):
    kind: str  # "MOVED" or "ASK"
    slot: int
    host: str  # "" when the server does not know its peer's endpoint (use the current host)
    port: int

    def address(self, current_host: str) -> str:
        return f"{self.host or current_host}:{self.port}"


def _decimal(text: str) -> int | None:
    # str.isdigit accepts non-ASCII digits; the wire format only has ASCII ones.
    return int(text) if text.isascii() and text.isdigit() else None


def parse_redirect(message: str) -> Redirect | None:
    """`Redirect` for a MOVED/ASK error message, None for anything else."""
    kind, sep, rest = message.partition(" ")
    if kind not in ("MOVED", "ASK") or not sep:
        return None
    slot_text, sep, endpoint = rest.partition(" ")
    host, colon, port_text = endpoint.rpartition(":")
    slot, port = _decimal(slot_text), _decimal(port_text)
    if not sep or not colon or slot is None or port is None:
        return None
    if slot >= SLOT_COUNT or port > 65535 or " " in host:
        return None
    return Redirect(kind, slot, host, port)


def error_code(message: str) -> str:
    """The first word of an error reply: ERR, WRONGTYPE, TRYAGAIN, CLUSTERDOWN, ..."""
    return message.split(" ", 1)[0]
