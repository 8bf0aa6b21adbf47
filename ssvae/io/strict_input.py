"""Strict reading of numbers people type, and short echoes of what they sent.

A serial or label is written with the ASCII digits 0-9 and nothing else: Python's `int()`
also takes `'٣'`, `'５'`, `'+5'`, `'1_0'`, `' 5'` and `'-0'`, which no user means as a row
number. Error messages show what was sent, clipped, so a 64 KB value is not echoed back.
Standard library only (the CLI's fast path uses it).
"""

from __future__ import annotations

ECHO_LIMIT = 40  # characters of a rejected value shown in an error message


def clip(text: str, limit: int = ECHO_LIMIT) -> str:
    """`text` cut to `limit` characters, with the full length noted when it was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text):,} characters)"


def is_decimal(text: str) -> bool:
    """True for a non-empty run of the ASCII digits 0-9 only."""
    return text.isascii() and text.isdigit()


def parse_decimal(text: str, what: str) -> int:
    """The integer `text` spells with ASCII digits; ValueError naming `what` otherwise."""
    if not is_decimal(text):
        raise ValueError(f"{what} must be written with the digits 0-9 only, got {clip(repr(text))}")
    return int(text)


def echo(value: object, limit: int = ECHO_LIMIT) -> str:
    """Any refused value as a message quotes it: its repr clipped, and a 401-digit integer
    as "a 401-digit integer" (repr of one beyond 4,300 digits would itself raise)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**limit:
        try:
            return f"a {len(str(abs(value))):,}-digit integer"
        except ValueError:
            return "an integer of thousands of digits"
    return clip(repr(value), limit)
