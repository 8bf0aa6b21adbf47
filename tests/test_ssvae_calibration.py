"""ECE and temperature scaling on known logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ssvae.train.calibration import (
    MIN_LABELS,
    expected_calibration_error,
    fit_temperature,
    held_out_temperature,
    nll,
    softmax,
)


def test_ece_of_known_bins() -> None:
    # Bin (0.8, 0.9]: certainties 0.9 and 0.85, one right -> |0.5 - 0.875| × 2/4.
    # Bin (0.6, 0.7]: 0.7 twice, both right -> |1 - 0.7| × 2/4.
    certainty = np.array([0.9, 0.85, 0.7, 0.7])
    correct = np.array([1, 0, 1, 1])
    assert expected_calibration_error(certainty, correct, bins=10) == pytest.approx(
        0.5 * 0.375 + 0.5 * 0.3
    )


def test_ece_is_zero_when_certainty_matches_accuracy_and_edges_go_low() -> None:
    # 0.5 exactly sits on an edge: it belongs to (0.4, 0.5], with 0.45 (half right).
    certainty = np.array([0.5, 0.5, 1.0, 1.0])
    assert expected_calibration_error(certainty, np.array([1, 0, 1, 1]), bins=10) == 0.0
    assert expected_calibration_error(np.array([0.0]), np.array([0]), bins=10) == 0.0


def test_ece_rejects_bad_shapes_and_is_nan_when_empty() -> None:
    with pytest.raises(ValueError):
        expected_calibration_error(np.ones(3), np.ones(2))
    assert math.isnan(expected_calibration_error(np.array([]), np.array([])))


def test_temperature_recovers_the_one_that_made_the_labels() -> None:
    # Labels drawn from softmax(logits / 3): the NLL-optimal temperature is close to 3.
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(4000, 10))
    probs = softmax(logits, 3.0)
    targets = np.array([rng.choice(10, p=p) for p in probs])
    fitted = fit_temperature(logits, targets)
    assert fitted == pytest.approx(3.0, rel=0.1)
    assert nll(logits, targets, fitted) < nll(logits, targets, 1.0)


def test_temperature_scaling_lowers_ece_of_an_overconfident_model() -> None:
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 6, size=(3000, 10))
    targets = np.array([rng.choice(10, p=p) for p in softmax(logits, 4.0)])
    fit, test = slice(0, 1000), slice(1000, None)
    t = fit_temperature(logits[fit], targets[fit])

    def ece(temperature: float) -> float:
        p = softmax(logits[test], temperature)
        return expected_calibration_error(p.max(1), p.argmax(1) == targets[test])

    assert ece(t) < 0.05 < ece(1.0)


def test_too_few_labels_keep_temperature_one() -> None:
    logits = np.array([[5.0, 0.0]] * (MIN_LABELS - 1))
    assert fit_temperature(logits, np.ones(MIN_LABELS - 1, np.int64)) == 1.0


def test_softmax_rows_sum_to_one_and_temperature_flattens() -> None:
    logits = np.array([[2.0, 0.0, -1.0]])
    assert softmax(logits).sum() == pytest.approx(1.0)
    assert softmax(logits, 10.0).max() < softmax(logits).max()


def test_held_out_labels_fit_only_a_model_that_has_seen_labels() -> None:
    import torch

    from ssvae.config import SSVAEConfig
    from ssvae.data.synthetic import synthetic_digits
    from ssvae.nn.model import SSVAE

    images, truth = synthetic_digits(60, seed=4)
    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig(hidden_dims=(32, 16)))
    labels = np.full(60, -1)
    labels[:30] = truth[:30]
    fitted = held_out_temperature(model, images, labels, trained=[40, 41])
    assert fitted is not None and fitted > 0  # 30 labels it never trained on
    assert held_out_temperature(model, images, labels, trained=list(range(25))) is None  # 5 left
    # Weights that never saw a label (a session without labels): nothing to calibrate.
    assert held_out_temperature(model, images, labels, trained=[]) is None
    assert held_out_temperature(model, images, labels, trained=None) is None
