"""Honest certainty: expected calibration error and temperature scaling (Guo et al. 2017).

- `expected_calibration_error`: ECE with `bins` equal-width bins over the top-class
  probability in (0, 1]: sum over bins of (share of samples in the bin) ×
  |accuracy in the bin - mean certainty in the bin|. A probability of exactly 0 falls in
  the first bin. 15 bins as in Guo et al.
- `fit_temperature`: the T > 0 that minimises the mean negative log-likelihood of
  softmax(logits / T) on held-out labels, by golden-section search over log T in
  [log 0.05, log 100] (the NLL is unimodal in T for a fixed set of logits). With fewer
  than `MIN_LABELS` labels it returns 1.0: a temperature fitted on a handful of samples
  is noise.

Which labels are "held out" is the caller's business (see `ssvae.runs.simulate` and
docs/EXPERIMENTS.md): labels the weights were trained on are memorised and would fit
T < 1, the opposite of what an overconfident model needs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MIN_LABELS = 10
_LOG_T_RANGE = (math.log(0.05), math.log(100.0))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of logits / temperature, float64."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def nll(logits: np.ndarray, targets: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of `targets` under softmax(logits / temperature)."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=1, keepdims=True)
    log_norm = np.log(np.exp(z).sum(axis=1))
    picked = z[np.arange(len(z)), np.asarray(targets, dtype=np.int64)]
    return float(np.mean(log_norm - picked))


def fit_temperature(logits: np.ndarray, targets: np.ndarray, *, iterations: int = 60) -> float:
    """The temperature that minimises held-out NLL (1.0 with fewer than MIN_LABELS labels)."""
    logits = np.asarray(logits, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"want logits [N, C] and targets [N], got {logits.shape}, {targets.shape}")
    if len(targets) < MIN_LABELS:
        return 1.0
    lo, hi = _LOG_T_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(logits, targets, math.exp(a)), nll(logits, targets, math.exp(b))
    for _ in range(iterations):
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(logits, targets, math.exp(a))
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(logits, targets, math.exp(b))
    return float(math.exp((lo + hi) / 2.0))


def expected_calibration_error(certainty: np.ndarray, correct: np.ndarray, bins: int = 15) -> float:
    """ECE of top-class certainties against whether the prediction was right (0..1)."""
    conf = np.asarray(certainty, dtype=np.float64)
    hit = np.asarray(correct, dtype=np.float64)
    if conf.shape != hit.shape or conf.ndim != 1:
        raise ValueError(f"certainty and correct must be [N], got {conf.shape}, {hit.shape}")
    if bins < 1:
        raise ValueError(f"bins must be positive, got {bins}")
    if not len(conf):
        return float("nan")
    # Bin b holds (b/bins, (b+1)/bins]; ceil - 1 puts an exact edge in the lower bin.
    which = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    gap = np.abs(np.bincount(which, hit, bins) - np.bincount(which, conf, bins))
    return float(gap.sum() / count.sum())


def held_out_temperature(
    model: Any, images: np.ndarray, labels: np.ndarray, trained: np.ndarray | None
) -> float | None:
    """T fitted on the labels `model` has not trained on (labeled, and not in `trained`).

    `labels` is int [N] with -1 = unlabeled; `trained` the serials the weights were
    trained on (None: unknown, so none is trusted as held out). None when fewer than
    MIN_LABELS such labels exist, or when the weights never trained on a label: a classifier
    that has not learnt anything yet is at chance, and the T that fits it (the largest
    there is) would flatten the certainty of the model trained next. Then keep the
    temperature there is.
    """
    from ssvae.nn.model import class_logits

    if trained is None or len(trained) == 0:
        return None
    fresh = np.flatnonzero(np.asarray(labels) >= 0)
    fresh = np.setdiff1d(fresh, np.asarray(trained, dtype=np.int64))
    if len(fresh) < MIN_LABELS:
        return None
    logits = class_logits(model, images[fresh])
    return fit_temperature(logits, np.asarray(labels)[fresh])
