"""Atomic file replacement: readers see the old file or the new one, never a mix.

Write a temp file in the same directory, fsync it, `os.replace` it over the target, then
fsync the directory so the rename itself survives a power cut. Standard library only,
because the CLI's fast path (discovery file) uses it too.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str],
    mode: str = "wb",
    *,
    perms: int | None = None,
    encoding: str | None = None,
    newline: str | None = None,
    durable: bool = True,
    before_replace: Callable[[], None] | None = None,
) -> Iterator[IO[Any]]:
    """Yield a handle whose content replaces `path` only if the block succeeds.

    `perms=None` keeps the existing file's permission bits (0o644 for a new file); pass 0o600
    for files that hold secrets. `durable=False` skips the fsyncs, for caches that are
    checked when read and recomputed when damaged: on a busy disk an fsync can take seconds,
    and a process cannot even exit while one of its threads waits in it. `before_replace`
    runs once the new content is (durably) on disk, right before it takes `path`'s place (a
    checkpoint keeps its predecessor there).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if perms is None:
        try:
            perms = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            perms = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, perms)
        with os.fdopen(fd, mode, encoding=encoding, newline=newline) as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8, newlines as given) so readers see the old or the new file."""
    with atomic_write(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def fsync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
