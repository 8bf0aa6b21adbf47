"""The order of one writer's label writes, so a retried write is never undone by its own past.

The page aborts a label write that gets no answer within its deadline and sends it again.
Should the abandoned attempt still reach the server later, after newer writes, applying it
would bring back an old label. So every attempt carries `X-Alctl-Write: <writer>/<n>` with n
rising per writer, and an attempt whose n is not above the last one applied is refused.
"""

from __future__ import annotations

import re
from collections import OrderedDict

HEADER = "x-alctl-write"
_TICKET = re.compile(r"([0-9A-Za-z-]{1,64})/([0-9]{1,15})")
WRITERS_KEPT = 1000  # one per page load; the oldest are forgotten


class WriteTicketError(ValueError):
    status = 400


class SupersededWrite(Exception):
    """An attempt older than one already applied for the same writer; nothing was written."""

    status = 409


def parse_ticket(value: str | None) -> tuple[str, int] | None:
    """`"<writer>/<n>"` -> (writer, n); None when the header is absent."""
    if value is None:
        return None
    match = _TICKET.fullmatch(value.strip())
    if match is None:
        raise WriteTicketError(
            f"X-Alctl-Write must look like <writer>/<number>, got {value[:80]!r}"
        )
    return match.group(1), int(match.group(2))


class WriteOrder:
    """Last applied attempt number per writer. Not locked: call it under the label lock, so
    the check and the write it admits are one step."""

    def __init__(self, keep: int = WRITERS_KEPT) -> None:
        self._last: OrderedDict[str, int] = OrderedDict()
        self._keep = keep

    def admit(self, ticket: tuple[str, int] | None) -> None:
        """Record `ticket`, or raise SupersededWrite when a later attempt was already applied."""
        if ticket is None:
            return
        writer, n = ticket
        last = self._last.get(writer)
        if last is not None and n <= last:
            raise SupersededWrite(
                f"write {n} of this page arrived after its write {last}; it was not applied"
            )
        self._last[writer] = n
        self._last.move_to_end(writer)
        while len(self._last) > self._keep:
            self._last.popitem(last=False)
