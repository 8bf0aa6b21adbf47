"""Terminal rendering of training progress, from the same dicts the SSE stream carries.

On a TTY a bar (epoch, batch, ETA) is redrawn in place; otherwise plain lines, throttled,
so logs stay readable. Either way one line of losses per epoch and a final result line.
"""

from __future__ import annotations

import math
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from ssvae.records import formats

_LOSS_KEYS = (
    ("loss", "loss"),
    ("reconstruction_loss", "rec"),
    ("kl_loss", "kl"),
    ("classification_loss", "cls"),
)


def format_epoch_line(record: Mapping[str, Any], epochs: int | None) -> str:
    """One line of losses for an `EpochRecord` dict (NaN or null shown as `–`)."""
    train, val = record.get("train") or {}, record.get("val") or {}
    of = f"/{epochs}" if epochs else ""
    parts = [f"epoch {record.get('epoch', '?')}{of} (#{record.get('global_epoch', '?')})"]
    for key, short in _LOSS_KEYS:
        parts.append(f"{short} {formats.number(train.get(key))}/{formats.number(val.get(key))}")
    accuracy = formats.finite(val.get("accuracy"))
    if accuracy is None:
        accuracy = formats.finite(train.get("accuracy"))
    if accuracy is not None:
        parts.append(f"acc {accuracy:.1%}")
    parts.append(f"{formats.finite(record.get('seconds')) or 0:.1f}s")
    return "  ".join(parts)


class TrainProgress:
    """Feed it `(event, data)` pairs; it writes to `stream`. Not thread-safe: one caller."""

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        tty: bool | None = None,
        plain_interval_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.tty = self.stream.isatty() if tty is None else tty
        self.plain_interval_s = plain_interval_s
        self._clock = clock
        self._epochs: int | None = None
        self._bar_shown = False
        self._last_plain = -math.inf

    def handle(self, event: str, data: Mapping[str, Any]) -> None:
        handler = {
            "train_started": self.started,
            "train_progress": self.progress,
            "train_epoch": self.epoch,
            "train_ended": self.ended,
        }.get(event)
        if handler is not None:
            handler(data)

    def note(self, text: str) -> None:
        """Print a line of its own, clearing the bar first."""
        self._clear_bar()
        self._write(text + "\n")

    def started(self, data: Mapping[str, Any]) -> None:
        self._epochs = data.get("epochs")
        hparams = data.get("hparams") or {}
        shown = ", ".join(f"{k}={v}" for k, v in hparams.items() if k != "epochs")
        start = data.get("start_epoch")
        since = f" from epoch #{start}" if start is not None else ""
        epochs = formats.plural(self._epochs, "epoch")
        threads = data.get("threads")
        on = f", {formats.plural(threads, 'torch thread')}" if threads else ""
        self.note(f"training session {data.get('session', '?')}: {epochs}{since}{on}")
        if shown:
            self.note(f"  {shown}")

    def progress(self, data: Mapping[str, Any]) -> None:
        epochs = data.get("epochs") or self._epochs
        self._epochs = epochs
        epoch, batch, batches = data.get("epoch", 0), data.get("batch", 0), data.get("batches", 0)
        eta = formats.duration(data.get("eta_s"))
        loss = formats.number(data.get("loss"))
        if self.tty:
            self._draw_bar(epoch, epochs, batch, batches, eta, loss)
            return
        now = self._clock()
        if now - self._last_plain >= self.plain_interval_s:
            self._last_plain = now
            self._write(f"epoch {epoch}/{epochs} batch {batch}/{batches} loss {loss} ETA {eta}\n")

    def epoch(self, data: Mapping[str, Any]) -> None:
        self.note(format_epoch_line(data, self._epochs))

    def ended(self, data: Mapping[str, Any]) -> None:
        status = data.get("status", "?")
        epochs = formats.plural(data.get("epochs_run", "?"), "epoch")
        line = (
            f"training {status.replace('_', ' ')}: {epochs} "
            f"in {formats.duration(data.get('seconds'))} "
            f"(model at epoch #{data.get('global_epoch', '?')})"
        )
        if data.get("error"):
            line += f": {data['error']}"
        self.note(line)

    def saved(self, data: Mapping[str, Any], checkpoint: Any) -> None:
        """What the session's save kept (the `session_saved` data)."""
        for line in outcome_lines(data, checkpoint):
            self.note(line)

    def _draw_bar(
        self, epoch: Any, epochs: Any, batch: Any, batches: Any, eta: str, loss: str
    ) -> None:
        head = f"epoch {epoch}/{epochs} "
        tail = f" batch {batch}/{batches} loss {loss} ETA {eta}"
        width = shutil.get_terminal_size((80, 24)).columns - len(head) - len(tail) - 3
        fraction = (batch / batches) if batches else 0.0
        width = max(width, 10)
        filled = min(width, round(fraction * width))
        bar = "[" + "#" * filled + "." * (width - filled) + "]"
        # \r + erase-line redraws in place without scrolling.
        self._write(f"\r\x1b[K{head}{bar}{tail}")
        self._bar_shown = True

    def _clear_bar(self) -> None:
        if self._bar_shown:
            self._write("\r\x1b[K")
            self._bar_shown = False

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def evaluation_facts(evaluation: Mapping[str, Any]) -> list[str]:
    """A session record's figures for people (a session's outcome, a simulated round)."""
    facts = [
        f"test accuracy {formats.percent_short(evaluation.get('test_accuracy'), missing='n/a')}"
    ]
    blind_n = evaluation.get("blind_n") or 0
    if evaluation.get("blind_accuracy") is not None and blind_n:
        blind = formats.percent_short(evaluation["blind_accuracy"])
        facts.append(f"blind accuracy {blind} on {formats.plural(blind_n, 'new label')}")
    if evaluation.get("test_ece") is not None:
        facts.append(f"calibration error {formats.percent_short(evaluation['test_ece'])}")
    return facts


def outcome_lines(data: Mapping[str, Any], checkpoint: Any) -> list[str]:
    """What a session kept, from `session_saved`'s data (`SessionOutcome.to_dict()`)."""
    lines = []
    if data.get("saved"):
        facts = evaluation_facts(data.get("evaluation") or {})
        epoch = data.get("epochs_trained")
        lines.append(f"saved {checkpoint} (epoch #{epoch}): {', '.join(facts)}")
    elif data.get("save_error"):
        lines.append(f"NOT saved: {data['save_error']}")
    else:
        lines.append("nothing saved: no epoch completed, the model is as it was")
    lines += [f"warning: {w}" for w in data.get("warnings") or []]
    return lines


class ReadProgress:
    """`reading FILE: 37% of 15.2 MB` on stderr while a big file is read: redrawn in place on
    a TTY, else one line per quarter. Call it as `progress(bytes_read, size)`."""

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty()
        self._quarter = 0
        self._drawn = False

    def __call__(self, done: int, size: int) -> None:
        fraction = done / size if size else 1.0
        text = f"reading {self.name}: {fraction:.0%} of {size / 1e6:.1f} MB"
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}")
            self._drawn = True
        elif int(fraction * 4) > self._quarter:
            self._quarter = int(fraction * 4)
            self.stream.write(text + "\n")
        self.stream.flush()

    def done(self) -> None:
        """Clear the line drawn on a TTY (call once the file is read, or failed)."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
