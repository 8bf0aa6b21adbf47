"""The server's view of the label CSV: writes through LabelStore, in-memory copy, outside edits.

One lock (`_io`) serialises everything that touches the file or the in-memory copy, so the
watcher never mistakes the server's own write for an outside one. The watcher compares
file content with memory (mtime is only the trigger), so an outside edit that a server
write merged in is still reported.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from alctl.server.disk import refusal_message
from alctl.server.events import EventBus
from alctl.server.write_order import WriteOrder
from ssvae.io.labels import LabelError, LabelStore, label_stats, labels_csv_text


class LabelState:
    """Labels of one dataset, as the page sees them; every method is thread-safe."""

    def __init__(self, store: LabelStore, bus: EventBus) -> None:
        self.store = store
        self.bus = bus
        self._io = threading.Lock()
        self._labels = store.read()  # LabelError: the caller reports the file and stops
        self._array = np.full(store.n_samples, -1, dtype=np.int8)
        for serial, label in self._labels.items():
            self._array[serial] = label
        self._version = 1
        self._seen_mtime = store.mtime_ns()
        self._reported_error_mtime: int | None = None
        self._order = WriteOrder()
        self._file_error: str | None = None  # why the CSV on disk cannot be read, if it cannot

    @property
    def version(self) -> int:
        return self._version

    def array(self) -> np.ndarray:
        """int8 [N], -1 = unlabeled (a copy)."""
        with self._io:
            return self._array.copy()

    def get(self, serial: int) -> int | None:
        return self._labels.get(serial)

    def stats(self) -> dict[str, Any]:
        with self._io:
            return self._stats_unlocked()

    def _stats_unlocked(self) -> dict[str, Any]:
        return {
            **label_stats(self._labels, self.store.n_samples),
            "version": self._version,
            "file_error": self._file_error,
        }

    def as_json(self) -> dict[str, Any]:
        with self._io:
            return {
                "labels": {str(s): v for s, v in sorted(self._labels.items())},
                "version": self._version,
            }

    def as_csv(self) -> str:
        with self._io:
            return labels_csv_text(self._labels)

    def update(
        self,
        changes: Mapping[int, int | None],
        source: str,
        ticket: tuple[str, int] | None = None,
    ) -> dict[str, Any]:
        """Write `changes` durably (None deletes), then publish what changed.

        `ticket` (writer, attempt number) refuses an attempt older than one already applied
        (SupersededWrite). Returns {"previous": {serial: old}, "changes": [...], "stats": {...}}.
        """
        with self._io:
            self._order.admit(ticket)
            try:
                previous = self.store.update(changes)
            except LabelError as exc:
                self._file_error = str(exc)
                raise LabelFileError(f"{exc}; fix or move the labels file, then retry") from exc
            except OSError as exc:  # a full disk, a read-only mount: the old file stays whole
                raise LabelWriteError(refusal_message(self.store.path, exc)) from exc
            diff = [
                {"serial": s, "label": v, "previous": previous[s]}
                for s, v in changes.items()
                if previous[s] != v
            ]
            self._apply(changes)
            if diff:
                self._version += 1
            stats = self._stats_unlocked()
        if diff:
            self.bus.publish("labels", {"changes": diff, "source": source, "stats": stats})
        return {"previous": previous, "changes": diff, "stats": stats}

    def check_file(self) -> bool:
        """Pick up outside edits of the CSV; True when something changed. Call ~1/s."""
        if self.store.mtime_ns() == self._seen_mtime:
            return False
        with self._io:
            mtime = self.store.mtime_ns()
            try:
                current = self.store.read()
            except LabelError as exc:
                self._file_error = str(exc)
                if self._reported_error_mtime != mtime:
                    self._reported_error_mtime = mtime
                    message = f"the labels file cannot be read, keeping the labels in memory: {exc}"
                    self.bus.publish("error", {"message": message})
                return False
            self._seen_mtime = mtime
            self._file_error = None
            changes: dict[int, int | None] = {
                s: v for s, v in current.items() if self._labels.get(s) != v
            }
            changes.update({s: None for s in self._labels if s not in current})
            diff = [
                {"serial": s, "label": v, "previous": self._labels.get(s)}
                for s, v in sorted(changes.items())
            ]
            if not diff:
                return False
            self._apply(changes)
            self._version += 1
            stats = self._stats_unlocked()
        self.bus.publish("labels", {"changes": diff, "source": "file", "stats": stats})
        return True

    def _apply(self, changes: Mapping[int, int | None]) -> None:
        for serial, label in changes.items():
            if label is None:
                self._labels.pop(serial, None)
                self._array[serial] = -1
            else:
                self._labels[serial] = label
                self._array[serial] = label


class LabelFileError(Exception):
    """The CSV on disk cannot be parsed, so no write is made; the message names the line."""

    status = 409


class LabelWriteError(LabelFileError):
    """The disk refused the write (full, read-only); the file on disk is unchanged."""

    status = 507
