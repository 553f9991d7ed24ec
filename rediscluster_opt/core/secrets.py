"""Credentials never reach a message: a server may echo a setup command's arguments
(`ERR unknown command 'AUTH', with args beginning with: '<password>'` where AUTH is
renamed away), and that text would otherwise travel into exceptions, logs and the CLI."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MASK", "mask_secrets"]

MASK = "***"


def mask_secrets(text: str, secrets: Iterable[str | None]) -> str:
    """`text` with every occurrence of each non-empty secret replaced by `MASK`; the
    longest first, so a password that contains the username is masked whole."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
