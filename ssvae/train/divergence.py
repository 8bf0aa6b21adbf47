"""Divergence: a loss that is still finite but has run away from where the session began.

A too-large learning rate rarely produces NaN at once: the losses grow to 1e17 while staying
finite, the latent collapses, and without this check the session would end "completed" and
its weights would be saved. The guard compares against the session's own starting point,
measured with the session's loss weights, so changing a weight between sessions does not
trip it, and ordinary noise or over-fitting (a validation loss that creeps up by a few
percent) is nowhere near the thresholds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

EPOCH_FACTOR = 4.0  # an epoch's validation (or training) loss above 4x the start: diverged
BATCH_FACTOR = 100.0  # one batch's loss above 100x the first batch: diverged, stop at once


class Diverged(RuntimeError):
    """The losses ran away from the session's start; the session fails and rolls back."""


@dataclass
class DivergenceGuard:
    """Thresholds relative to the session's start.

    `start_val` is the validation loss before the first update (None without validation
    rows); the first batch's loss, seen before its update, is the training baseline.
    """

    start_val: float | None
    first_batch: float | None = None

    def check_batch(self, loss: float, epoch: int, batch: int) -> None:
        if self.first_batch is None:
            self.first_batch = abs(loss)
            return
        if abs(loss) > BATCH_FACTOR * max(self.first_batch, 1e-6):
            raise Diverged(
                f"training diverged at epoch {epoch}, batch {batch}: the loss is {loss:.3g}, "
                f"over {BATCH_FACTOR:g}x the session's first batch ({self.first_batch:.3g}); "
                "lower the learning rate or the loss weights"
            )

    def check_epoch(self, train_loss: float, val_loss: float, epoch: int) -> None:
        if self.start_val is not None and not math.isfinite(val_loss):
            raise Diverged(
                f"training diverged at epoch {epoch}: the validation loss became {val_loss}; "
                "lower the learning rate or the loss weights"
            )
        if self.start_val is not None and _above(val_loss, self.start_val):
            raise Diverged(
                f"training diverged at epoch {epoch}: validation loss {val_loss:.3g} is over "
                f"{EPOCH_FACTOR:g}x the session's start ({self.start_val:.3g}); "
                "lower the learning rate or the loss weights"
            )
        if self.first_batch is not None and _above(train_loss, self.first_batch):
            raise Diverged(
                f"training diverged at epoch {epoch}: training loss {train_loss:.3g} is over "
                f"{EPOCH_FACTOR:g}x the session's first batch ({self.first_batch:.3g}); "
                "lower the learning rate or the loss weights"
            )


def _above(value: float, start: float) -> bool:
    return math.isfinite(value) and math.isfinite(start) and value > EPOCH_FACTOR * max(start, 1e-6)
