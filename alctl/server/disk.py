"""A write the disk refuses (read-only, full, no permission): 507 naming the file, nothing changed.

Every route that writes to the workspace (labels, report, rollback) answers the same way,
instead of a 500 with a traceback in the server's terminal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class DiskRefused(Exception):
    """The disk refused a write; the workspace's files are as they were."""

    status = 507


def refusal_message(path: Path, exc: OSError) -> str:
    return (
        f"cannot write {path} ({exc.strerror or exc}); nothing was changed: "
        "free some space or make it writable, then retry"
    )


@contextlib.contextmanager
def refused_by_disk(path: Path) -> Iterator[None]:
    """Turn an OSError inside the block into DiskRefused naming `path` (one that carries its
    own HTTP status, such as the checkpoint lock's 507, keeps its words)."""
    try:
        yield
    except OSError as exc:
        if hasattr(exc, "status"):
            raise
        raise DiskRefused(refusal_message(path, exc)) from exc
