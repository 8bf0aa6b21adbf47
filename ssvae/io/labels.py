"""LabelStore: the user's labels as a CSV (`Serial,label`), shared safely between processes.

Reads are lenient because files from the older tool hold NaN rows, floats such as
`42144.0` / `7.0` and duplicate serials (the last one wins). Writes are clean and
crash-safe: take an exclusive `flock` on `<csv>.lock`, re-read the file, apply the
change, write a temp file in the same directory, fsync, `os.replace`, fsync the
directory. A file that cannot be parsed raises LabelError and is never rewritten.

Imports only the standard library (numpy inside `as_array`), so CLI commands start fast.
"""

from __future__ import annotations

import collections
import contextlib
import csv
import io
import math
import operator
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssvae.config import LABEL_WORDS, N_CLASSES, is_label
from ssvae.io.atomic import atomic_write_text
from ssvae.io.strict_input import clip
from ssvae.io.workspace import lock_path_for

if TYPE_CHECKING:
    import numpy as np

HEADER = "Serial,label"


class LabelError(ValueError):
    """A bad serial, label or labels file; the message says what to fix."""


class LabelStore:
    """Labels of one dataset's training split, kept in a CSV file."""

    def __init__(self, path: str | os.PathLike[str], n_samples: int) -> None:
        if n_samples < 1:
            raise ValueError(f"n_samples must be positive, got {n_samples}")
        self.path = Path(path)
        self.lock_path = lock_path_for(self.path)
        self.n_samples = int(n_samples)
        # Threads of one process share one parse cache; flock serialises processes.
        self._lock = threading.Lock()
        self._cache_key: tuple[int, int, int] | None = None
        self._cache: dict[int, int] = {}

    def read(self) -> dict[int, int]:
        """Current labels {serial: label}; {} when the file does not exist."""
        with self._lock:
            return dict(self._read_unlocked())

    def set(self, serial: int, label: int) -> int | None:
        """Label one serial; returns its previous label (None if it had none)."""
        return self.update({serial: label})[_check_serial(serial, self.n_samples)]

    def delete(self, serial: int) -> int | None:
        """Remove one serial's label; returns the label it had (None if none)."""
        return self.update({serial: None})[_check_serial(serial, self.n_samples)]

    def update(self, changes: Mapping[int, int | None]) -> dict[int, int | None]:
        """Apply many changes at once (None deletes); all are validated before any write.

        Returns {serial: previous label or None}. The file is rewritten only when
        something actually changed.
        """
        checked = {
            _check_serial(s, self.n_samples): (None if v is None else _check_label(v, s))
            for s, v in changes.items()
        }
        with self._lock, self._file_lock():
            labels = dict(self._read_unlocked())
            previous = {serial: labels.get(serial) for serial in checked}
            for serial, label in checked.items():
                if label is None:
                    labels.pop(serial, None)
                else:
                    labels[serial] = label
            if any(previous[s] != v for s, v in checked.items()):
                self._write_unlocked(labels)
        return previous

    def as_array(self) -> np.ndarray:
        """int64 [n_samples] with the label of each serial, -1 where unlabeled."""
        import numpy as np  # not at module level: `alctl label` must start fast

        out = np.full(self.n_samples, -1, dtype=np.int64)
        labels = self.read()
        if labels:
            out[np.fromiter(labels.keys(), np.int64)] = np.fromiter(labels.values(), np.int64)
        return out

    def mtime_ns(self) -> int | None:
        """Modification time of the CSV in ns, None when it does not exist."""
        try:
            return self.path.stat().st_mtime_ns
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        import fcntl  # POSIX only; imported here so the module still imports elsewhere

        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the flock

    def _read_unlocked(self) -> dict[int, int]:
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._cache_key, self._cache = None, {}
            return self._cache
        # os.replace gives every write a new inode, so (inode, mtime, size) names a version.
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key != self._cache_key:
            self._cache = parse_labels_csv(self.path, self.n_samples)
            self._cache_key = key
        return self._cache

    def _write_unlocked(self, labels: dict[int, int]) -> None:
        atomic_write_text(self.path, labels_csv_text(labels))
        st = self.path.stat()
        self._cache_key, self._cache = (st.st_ino, st.st_mtime_ns, st.st_size), labels


def labels_csv_text(labels: Mapping[int, int]) -> str:
    """The clean CSV every writer produces: header `Serial,label`, rows sorted by Serial."""
    return HEADER + "\n" + "".join(f"{s},{labels[s]}\n" for s in sorted(labels))


def label_stats(labels: Mapping[int, int], n_samples: int) -> dict[str, Any]:
    """`{labeled, coverage, per_class}`: the API's `stats` (coverage as a fraction)."""
    counts = collections.Counter(labels.values())
    return {
        "labeled": len(labels),
        "coverage": len(labels) / n_samples if n_samples else 0.0,
        "per_class": [counts.get(c, 0) for c in range(N_CLASSES)],
    }


def parse_labels_csv(
    path_or_text: str | os.PathLike[str] | bytes, n_samples: int, *, strict: bool = False
) -> dict[int, int]:
    """Parse a labels CSV into {serial: label}: leniently, or `strict`ly for imports.

    A Path (or a one-line str naming an existing file) is read from disk; any other
    str/bytes is the CSV text itself. The header may hold extra columns (e.g. a
    pandas index); a file without a header is read as `serial,label` pairs. Strict: every
    non-blank row holds a serial and a label written with the digits 0-9 (`7.0` allowed) or
    an explicit NaN word; anything else (an empty cell, `+5`, `٣`) is a LabelError naming
    the line.
    """
    source, text = _source_and_text(path_or_text)
    return parse_label_lines(io.StringIO(text), n_samples, source=source, strict=strict)


def parse_label_lines(
    lines: Iterable[str], n_samples: int, *, source: str, strict: bool = False
) -> dict[int, int]:
    """`parse_labels_csv` over lines as they come (a file is never held whole: an import
    streams, ssvae.io.label_import); `source` names it in errors."""
    rows = csv.reader(lines)
    first = next(rows, None)
    serial_col, label_col, header_line = 0, 1, 0
    if first is not None and not _looks_numeric(first):
        names = [cell.strip().lower() for cell in first]
        if "serial" not in names or "label" not in names:
            raise LabelError(
                f"{source}: header must name columns Serial and label, got {clip(repr(first))}"
            )
        serial_col, label_col, header_line = names.index("serial"), names.index("label"), 1
    labels: dict[int, int] = {}
    all_rows = rows if header_line else _chain_first(first, rows)
    for line_no, row in enumerate(all_rows, start=header_line + 1):
        if strict:
            if not row:
                continue  # a blank line
            parsed = _strict_row(row, (serial_col, label_col), source, line_no)
            if parsed is None:
                continue
            serial, label = parsed
        else:
            try:  # fast path, inline (60k rows): clean integer cells, as we write them
                serial, label = int(row[serial_col]), int(row[label_col])
            except (ValueError, IndexError):
                parsed = _lenient_row(row, (serial_col, label_col), source, line_no)
                if parsed is None:
                    continue  # a NaN row from the older tool: nothing labeled there
                serial, label = parsed
        if not 0 <= serial < n_samples:
            raise LabelError(f"{source} line {line_no}: serial {serial} outside 0..{n_samples - 1}")
        if not is_label(label):
            raise LabelError(f"{source} line {line_no}: label {label} outside 0..{N_CLASSES - 1}")
        labels.pop(serial, None)  # re-insert so the last duplicate also decides the order
        labels[serial] = label
    return labels


def _lenient_row(
    row: list[str], cols: tuple[int, int], source: str, line_no: int
) -> tuple[int, int] | None:
    if not row or all(not cell.strip() for cell in row):
        return None
    serial = _number(row, cols[0], source, line_no)
    label = _number(row, cols[1], source, line_no)
    return None if serial is None or label is None else (serial, label)


_WHOLE = re.compile(r"[0-9]+(?:\.0*)?")  # what an import accepts: 42144, or 42144.0 (pandas)
_NAN_WORDS = ("nan", "none", "null", "na")


def _strict_row(
    row: list[str], cols: tuple[int, int], source: str, line_no: int
) -> tuple[int, int] | None:
    """An import row: digits (a `.0` tail allowed), or an explicit NaN row; else LabelError."""
    if len(row) <= max(cols):
        raise LabelError(
            f"{source} line {line_no}: expected a serial and a label, "
            f"got {clip(repr(','.join(row)))}"
        )
    cells = [row[cols[0]], row[cols[1]]]
    if all(cell.isascii() and cell.isdigit() for cell in cells):  # as we write them: fast
        return int(cells[0]), int(cells[1])
    if any(cell.lower() in _NAN_WORDS for cell in cells):
        return None  # the older tool's way of saying "unlabeled"
    for what, cell in zip(("serial", "label"), cells, strict=True):
        if not _WHOLE.fullmatch(cell):
            raise LabelError(
                f"{source} line {line_no}: {what} must be written with the digits 0-9 only, "
                f"got {clip(repr(cell))}"
            )
    return int(float(cells[0])), int(float(cells[1]))


def _source_and_text(path_or_text: str | os.PathLike[str] | bytes) -> tuple[str, str]:
    if isinstance(path_or_text, bytes):
        return "labels CSV", _decode(path_or_text, "labels CSV")
    if isinstance(path_or_text, str) and ("\n" in path_or_text or not Path(path_or_text).is_file()):
        return "labels CSV", path_or_text
    path = Path(path_or_text)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LabelError(f"cannot read labels file {path}: {exc.strerror or exc}") from exc
    return str(path), _decode(raw, str(path))


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelError(
            f"{source}: not a text CSV file ({exc.reason} at byte {exc.start})"
        ) from exc


def _chain_first(first: list[str] | None, rows: Iterator[list[str]]) -> Iterator[list[str]]:
    if first is not None:
        yield first
    yield from rows


def _looks_numeric(row: list[str]) -> bool:
    try:
        [float(cell) for cell in row if cell.strip()]
    except ValueError:
        return False
    return True


def _number(row: list[str], col: int, source: str, line_no: int) -> int | None:
    cell = row[col].strip() if col < len(row) else ""
    if cell == "" or cell.lower() in ("nan", "none", "null", "na"):
        return None
    try:
        value = float(cell)
    except ValueError:
        raise LabelError(f"{source} line {line_no}: {cell!r} is not a number") from None
    if math.isnan(value):
        return None
    if not math.isfinite(value) or value != int(value):
        raise LabelError(f"{source} line {line_no}: {cell!r} is not a whole number")
    return int(value)


def _check_serial(serial: object, n_samples: int) -> int:
    value = _as_int(serial, "serial")
    if not 0 <= value < n_samples:
        raise LabelError(f"serial {value} is outside the dataset (0..{n_samples - 1})")
    return value


def _check_label(label: object, serial: object) -> int:
    value = _as_int(label, "label")
    if not is_label(value):
        raise LabelError(f"label {value} for serial {serial} must be {LABEL_WORDS}")
    return value


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool):
        raise LabelError(f"{what} must be an integer, got {value!r}")
    try:
        return operator.index(value)  # ints and numpy ints; floats and strings are refused
    except TypeError:
        raise LabelError(f"{what} must be an integer, got {value!r}") from None
