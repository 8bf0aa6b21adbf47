"""Start-up repairs after a crash: the history CSV from the checkpoint, and orphaned temp files.

A `kill -9` between replacing the checkpoint and appending to `history.csv` leaves the CSV
short of that session's epochs; the checkpoint's own history is the truth, so the CSV is
rewritten from it whenever the two disagree. An atomic write killed half-way leaves its temp
file (`.<name>.<random>.tmp`, see ssvae.io.atomic) behind for good; these are removed once no
process has them open, so a writer that is alive right now is never disturbed.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ssvae.io.checkpoint import checkpoint_records
from ssvae.io.workspace import Workspace

SETTLE_S = 1.0  # a temp file this fresh may be between its writer's close and rename
NO_PROC_AGE_S = 600.0  # without /proc, only temp files older than this are taken for orphans


def repair_history_csv(ws: Workspace) -> list[dict[str, Any]] | None:
    """Rewrite history.csv from the checkpoint when they disagree; the records written, else
    None (the caller redraws the loss curves from them)."""
    from ssvae.io.history import read_history_csv, write_history_csv

    truth = checkpoint_records(ws.checkpoint, "history")
    if not truth:
        return None
    try:
        current = read_history_csv(ws.history_csv)
    except (OSError, ValueError, KeyError):
        current = None  # an unreadable CSV is rewritten as well
    if current is not None and _epochs(current) == _epochs(truth):
        return None
    write_history_csv(ws.history_csv, truth)
    return truth


def remove_orphan_temp_files(directories: Iterable[Path]) -> list[Path]:
    """Delete `.*.tmp` files in `directories` that no live process is writing."""
    candidates = [
        path
        for directory in directories
        if directory.is_dir()
        for path in directory.glob(".*.tmp")
        if path.is_file()
    ]
    if not candidates:
        return []
    open_files = _files_open_anywhere()
    now = time.time()
    removed = []
    for path in candidates:
        try:
            age = now - path.stat().st_mtime
        except FileNotFoundError:
            continue  # its writer just renamed it
        in_use = path.resolve() in open_files if open_files is not None else age < NO_PROC_AGE_S
        if in_use or age < SETTLE_S:
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def workspace_temp_dirs(ws: Workspace) -> list[Path]:
    """Where atomic writes of a workspace put their temp files."""
    return [ws.labels_csv.parent, ws.checkpoint.parent, ws.server_file.parent, ws.queue_dir]


def _epochs(records: Iterable[dict[str, Any]]) -> list[tuple[int, int]]:
    out = []
    for record in records:
        try:
            out.append((int(record.get("session", 0)), int(record.get("global_epoch", 0))))
        except (TypeError, ValueError):
            out.append((-1, -1))
    return out


def _files_open_anywhere() -> set[Path] | None:
    """Every file some process has open (Linux /proc); None where that cannot be known."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    found: set[Path] = set()
    for fd_dir in proc.glob("[0-9]*/fd"):
        try:
            entries = os.listdir(fd_dir)
        except OSError:  # gone, or another user's process
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                found.add(Path(os.readlink(fd_dir / entry)))
    return found
