"""Slot-hash stage (US-002): key bytes -> slot, hash tags included.

All variants apply the same hash-tag rule; they differ only in how CRC16 is computed.
"""

from __future__ import annotations

from binascii import crc_hqx

from ..core.slots import SLOT_MASK, crc16_bitwise, crc16_table, hash_tag
from .traits import describes

__all__ = ["slot_bitwise", "slot_crc_hqx", "slot_table"]


def slot_bitwise(key: bytes) -> int:
    """Baseline: the textbook bit-by-bit CRC16 loop in Python."""
    return crc16_bitwise(hash_tag(key)) & SLOT_MASK


def slot_table(key: bytes) -> int:
    """Middle ground: a 256-entry table, one lookup per byte, still in Python."""
    return crc16_table(hash_tag(key)) & SLOT_MASK


@describes(
    inline="""
        if b"{" in key:
            slot = slot_of(key)
        else:
            slot = crc_hqx(key, 0) & SLOT_MASK
    """
)
def slot_crc_hqx(key: bytes) -> int:
    """Optimized: CRC16/XMODEM in C via binascii, with the hash-tag scan inlined."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            key = key[start + 1 : end]
    return crc_hqx(key, 0) & SLOT_MASK
