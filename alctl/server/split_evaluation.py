"""`GET /api/evaluation`: per-class accuracy and the confusion matrix on the test split.

Computed with the frozen copy of the last saved weights (the model the page shows, the one
the decoder uses), so it never waits for or disturbs a running session; one forward pass
over the test images, kept until the page's points change version. `_lock` makes two
requests for a new version compute it once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ssvae.data.datasets import Dataset
from ssvae.train.evaluation import split_report


class SplitEvaluation:
    """The test split's evaluation for one latent version at a time."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self._lock = threading.Lock()
        self._version: int | None = None
        self._answer: dict[str, Any] | None = None

    def get(self, version: int, classify: Callable[[np.ndarray], np.ndarray]) -> dict[str, Any]:
        """The evaluation for `version`; `classify(images)` predicts with that version's weights."""
        with self._lock:
            if self._version == version and self._answer is not None:
                return {**self._answer, "cached": True}
            started = time.perf_counter()
            ds = self.dataset
            pred = classify(ds.test_images)
            answer = {
                "split": "test",
                "latent_version": version,
                **split_report(ds.test_targets, pred, ds.class_names),
                "seconds": round(time.perf_counter() - started, 3),
            }
            self._version, self._answer = version, answer
            return {**answer, "cached": False}
