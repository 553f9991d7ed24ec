"""Encoder stage: command arguments -> RESP bytes, once per command on the hot path."""

from __future__ import annotations

from typing import Any

from hiredis import pack_command

from ..core.resp import encode_command
from .traits import describes

__all__ = ["encode_hiredis", "encode_python"]

encode_python = encode_command  # runs as itself, called by the fused route


@describes(
    inline="""
        try:
            payload = pack_command($args)
        except TypeError:
            payload = encode_command($args)
    """
)
def encode_hiredis(args: tuple[Any, ...]) -> bytes:
    """hiredis' C packer; it refuses bytearray (and what we refuse too), so anything it
    rejects goes through the Python encoder, which accepts or names the bad argument."""
    try:
        packed: bytes = pack_command(args)
    except TypeError:
        return encode_command(args)
    return packed
