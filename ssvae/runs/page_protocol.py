"""The page's default path as a simulation protocol (`alctl simulate --protocol page`): one run.

What a user of the page does, with the ground truth as the oracle: a fresh workspace (the new
model's settings, `default_config(dataset)` with the plan's settings, the run's seed; or the
seed's warm start), no label at first. Each round, label `start` samples (the first round) or
`step` (later ones) one at a time, each the first item of the queue's head
(`ssvae.select.queue.queue_head`, as `GET /api/queue` computes it), asking again after every
label as the page does; then press Start training `presses` times with the default epochs
(the config's `max_epochs`, or the plan's), the later presses without new labels.

The queue sees what the server's sees: before the first training (`trained` False) the
points of a model that has not learnt, so it ranks by the images ("typical") or at random,
every 5th item a random check sample (ssvae.select.checks); after a session, the session's
own points (`Predictions2D.of` of its predictions, as the server shows them). "typical"
clusters the images' pixel features (ssvae.data.pixel_features) through one `ClusterMemo`
kept across requests, as the server keeps one. `--strategy random` is the page's queue in
random order: the same checks interleaved, so strategies compare with the same checks held out.

Each press is a session of the one end-of-session pipeline without its files
(`ssvae.runs.pipeline.train_and_evaluate`): the blind check of the labels given since the
last session, training that keeps the check labels out and calibrates on them, and
`evaluate`. One row per press: the simulator's fields (ssvae.runs.simulate.PAGE_FIELDS),
keyed by round and press. Like `run_rounds`, a function of the run alone: serial and Ray
runs give the same numbers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ssvae.data.datasets import Dataset
from ssvae.runs.simulate import (
    PRESS,
    SESSION_FIELDS,
    Oracle,
    Plan,
    RunFailed,
    RunSpec,
    WarmStart,
    ece_at,
    fresh_trainer,
    setting_text,
)
from ssvae.select.points import Predictions2D
from ssvae.select.queue import queue_head
from ssvae.select.representative import ClusterMemo

# The head the page holds and labels from (QUEUE_FETCH in static/js/queue.js; LOOKAHEAD).
QUEUE_FETCH = 50


def unlearnt_points(n: int) -> Predictions2D:
    """The points of a model that has learnt nothing: every certainty the same. The queue
    of a model that never trained ranks without them (by the images, or at random)."""
    return Predictions2D(np.zeros((n, 2)), np.full(n, 0.1), np.zeros(n, np.int8))


def label_from_queue(
    points: Predictions2D,
    oracle: Oracle,
    n: int,
    strategy: str,
    *,
    trained: bool,
    memo: ClusterMemo,
    features: np.ndarray | None,
) -> np.ndarray:
    """Label `n` samples as the page does: the first item of the queue's head, then ask again.

    Returns the serials in the order labeled (fewer when the queue runs out). `features`:
    the images' pixel features ("typical" needs them).
    """
    picked: list[int] = []
    for _ in range(n):
        head = queue_head(
            points,
            oracle.labels(),
            strategy,
            QUEUE_FETCH,
            trained=trained,
            memo=memo,
            features=features,
        )
        if not head.items:
            break
        serial = int(head.items[0]["serial"])
        oracle.reveal([serial])
        picked.append(serial)
    return np.asarray(picked, np.int64)


class PageUser:
    """One run's page, server and user together: the model, the labels given, the points the
    queue ranks, and the queue's clusters."""

    def __init__(
        self,
        dataset: Dataset,
        plan: Plan,
        spec: RunSpec,
        warm: WarmStart | None,
        *,
        features: np.ndarray | None = None,
        device: str | None = None,
    ) -> None:
        from ssvae.nn.model import predict

        self.dataset, self.plan, self.spec = dataset, plan, spec
        self.features = features if spec.strategy == "typical" else None
        self.trainer = fresh_trainer(plan.config(spec.seed, spec.settings), warm, device)
        self.oracle = Oracle(dataset.train_targets)
        self.memo = ClusterMemo()  # kept across requests, as the server keeps its own
        # The server's points of the model it opened: a warm start's, or none learnt yet.
        self.points = (
            Predictions2D.of(predict(self.trainer.model, dataset.train_images, reconstruct=False))
            if self.trained
            else unlearnt_points(dataset.n_train)
        )
        self.started = time.perf_counter()

    @property
    def trained(self) -> bool:
        """The server's test: the model holds a trained epoch (a warm start counts)."""
        return self.trainer.epochs_trained > 0

    def label(self, n: int) -> np.ndarray:
        """Label `n` from the queue's head, one at a time; the serials, in order."""
        return label_from_queue(
            self.points,
            self.oracle,
            n,
            self.spec.strategy,
            trained=self.trained,
            memo=self.memo,
            features=self.features,
        )

    def press(
        self, round_no: int, press: int, stop_event: threading.Event | None = None
    ) -> dict[str, Any] | None:
        """Start training with the labels given: its results row; None when it was stopped
        before an epoch was kept. RunFailed when training failed."""
        from ssvae.nn.model import class_logits
        from ssvae.runs.pipeline import train_and_evaluate

        trainer, dataset = self.trainer, self.dataset
        epochs = self.plan.epochs_per_round or trainer.config.max_epochs
        outcome = train_and_evaluate(
            trainer, dataset, self.oracle.labels(), epochs=epochs, stop_event=stop_event
        )
        result = outcome.result
        if result.status == "failed":
            raise RunFailed(f"training failed: {result.error}")
        if result.status == "stopped" or outcome.evaluation is None or outcome.points is None:
            return None
        self.points = Predictions2D.of(outcome.points)  # as the server shows them
        test_logits = class_logits(trainer.model, dataset.test_images)
        return {
            **{key: setting_text(value) for key, value in self.spec.settings},
            PRESS: press,
            "strategy": self.spec.strategy,
            "seed": self.spec.seed,
            "round": round_no,
            "n_labels": outcome.n_labeled,
            **{key: outcome.evaluation[key] for key in SESSION_FIELDS},
            "temperature": float(trainer.model.temperature),
            "ece_raw": ece_at(test_logits, dataset.test_targets, 1.0),
            "ece_calibrated": None,
            "calibration_labels": result.calibration_labels,
            "epochs_run": result.epochs_run,
            "session_s": outcome.seconds,
            "wall_s": time.perf_counter() - self.started,
        }


def run_page(
    dataset: Dataset,
    plan: Plan,
    spec: RunSpec,
    warm: WarmStart | None,
    *,
    features: np.ndarray | None = None,
    device: str | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one results row per press of the run, round by round, from round 0 press 1.

    A resumed run replays its presses; the caller skips the rows it already has.
    `features` are the images' `pixel_pca` ("typical" needs them).
    """
    user = PageUser(dataset, plan, spec, warm, features=features, device=device)
    for round_no in range(plan.rounds):
        user.label(plan.start if round_no == 0 else plan.step)
        for press in range(1, plan.presses + 1):
            row = user.press(round_no, press, stop_event)
            if row is None:
                return
            yield row
