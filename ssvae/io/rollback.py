"""Going back one checkpoint: `ssvae.prev.ckpt` becomes `ssvae.ckpt` again.

The two files swap places, so the checkpoint that is rolled away from stays as the previous
one and a second rollback undoes the first. The previous file is loaded and checked in full
before anything moves; the history CSV is rewritten from the restored checkpoint's own
history, which is the truth about which epochs it holds. When the CSV cannot be written (a
full disk) the files swap back, so a refused rollback has changed nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from ssvae.io.atomic import fsync_dir
from ssvae.io.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from ssvae.io.checkpoint_integrity import file_problem, previous_path
from ssvae.io.checkpoint_lock import checkpoint_owner


def rollback_checkpoint(
    path: Path,
    dataset: str,
    history_csv: Path | None = None,
    *,
    what: str = "a rollback",
) -> Checkpoint:
    """Restore the previous checkpoint; CheckpointError when there is none or it is unusable,
    CheckpointBusy when a training session (or another rollback) holds the checkpoint, OSError
    (nothing changed) when the disk refuses.

    The whole swap holds the checkpoint's lock (`what` names this holder to others), so a
    session that is still saving can never land on top of it, nor a second rollback between
    its two renames. The loss-curve PNG is the caller's to redraw (`ckpt.history`).
    """
    problem = file_problem(path)
    if problem is not None:
        raise CheckpointError(path, f"{problem}; move it away, then roll back")
    with checkpoint_owner(path, what):
        previous = previous_path(path)
        ckpt = load_checkpoint(previous, dataset=dataset)
        if ckpt is None:
            raise CheckpointError(
                previous,
                "no previous checkpoint to go back to (one is kept each time training saves)",
            )
        had_current = path.exists()
        swap_files(path, previous)
        ckpt.path = path
        if history_csv is not None:
            from ssvae.io.history import write_history_csv

            try:
                write_history_csv(history_csv, ckpt.history)
            except OSError:  # back as they were: the refusal changed nothing
                if had_current:
                    swap_files(path, previous)
                else:
                    os.replace(path, previous)
                raise
    return ckpt


def swap_files(path: Path, previous: Path) -> None:
    """`previous` takes `path`'s place and `path`'s old file becomes `previous`.

    Every step is a rename, so a crash leaves either file complete: at worst both names
    hold the restored checkpoint's bytes, or a `.tmp` link that start-up cleans away.
    """
    if not path.exists():
        os.replace(previous, path)
        fsync_dir(path.parent)
        return
    held = path.with_name(f".{path.name}.rollback.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        held.unlink()
    try:
        os.link(path, held)
    except OSError:  # no hard links on this file system
        shutil.copy2(path, held)
    try:
        os.replace(previous, path)
        os.replace(held, previous)
    finally:
        with contextlib.suppress(FileNotFoundError):
            held.unlink()
    fsync_dir(path.parent)
