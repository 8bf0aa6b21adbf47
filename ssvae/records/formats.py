"""Numbers as people read them, the same way in the scripts, the CLI and the report.

`plural` is the one place the Python side counts nouns ("1 epoch", "2 epochs"); the page
has its own in static/js/plural.js.

Every function takes whatever a record or an API answer holds (None, NaN, a string) and
shows something: `missing` for what is not a finite number. Standard library only.
"""

from __future__ import annotations

import math
from typing import Any


def finite(value: Any) -> float | None:
    """`value` as a finite float, else None (None, NaN, inf, text)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def number(value: Any, digits: int = 4, missing: str = "–") -> str:
    """Significant digits: `0.001234`, `123.4`."""
    v = finite(value)
    return missing if v is None else f"{v:.{digits}g}"


def fixed(value: Any, digits: int = 2, missing: str = "-") -> str:
    """Fixed decimals: `123.40`."""
    v = finite(value)
    return missing if v is None else f"{v:.{digits}f}"


def percent(value: Any, digits: int = 1, missing: str = "–") -> str:
    """A fraction as a percentage with fixed decimals: 0.1234 -> `12.3%`."""
    v = finite(value)
    return missing if v is None else f"{v:.{digits}%}"


def percent_short(value: Any, significant: int = 3, missing: str = "?") -> str:
    """A fraction as a percentage with significant digits: 0.000833 -> `0.0833%`."""
    v = finite(value)
    return missing if v is None else f"{v * 100:.{significant}g}%"


def duration(seconds: Any, missing: str = "?") -> str:
    """`83` -> `1:23`, `3723` -> `1:02:03`."""
    v = finite(seconds)
    if v is None or v < 0:
        return missing
    hours, rest = divmod(round(v), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# The few nouns whose plural is not noun + "s".
_IRREGULAR = {"batch": "batches", "class": "classes"}


def plural(count: object, noun: str, many: str | None = None) -> str:
    """`count` and `noun`, the noun plural unless the count is exactly one.

    Whole numbers get thousands separators. A count that is not a number (a field missing
    from an old record, shown as "?") is printed as given, with the plural.
    """
    word = many or _IRREGULAR.get(noun, noun + "s")
    if isinstance(count, bool) or not isinstance(count, (int, float)):
        return f"{count} {word}"
    if count == 1:
        word = noun
    if isinstance(count, int) or count.is_integer():
        return f"{int(count):,} {word}"
    return f"{count:g} {word}"
