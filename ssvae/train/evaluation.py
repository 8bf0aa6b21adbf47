"""Did it get better: a session's evaluation, the confusion matrix and per-class accuracy.

Plain functions over predictions (numpy only, no torch), shared by the server, `alctl evaluate`,
scripts/train.py and the static report, so every place shows the same numbers for the same
weights. The accuracy-vs-labels curve is built from session entries (ssvae.records.sessions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def labeled_accuracy(pred: np.ndarray, labels: np.ndarray) -> float | None:
    """Share of the labeled rows (label >= 0) whose prediction is their label; None if none."""
    labeled = np.asarray(labels) >= 0
    if not labeled.any():
        return None
    return float((np.asarray(pred)[labeled] == np.asarray(labels)[labeled]).mean())


def split_accuracy(pred: np.ndarray, targets: np.ndarray) -> float | None:
    """Share of correct predictions over a split; None for an empty split."""
    targets = np.asarray(targets)
    return float((np.asarray(pred) == targets).mean()) if len(targets) else None


def session_evaluation(
    test_pred: np.ndarray, test_targets: np.ndarray, train_pred: np.ndarray, labels: np.ndarray
) -> dict[str, float | None]:
    """The fields stored in a session's entry: test accuracy and accuracy on the user's labels."""
    return {
        "test_accuracy": split_accuracy(test_pred, test_targets),
        "labeled_accuracy": labeled_accuracy(train_pred, labels),
    }


def confusion_matrix(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """int64 [n_classes, n_classes]: rows are the true class, columns the predicted one."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (np.asarray(truth, dtype=np.int64), np.asarray(pred, dtype=np.int64)), 1)
    return counts


def per_class_accuracy(counts: np.ndarray) -> list[float | None]:
    """Recall of each true class (the diagonal over its row); None for a class with no rows."""
    rows = counts.sum(axis=1)
    return [float(counts[c, c] / rows[c]) if rows[c] else None for c in range(len(rows))]


def split_report(truth: np.ndarray, pred: np.ndarray, class_names: Sequence[str]) -> dict[str, Any]:
    """The confusion matrix and per-class accuracy of one split, as plain JSON-able values."""
    counts = confusion_matrix(truth, pred, len(class_names))
    support = counts.sum(axis=1)
    accuracy = per_class_accuracy(counts)
    return {
        "n": len(truth),
        "accuracy": split_accuracy(pred, truth),
        "class_names": list(class_names),
        "confusion": counts.tolist(),
        "per_class": [
            {"class": c, "name": name, "n": int(support[c]), "accuracy": acc}
            for c, (name, acc) in enumerate(zip(class_names, accuracy, strict=True))
        ],
    }
