"""A queue request's two values, checked once for `GET /api/queue` and `alctl suggest`."""

from __future__ import annotations

from typing import Any

from ssvae.io.strict_input import echo, is_decimal
from ssvae.select.queue import MAX_HEAD
from ssvae.select.ranking import DEFAULT_STRATEGY, STRATEGIES


def check_request(strategy: str | None, n: Any) -> tuple[str, int]:
    """(strategy, n) validated; ValueError in plain words."""
    strategy = strategy or DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {echo(strategy)}; choose from {', '.join(STRATEGIES)}")
    count = _count(n)
    if count is None or not 1 <= count <= MAX_HEAD:
        raise ValueError(
            f"n must be a whole number 1..{MAX_HEAD} written with the digits 0-9, got {echo(n)}"
        )
    return strategy, count


def _count(n: Any) -> int | None:
    """An int as it is; text only as plain digits without a leading zero (as serials are:
    `+5`, ` 5`, `05`, `5.0` and `٣` are refused, not read as 5)."""
    if isinstance(n, int) and not isinstance(n, bool):
        return n
    if isinstance(n, str) and is_decimal(n) and len(n) <= 4 and not n.startswith("0"):
        return int(n)
    return None
