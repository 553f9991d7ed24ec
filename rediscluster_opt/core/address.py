"""Node addresses as plain ``"host:port"`` strings.

Strings rather than tuples because the hot path uses them as dict keys: a str caches its
hash, a tuple recomputes it on every lookup.
"""

from __future__ import annotations

__all__ = ["format_address", "parse_address", "split_address"]


def format_address(host: str, port: int) -> str:
    return f"{host}:{port}"


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def parse_address(text: str) -> str:
    """Validate a user-given ``host:port`` and return it normalised; ValueError names it."""
    if not isinstance(text, str):
        raise ValueError(f"bad address {text!r}: expected a 'host:port' string")
    host, colon, port_text = text.strip().rpartition(":")
    host = host.strip("[]")
    if not colon or not host or not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"bad address {text!r}: expected 'host:port', e.g. '127.0.0.1:7000'")
    port = int(port_text)
    if not 0 < port < 65536:
        raise ValueError(f"bad address {text!r}: port must be in 1..65535")
    return format_address(host, port)
