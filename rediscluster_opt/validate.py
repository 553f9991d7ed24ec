"""The one check for user-given numbers, so every entry point words its errors the same
way: "<name> must be a positive integer, got 2.5". A leaf module: imports nothing."""

from __future__ import annotations

import math

__all__ = ["check_number"]


def check_number(
    name: str,
    value: object,
    *,
    integer: bool = False,
    allow_zero: bool = False,
    error: type[Exception] = ValueError,
    unit: str = "",
    whole: bool = False,
) -> float:
    """`value` if it is a finite number (an int when `integer`; never a bool) above zero,
    or at zero when `allow_zero`; otherwise `error` naming `name`, the rule and the value
    (NaN and the infinities are refused: a timeout of NaN would expire every command).
    `whole`: an int or a float without a fraction (2.0, not 2.5), for a tool that counts
    whole units whatever it is given."""
    kind = "integer" if integer else "whole number" if whole else "number"
    rule = f"must be {'an' if integer else 'a'} {kind} >= 0" if allow_zero else f"must be a positive {kind}"
    if unit:
        rule += f" of {unit}"
    accepted = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, accepted):
        raise error(f"{name} {rule}, got {value!r}")
    fraction = whole and math.isfinite(value) and value != int(value)  # int(inf) raises
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero) or fraction:
        raise error(f"{name} {rule}, got {value!r}")
    return value
