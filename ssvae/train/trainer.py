"""Training: `InteractiveTrainer` keeps model and optimizer across sessions; a session's
epoch/batch loop is `ssvae.train.session_loop.SessionLoop` (the only other layer).

A session trains `epochs` epochs with a fixed validation split, gradient clipping,
AdamW, seeded shuffling, early stopping on the validation loss (patience; the last
weights are kept, nothing is restored) and a cooperative stop checked between
batches. A non-finite loss or gradient, or any exception, ends the session as
"failed" and rolls model and optimizer back to the last completed epoch, so the
trainer stays usable. A stop does the same with the epoch it interrupts: a session keeps
whole epochs only, the ones its history lists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ssvae.config import SESSION_PARAMS, TRAINING_FIELDS, SSVAEConfig
from ssvae.data.pixel_graph import PixelGraph
from ssvae.nn.model import SSVAE, Predictions, predict
from ssvae.records.events import EpochRecord, TrainingCallback, TrainResult, TrainStart
from ssvae.records.sessions import (
    TrainerSnapshot,
    close_session,
    from_records,
    last_number,
    open_session,
    record_evaluation,
)
from ssvae.select.checks import CALIBRATION_SET, check_order
from ssvae.train.batches import TrainingData, check_inputs
from ssvae.train.device import pick_device
from ssvae.train.session_loop import GraphSource, SessionLoop
from ssvae.train.threads import ThreadGovernor

# A session entry's labels given to it but kept out of its training (checks it calibrated on).
HELD_OUT_KEY = "held_out_labels"
SPREAD_KEY = "spread_labels"  # unlabeled images the session gave a spread class (pixel_graph)

if TYPE_CHECKING:
    from ssvae.io.checkpoint import Checkpoint


class InteractiveTrainer:
    """Model + optimizer that live across sessions: 10 epochs, then 20 more, is a continuation.

    Training fields (loss weights, learning rate, batch size, patience, ...) may change
    between sessions through `train(**overrides)`; architecture fields may not.
    """

    def __init__(
        self,
        config: SSVAEConfig,
        device: torch.device | str | None = None,
        model: SSVAE | None = None,
        optimizer_state: dict[str, Any] | None = None,
        epochs_trained: int = 0,
        history: Sequence[dict[str, Any]] = (),
        sessions: Sequence[dict[str, Any]] | None = None,
        trained_labels: Sequence[int] | None = (),
        threads: ThreadGovernor | None = None,
    ) -> None:
        self.config = config
        # Sets this trainer's torch thread count at each session's start and between batches.
        self.threads = threads or ThreadGovernor.for_process()
        self.device = pick_device(device)
        if model is None:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(config.seed)
                model = SSVAE(config)
        elif model.config.architecture() != config.architecture():
            raise ValueError("the model's architecture differs from the config's")
        self.model = model.to(self.device)
        self.optimizer = make_optimizer(self.model, config)
        if optimizer_state is not None:
            self.optimizer.load_state_dict(_two_groups(optimizer_state, self.optimizer, self.model))
        self._apply_hparams()
        self.epochs_trained = int(epochs_trained)
        self.history: list[dict[str, Any]] = [dict(r) for r in history]
        # One entry per session (settings, start time, labels, status); see ssvae.records.sessions.
        self.sessions: list[dict[str, Any]] = (
            [dict(s) for s in sessions] if sessions else from_records(self.history)
        )
        self.session = last_number(self.sessions, self.history)  # the one session counter
        # The serials the weights have trained on: later labels are the blind check's and
        # calibrate the certainty (ssvae.runs.pipeline). None: unknown (an older file).
        self.trained_labels: list[int] | None = (
            None if trained_labels is None else [int(s) for s in trained_labels]
        )
        self.last_result: TrainResult | None = None
        # The neighbour graph of the images trained on (label spreading): built at the first
        # session that spreads, kept while the same image array comes back.
        self._graph: tuple[object, PixelGraph] | None = None  # (the images given, their graph)
        self._lock = threading.Lock()  # one session at a time; predict() waits for it
        # Guards config, history and sessions for readers in other threads (`snapshot()`);
        # the session's own thread changes them only while holding it.
        self._state = threading.Lock()

    @classmethod
    def from_checkpoint(
        cls,
        ckpt: Checkpoint,
        device: torch.device | str | None = None,
        config: SSVAEConfig | None = None,
        threads: ThreadGovernor | None = None,
    ) -> InteractiveTrainer:
        """Continue from a checkpoint; an explicit `config` must keep its architecture."""
        from ssvae.nn.restore import build_model

        model, config = build_model(ckpt, config)
        threads = threads or ThreadGovernor.for_process()  # a bad setting is not the file's fault
        try:
            return cls(
                config,
                device,
                model,
                ckpt.optimizer_state,
                ckpt.epochs_trained,
                ckpt.history,
                ckpt.sessions,
                ckpt.trained_labels,
                threads,
            )
        except (ValueError, KeyError, RuntimeError) as exc:
            from ssvae.io.checkpoint import CheckpointError

            raise CheckpointError(
                ckpt.path, f"optimizer state does not fit the model ({exc})"
            ) from exc

    @property
    def is_training(self) -> bool:
        return self._lock.locked()

    def train(
        self,
        images: np.ndarray | torch.Tensor,
        labels: np.ndarray | torch.Tensor,
        *,
        epochs: int,
        callbacks: Iterable[TrainingCallback] = (),
        stop_event: threading.Event | None = None,
        **overrides: Any,
    ) -> TrainResult:
        """Run one session; `overrides` (training fields) apply from this session on.

        Bad arguments raise ValueError before anything changes; a second call while
        one runs raises RuntimeError. Failures during training come back as a
        TrainResult with status "failed".
        """
        bad = sorted(set(overrides) - set(TRAINING_FIELDS))
        if bad:
            raise ValueError(
                f"cannot change {', '.join(bad)} between sessions (not a training field)"
            )
        config = self.config.replace(**overrides)
        epochs = SESSION_PARAMS["epochs"].check(epochs)
        check_inputs(torch.as_tensor(images), torch.as_tensor(labels))
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("a training session is already running")
        clean, result = self.config, None
        try:
            with self._state:
                self.config = config
            self._apply_hparams()
            self.session += 1
            data = TrainingData.build(
                images, labels, val_split=config.val_split, seed=config.seed, device=self.device
            )
            self.threads.apply()  # in this thread: OpenMP's count is per thread
            hooks = [self.threads, _Bookkeeper(self), *callbacks]
            labels_np = data.labels.cpu().numpy()
            labeled = np.flatnonzero(labels_np >= 0)
            checks = self._untrained_checks(labels_np, config)
            graph = self._graph_of(images, config, labeled)
            loop = SessionLoop(
                self.model, self.optimizer, config, data, hooks, checks, self._threads_in_use, graph
            )
            start = self.epochs_trained
            devices = [self.device] if self.device.type == "cuda" else []
            # Own RNG stream per session: reproducible runs, and the caller's RNG is left alone.
            with torch.random.fork_rng(devices=devices, device_type=self.device.type):
                torch.manual_seed(config.seed * 100_003 + start)
                result = loop.run(epochs, self.session, start, stop_event)
            if result.epochs_run > 0:  # the weights changed: what they trained on, too
                # (check labels a session stopped before releasing did not train)
                trained = np.setdiff1d(labeled, loop.withheld)
                self.trained_labels = sorted({*(self.trained_labels or ()), *trained.tolist()})
                with self._state:  # given to the session, kept out of its training
                    self.sessions[-1][HELD_OUT_KEY] = loop.withheld.tolist()
                    self.sessions[-1][SPREAD_KEY] = loop.spread_rows
            self.last_result = result
            return result
        finally:
            if result is None or result.status == "failed":
                # A failed session's settings must not become the next session's defaults.
                with self._state:
                    self.config = clean
                self._apply_hparams()
            self._lock.release()

    @property
    def seen_labels(self) -> list[int] | None:
        """The serials given to a session before: trained on, or held out of its training
        (check labels calibrating at its end). None: unknown (an older file)."""
        if self.trained_labels is None:
            return None
        held = next((s[HELD_OUT_KEY] for s in reversed(self.sessions) if HELD_OUT_KEY in s), [])
        return sorted({*self.trained_labels, *(int(i) for i in held)})

    def _untrained_checks(self, labels: np.ndarray, config: SSVAEConfig) -> np.ndarray:
        """Serials of labeled check samples (ssvae.select.checks) these weights have not
        trained on: the honest set a session calibrates on. Calibrating at the session's end
        keeps them out of training, so only the newest CALIBRATION_SET of them (in the order
        the queue asks for checks) wait; older ones train."""
        if self.trained_labels is None:
            return np.zeros(0, np.int64)
        order = check_order(len(labels))
        rows = order[labels[order] >= 0]  # labeled checks, oldest first
        rows = rows[~np.isin(rows, np.asarray(self.trained_labels, np.int64))]
        if config.calibration == "end":
            rows = rows[-CALIBRATION_SET:]
        return np.sort(rows)

    def _graph_of(
        self, images: np.ndarray | torch.Tensor, config: SSVAEConfig, labeled: np.ndarray
    ) -> GraphSource | None:
        """What builds (the first time) the images' neighbour graph when this session spreads
        labels (some labeled, some not, the terms on), else None."""
        n = len(images)
        if not (config.propagation_weight > 0 and config.consistency_weight > 0):
            return None
        if not 0 < len(labeled) < n:
            return None
        if self._graph is None or self._graph[0] is not images:
            array = images.cpu().numpy() if isinstance(images, torch.Tensor) else images
            self._graph = (images, PixelGraph(array))
        return self._graph[1].get

    def predict(self, images: np.ndarray | torch.Tensor, **kwargs: Any) -> Predictions:
        """`ssvae.nn.model.predict` on this model, waiting for a running session to finish."""
        with self._lock:
            return predict(self.model, images, device=self.device, **kwargs)

    def _threads_in_use(self) -> int:
        return self.threads.in_use

    def snapshot(self) -> TrainerSnapshot:
        """A consistent copy of what the trainer records, for readers in other threads."""
        with self._state:
            return TrainerSnapshot(
                self.config,
                self.epochs_trained,
                [dict(r) for r in self.history],
                [dict(s) for s in self.sessions],
            )

    def record_evaluation(self, number: int, evaluation: dict[str, Any]) -> None:
        """Store how session `number`'s weights did in its entry (saved with the entries)."""
        with self._state:
            record_evaluation(self.sessions, number, evaluation)

    def checkpoint_payload(
        self,
        dataset: str,
        history: Sequence[dict[str, Any]] | None = None,
        test_accuracy: float | None = None,
    ) -> dict[str, Any]:
        """Keyword arguments for `save_checkpoint(path, **payload)`."""
        return {
            "model": self.model,
            "optimizer": self.optimizer,
            "config": self.config,
            "epochs_trained": self.epochs_trained,
            "dataset": dataset,
            "history": list(self.history if history is None else history),
            "sessions": [dict(s) for s in self.sessions],
            "test_accuracy": test_accuracy,
            "temperature": self.model.temperature,
            "trained_labels": self.trained_labels,
        }

    def _apply_hparams(self) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.learning_rate
            group["weight_decay"] = self.config.weight_decay if group["decay"] else 0.0


class _Bookkeeper(TrainingCallback):
    """Counts epochs, keeps history and session entries, before any user callback sees them."""

    def __init__(self, owner: InteractiveTrainer) -> None:
        self.owner = owner

    def on_train_start(self, event: TrainStart) -> None:
        with self.owner._state:
            self.owner.sessions.append(open_session(event))

    def on_epoch_end(self, event: EpochRecord) -> None:
        with self.owner._state:
            self.owner.epochs_trained = event.global_epoch
            self.owner.history.append(event.to_dict())

    def on_train_end(self, event: TrainResult) -> None:
        with self.owner._state:
            close_session(self.owner.sessions[-1], event)


def make_optimizer(model: torch.nn.Module, config: SSVAEConfig) -> torch.optim.AdamW:
    """AdamW (Adam when weight_decay is 0), fused where torch supports it.

    Two parameter groups: weight matrices and kernels decay, biases and norm scales
    (1-D tensors) never do; a `decay` flag in each group says which is which. The fused
    kernel makes a step of this small model ~6x cheaper on CPU, about a third of a batch.
    """
    decay = [p for p in model.parameters() if p.ndim >= 2]
    keep = [p for p in model.parameters() if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay, "decay": True},
        {"params": keep, "weight_decay": 0.0, "decay": False},
    ]
    try:
        return torch.optim.AdamW(groups, lr=config.learning_rate, fused=True)
    except (RuntimeError, ValueError):  # device or dtype without a fused kernel
        return torch.optim.AdamW(groups, lr=config.learning_rate)


def _two_groups(
    state: dict[str, Any], optimizer: torch.optim.Optimizer, model: torch.nn.Module
) -> dict[str, Any]:
    """An optimizer state saved with one parameter group (older checkpoints) split like ours.

    The saved state is keyed by parameter index in `model.parameters()` order; our groups
    list the same parameters, so only the groups' index lists change.
    """
    saved = state.get("param_groups", [])
    if len(saved) != 1 or len(optimizer.param_groups) != 2:
        return state
    index = {id(p): i for i, p in enumerate(model.parameters())}
    ids = saved[0]["params"]
    if len(ids) != len(index):
        return state  # load_state_dict names the mismatch
    groups = [
        {**saved[0], "params": [ids[index[id(p)]] for p in g["params"]], "decay": g["decay"]}
        for g in optimizer.param_groups
    ]
    groups[1]["weight_decay"] = 0.0
    return {**state, "param_groups": groups}
