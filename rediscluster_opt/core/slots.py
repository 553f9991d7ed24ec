"""Key -> hash slot, per the Redis Cluster spec (CRC16/XMODEM of the key or its hash tag).

Three CRC16 implementations of the same function live here so the slot-hash stage can
compare them: bit by bit (the textbook loop), table-driven (one lookup per byte), and
`binascii.crc_hqx`, which is exactly CRC16/XMODEM computed in C.
"""

from __future__ import annotations

import binascii

__all__ = [
    "SLOT_COUNT",
    "crc16_bitwise",
    "crc16_c",
    "crc16_table",
    "hash_tag",
]

# Cluster spec, "Key distribution model": 16384 slots, slot = CRC16(key) mod 16384.
SLOT_COUNT = 16384
SLOT_MASK = SLOT_COUNT - 1
_POLY = 0x1021  # CRC16-CCITT polynomial, initial value 0, no reflection (XMODEM)


def hash_tag(key: bytes) -> bytes:
    """The part of `key` that is hashed: the text between the first ``{`` and the next
    ``}`` when that text is non-empty, else the whole key (cluster spec, "Hash tags")."""
    start = key.find(b"{")
    if start >= 0:
        end = key.find(b"}", start + 1)
        if end > start + 1:
            return key[start + 1 : end]
    return key


def crc16_bitwise(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ _POLY) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _make_table() -> tuple[int, ...]:
    return tuple(crc16_bitwise(bytes([i])) for i in range(256))


_TABLE = _make_table()


def crc16_table(data: bytes) -> int:
    crc = 0
    table = _TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def crc16_c(data: bytes) -> int:
    return binascii.crc_hqx(data, 0)
