"""The images' neighbour graph and the labels spread along it (ssvae.data.pixel_graph), and
the sessions that train on them."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ssvae.config import SSVAEConfig
from ssvae.config.model_config import LEGACY_DEFAULTS
from ssvae.data.pixel_graph import (
    nearest,
    neighbour_graph,
    pixel_graph,
    spread_labels,
    spread_targets,
)
from ssvae.nn.losses import pseudo_label_loss
from ssvae.select.checks import check_order
from ssvae.train.trainer import InteractiveTrainer
from tests.datagen import synthetic_digits

pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _blobs(n_per: int, centres: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(c, 0.3, (n_per, 2)) for c in centres]).astype(np.float32)


def _brute(features: np.ndarray, k: int) -> np.ndarray:
    d = ((features[:, None] - features[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def test_exact_neighbours_are_the_brute_force_ones_nearest_first() -> None:
    features = np.random.default_rng(1).normal(size=(300, 5)).astype(np.float32)
    indices, distances = nearest(features, 4)
    assert (np.sort(indices, axis=1) == np.sort(_brute(features, 4), axis=1)).all()
    assert (np.diff(distances, axis=1) >= 0).all()
    assert not (indices == np.arange(300)[:, None]).any()  # never itself


def test_the_cell_search_finds_nearly_every_true_neighbour() -> None:
    # Past exact_up_to the search is among nearby k-means cells: on clustered data (images
    # are), a few misses across cell borders, never itself, no repeats.
    rng = np.random.default_rng(2)
    centres = rng.normal(0, 4, size=(30, 6))
    features = (centres[rng.integers(0, 30, 3000)] + rng.normal(size=(3000, 6))).astype(np.float32)
    truth = _brute(features, 10)
    found, _ = nearest(features, 10, exact_up_to=100)
    recall = np.mean([len(np.intersect1d(a, b)) / 10 for a, b in zip(found, truth, strict=True)])
    assert recall > 0.9
    assert not (found == np.arange(3000)[:, None]).any()
    assert len({len(set(row)) for row in found}) == 1  # no repeats in a row


def test_labels_spread_within_their_cluster_and_not_across() -> None:
    features = _blobs(100, [(0, 0), (10, 0), (0, 10)])
    graph = neighbour_graph(*nearest(features, 8))
    labels = np.full(300, -1)
    labels[[0, 100, 200]] = [4, 7, 1]  # one label per cluster
    classes, confidence = spread_labels(graph, labels, 10)
    assert (classes[:100] == 4).all() and (classes[100:200] == 7).all()
    assert (classes[200:] == 1).all()
    assert (confidence > 0.9).all()


def test_an_unreached_row_has_no_confidence() -> None:
    # Two clusters, a label in one only: the other is never reached.
    features = _blobs(50, [(0, 0), (100, 100)])
    graph = neighbour_graph(*nearest(features, 5))
    labels = np.full(100, -1)
    labels[3] = 2
    classes, confidence = spread_labels(graph, labels, 10)
    assert (classes[:50] == 2).all() and (confidence[50:] == 0).all()
    targets = spread_targets(graph, labels, 10, share=1.0)
    assert (targets[50:] == -1).all()  # nothing reached: no target


def test_spread_targets_are_the_most_confident_share_of_the_unlabeled() -> None:
    # A boundary between two labeled clusters: the rows in between are the least confident.
    features = np.concatenate([_blobs(60, [(0, 0)]), _blobs(60, [(3, 0)], seed=1)])
    graph = neighbour_graph(*nearest(features, 6))
    labels = np.full(120, -1)
    labels[[0, 60]] = [0, 1]
    _, confidence = spread_labels(graph, labels, 10)
    targets = spread_targets(graph, labels, 10, share=0.5)
    assert (targets[[0, 60]] == -1).all()  # labeled rows carry their label, not a target
    assert (targets >= 0).sum() == 59  # half of the 118 unlabeled
    given = targets >= 0
    assert confidence[given].min() >= confidence[~given & (labels < 0)].max()
    assert spread_targets(graph, np.full(120, -1), 10).max() == -1  # no label, no target


def test_a_row_the_classifier_is_unsure_of_takes_its_spread_class() -> None:
    plain = torch.tensor([[10.0, 2.0, 0.0], [1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])  # 0 sure
    jittered = torch.tensor([[1.0, 2.0, 0.0], [5.0, 0.0, 0.0], [0.0, 1.0, 3.0]])
    spread = torch.tensor([1, 2, -1])  # row 0 is sure: its own class wins; row 2 has none
    got = pseudo_label_loss(plain, jittered, 0.95, None, spread, 0.5)
    ce = F.cross_entropy(jittered, torch.tensor([0, 2, 0]), reduction="none")
    assert got.item() == pytest.approx((ce[0] + 0.5 * ce[1]).item() / 3)
    assert pseudo_label_loss(plain, jittered, 0.95, None, spread, 0.0).item() == pytest.approx(
        ce[0].item() / 3
    )


def test_the_graph_is_symmetric_and_normalised() -> None:
    features = np.random.default_rng(3).normal(size=(200, 3)).astype(np.float32)
    graph = neighbour_graph(*nearest(features, 5))
    dense = np.zeros((200, 200))
    rows = np.repeat(np.arange(200), np.diff(graph.starts))
    np.add.at(dense, (rows, graph.targets), graph.weights)
    assert np.allclose(dense, dense.T, atol=1e-6)
    # D^-1/2 W D^-1/2 has spectral radius 1: spreading cannot blow up.
    assert np.abs(np.linalg.eigvalsh(dense)).max() == pytest.approx(1.0, abs=1e-4)
    values = np.random.default_rng(4).normal(size=(200, 10)).astype(np.float32)
    assert np.allclose(graph.multiply(values), dense @ values, atol=1e-4)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_digits(600, seed=3)


CONFIG = SSVAEConfig(hidden_dims=(32, 16), batch_size=64, labeled_batch_size=16)


def test_a_session_spreads_only_the_labels_that_train(digits: tuple, monkeypatch) -> None:
    images, targets = digits
    labels = np.full(len(images), -1, np.int64)
    checks = check_order(len(images))[:12]  # check samples: withheld, calibrated on
    others = np.setdiff1d(np.arange(len(images)), check_order(len(images)))[:20]
    labels[checks], labels[others] = targets[checks], targets[others]
    seen: list[np.ndarray] = []
    import ssvae.train.session_loop as loop

    real = loop.spread_targets

    def spy(graph, given, n_classes, **kwargs):
        seen.append(np.asarray(given).copy())
        return real(graph, given, n_classes, **kwargs)

    monkeypatch.setattr(loop, "spread_targets", spy)
    trainer = InteractiveTrainer(CONFIG, "cpu")
    result = trainer.train(images, labels, epochs=1)
    assert result.status == "completed" and result.calibration_labels == 12
    (given,) = seen
    assert (given[checks] == -1).all()  # a check never spreads to its neighbours
    assert (given[others] == targets[others]).all() and (given >= 0).sum() == 20
    graph = trainer._graph[1].get()  # kept for the next session on the same images
    trainer.train(images, labels, epochs=1)
    assert trainer._graph[1].get() is graph and len(seen) == 2


def test_a_stop_while_the_graph_is_built_ends_the_session_before_it(digits: tuple) -> None:
    # Building the graph of 60,000 images takes seconds: a stop must not wait for it.
    images, targets = digits
    labels = np.full(len(images), -1, np.int64)
    labels[:20] = targets[:20]
    trainer = InteractiveTrainer(CONFIG, "cpu")
    stop = threading.Event()
    stop.set()
    result = trainer.train(images, labels, epochs=2, stop_event=stop)
    assert result.status == "stopped" and result.epochs_run == 0
    assert trainer._graph[1]._graph is None  # given up at its first step, built next time
    assert trainer.train(images, labels, epochs=1).status == "completed"
    assert trainer._graph[1]._graph is not None


def test_spreading_off_or_without_labels_builds_no_graph(digits: tuple) -> None:
    images, targets = digits
    labels = np.full(len(images), -1, np.int64)
    trainer = InteractiveTrainer(CONFIG, "cpu")
    trainer.train(images, labels, epochs=1)  # no label: nothing to spread
    assert trainer._graph is None
    labels[:20] = targets[:20]
    off = InteractiveTrainer(CONFIG.replace(propagation_weight=0.0), "cpu")
    off.train(images, labels, epochs=1)
    assert off._graph is None


def test_old_checkpoints_keep_training_without_spreading() -> None:
    assert LEGACY_DEFAULTS["propagation_weight"] == 0.0
    old = SSVAEConfig.from_dict(
        {k: v for k, v in SSVAEConfig().to_dict().items() if k != "propagation_weight"}
    )
    assert old.propagation_weight == 0.0 and SSVAEConfig().propagation_weight == 1.0


def test_the_pixel_graph_joins_images_of_a_class(digits: tuple) -> None:
    images, targets = digits
    graph = pixel_graph(images)
    rows = np.repeat(np.arange(len(images)), np.diff(graph.starts))
    assert (targets[rows] == targets[graph.targets]).mean() > 0.8
