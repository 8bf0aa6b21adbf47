"""One owner at a time of a checkpoint: the lock every change to it takes, in every process.

A training session (the server's, `alctl train --no-server`, scripts/train.py) holds
`<checkpoint>.lock` from before it reads the checkpoint until its save is done; a rollback
holds it while the two files swap. A second owner is refused at once, naming who holds the
lock, never queued: a rollback that waited for a session to end would then undo it, and a
session that waited for a rollback would train the model the user just rolled away from.
`fcntl.flock` belongs to the open file, so the lock is free again the moment its holder
exits, however it ends (kill -9 included), and two owners in one process exclude each other
just as two processes do.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ssvae.io.workspace import lock_path_for
from ssvae.records.sessions import now_iso


class Busy(Exception):
    """Someone else holds the lock; `holder` says who (pid, what, since) when known."""

    status = 409

    def __init__(self, message: str, holder: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.holder = holder or {}


class LockUnavailable(OSError):
    """The lock file cannot be made (a read-only or missing directory): nothing can be saved
    there either, so the change is refused before it starts."""

    status = 507

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(
            exc.errno,
            f"cannot take {path} ({exc.strerror}); the directory must be writable "
            "to train into it or roll it back",
            str(path),
        )

    def __str__(self) -> str:
        return str(self.strerror)


class CheckpointBusy(Busy):
    """Someone else is changing the checkpoint; `str()` says who and what to do."""

    def __init__(self, checkpoint: Path, holder: dict[str, Any] | None) -> None:
        self.checkpoint = checkpoint
        super().__init__(
            f"{describe(holder)} is changing {checkpoint}; "
            "wait until it is done (or stop it), then try again",
            holder,
        )


def describe(holder: dict[str, Any] | None) -> str:
    """ "scripts/train.py (pid 42, since 2026-12-07T10:00:00+00:00)", or "another program"."""
    holder = holder or {}
    who = holder.get("what") or "another program"
    facts = [f"pid {holder['pid']}" if holder.get("pid") else "", holder.get("since") or ""]
    detail = ", ".join(f for f in facts if f)
    return f"{who} ({detail})" if detail else who


class OwnerLock:
    """An exclusive, non-waiting `flock` on `path` that tells others who holds it.

    Taken in one thread, released in another if need be (the server takes the checkpoint's
    when a session is asked for; its training thread releases it once the session is
    saved). Use `checkpoint_owner` where a `with` block fits.
    """

    def __init__(self, path: Path, what: str) -> None:
        self.path, self.what = Path(path), what
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take it now or raise (Busy, or the subclass's refusal); never waits."""
        import fcntl

        if self._fd is not None:
            raise RuntimeError(f"{self.path} is held by this lock already")
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise self.refusal(holder) from None
        except BaseException:
            os.close(fd)
            raise
        _write_holder(fd, {"pid": os.getpid(), "what": self.what, "since": now_iso()})
        self._fd = fd

    def _open(self) -> int:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and self.path.is_file():
                # flock needs no write access: the lock still orders everyone; only the
                # note naming the holder cannot be written.
                return os.open(self.path, os.O_RDONLY)
            raise LockUnavailable(self.path, exc) from None

    def refusal(self, holder: dict[str, Any] | None) -> Busy:
        return Busy(f"{describe(holder)} holds {self.path}", holder)

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            _write_holder(fd, None)
            os.close(fd)  # releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None


class CheckpointLock(OwnerLock):
    """The checkpoint's lock: `<checkpoint>.lock`."""

    def __init__(self, checkpoint: Path, what: str) -> None:
        self.checkpoint = Path(checkpoint)
        super().__init__(lock_path_for(self.checkpoint), what)

    def refusal(self, holder: dict[str, Any] | None) -> Busy:
        return CheckpointBusy(self.checkpoint, holder)


@contextlib.contextmanager
def checkpoint_owner(checkpoint: Path, what: str) -> Iterator[None]:
    """Hold the checkpoint's lock for the block; CheckpointBusy when someone else holds it.

    `what` names the holder for the refusal others get, e.g. "alctl serve (pid 42): a
    training session".
    """
    lock = CheckpointLock(checkpoint, what)
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock file `path` now (pid, what, since), or None when it is free."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_holder(fd) or {}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _write_holder(fd: int, facts: dict[str, Any] | None) -> None:
    # Only a note for whoever is refused: the lock itself is the flock, not these bytes.
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        if facts is not None:
            os.pwrite(fd, json.dumps(facts).encode(), 0)


def _read_holder(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 4096, 0)
        facts = json.loads(data.decode()) if data else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return facts if isinstance(facts, dict) else None
