"""Real small or read-only disks for tests: a tmpfs mounted on a test's directory (needs root).

CI runs the suite as root; elsewhere these tests skip and say why.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def tiny_disk(path: Path, size: str = "512k") -> Iterator[Path]:
    """A real, small tmpfs (needs root); skipped honestly where it cannot be mounted."""
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tiny tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(disk: Path, mode: str) -> None:
    """Make a `tiny_disk` read-only ("ro") or writable again ("rw")."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(disk)], check=True)


@contextlib.contextmanager
def read_only(disk: Path) -> Iterator[Path]:
    """The block runs with `disk` (a `tiny_disk`) read-only; writable again after."""
    remount(disk, "ro")
    try:
        yield disk
    finally:
        remount(disk, "rw")


def fill(disk: Path) -> None:
    """Fill a `tiny_disk` to the last block."""
    with contextlib.suppress(OSError), (disk / "filler").open("wb") as handle:
        while True:
            handle.write(b"\0" * 4096)
            handle.flush()
