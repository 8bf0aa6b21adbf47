"""`alctl label --import FILE`: a labels CSV read as it streams, with a size limit and progress.

Labels for all 60,000 images of a split take under 1 MB, even with the older tool's extra
columns; an import of more than MAX_IMPORT_BYTES is refused at once with words saying so
(a 1 GB file took 5 minutes and 4.9 GB of memory). Below that the file is read line by line,
never held whole, and `progress(bytes_read, size)` hears about every MiB. Every row is
checked (`strict`) before anything is applied: the whole file or nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from ssvae.io.labels import LabelError, parse_label_lines

MAX_IMPORT_BYTES = 16_000_000  # 16 MB, as the refusal says
PROGRESS_STEP_BYTES = 1024 * 1024

Progress = Callable[[int, int], None]


def read_import(
    path: str | os.PathLike[str],
    n_samples: int,
    *,
    max_bytes: int = MAX_IMPORT_BYTES,
    progress: Progress | None = None,
) -> dict[int, int]:
    """{serial: label} of an import file, every row checked; LabelError naming what to fix."""
    path = Path(path)
    try:
        size = os.stat(path).st_size
        if not path.is_file():
            raise LabelError(f"cannot read labels file {path}: not a regular file")
        if size > max_bytes:
            raise LabelError(
                f"{path} is {size / 1e6:,.1f} MB, over the {max_bytes / 1e6:.0f} MB an import "
                "takes (labels for all 60,000 images fit in under 1 MB): keep one Serial,label "
                "row per image"
            )
        with path.open("rb") as handle:
            lines = _decoded_lines(handle, str(path), size, progress)
            return parse_label_lines(lines, n_samples, source=str(path), strict=True)
    except OSError as exc:
        raise LabelError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc


def _decoded_lines(
    handle: BinaryIO, source: str, size: int, progress: Progress | None
) -> Iterator[str]:
    done, next_report = 0, PROGRESS_STEP_BYTES
    encoding = "utf-8-sig"  # a BOM at the very start is not part of the header
    for raw in handle:
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise LabelError(
                f"{source}: not a text CSV file ({exc.reason} at byte {done + exc.start})"
            ) from exc
        encoding = "utf-8"
        done += len(raw)
        if progress is not None and done >= next_report:
            progress(done, size)
            next_report = done + PROGRESS_STEP_BYTES
        yield line
    if progress is not None and done >= PROGRESS_STEP_BYTES:
        progress(done, size)  # the end of a file big enough to have been reported on
