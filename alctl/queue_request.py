"""A queue request's two values, checked once for `GET /api/queue` and `alctl suggest`."""

from __future__ import annotations

from typing import Any

from ssvae.select.queue import MAX_HEAD
from ssvae.select.ranking import DEFAULT_STRATEGY, STRATEGIES


def check_request(strategy: str | None, n: Any) -> tuple[str, int]:
    """(strategy, n) validated; ValueError in plain words."""
    strategy = strategy or DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    try:
        count = int(n)
    except (TypeError, ValueError):
        raise ValueError(f"n must be a whole number 1..{MAX_HEAD}, got {n!r}") from None
    if not 1 <= count <= MAX_HEAD or str(n).strip() not in (str(count), f"+{count}"):
        raise ValueError(f"n must be a whole number 1..{MAX_HEAD}, got {n!r}")
    return strategy, count
