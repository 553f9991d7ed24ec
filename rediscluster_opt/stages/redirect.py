"""Redirect-check stage (US-007): is this reply a MOVED/ASK redirect?

Runs on every reply in cluster mode, so its cost on the common no-redirect path is what
the story measures. Both variants return a `Redirect` or None and agree on every reply.
"""

from __future__ import annotations

import re

from ..core.redirect import Redirect, parse_redirect
from ..core.resp import ReplyError

__all__ = ["redirect_first_byte", "redirect_regex"]

# Anchored on the "-" that marks an error in the text rendering below, so a bulk string
# that happens to read "MOVED 1 h:2" can never match.
_REDIRECT = re.compile(r"-(MOVED|ASK) (\d+) (\S*):(\d+)\Z")


def _as_text(reply: object) -> str | None:
    if isinstance(reply, ReplyError):
        return "-" + str(reply)
    if isinstance(reply, bytes):
        return "+" + reply.decode("utf-8", "replace")
    return None


def redirect_regex(reply: object) -> Redirect | None:
    """Baseline: render every string reply as text and regex-match it."""
    text = _as_text(reply)
    if text is None:
        return None
    match = _REDIRECT.match(text)
    if match is None:
        return None
    # The regex finds candidates; the strict parser has the last word on what is valid.
    return parse_redirect(text[1:])


def redirect_first_byte(reply: object) -> Redirect | None:
    """Optimized: a type check; only error replies starting with M or A are parsed."""
    if type(reply) is ReplyError:
        message = reply.args[0]
        if message[:1] in ("M", "A"):
            return parse_redirect(message)
    return None
