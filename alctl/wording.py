"""Counted nouns for people to read: "1 epoch", "2 epochs", "12,000 labels".

The one place the CLI, the server's start-up lines and the report pluralise (the page has
its own in static/js/plural.js), so no message says "1 epochs".
"""

from __future__ import annotations

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
