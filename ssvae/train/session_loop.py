"""The epoch/batch loop of one training session (run by ssvae.train.trainer.InteractiveTrainer).

This is the one place a session's steps happen: a batch's loss and update, validation,
the early-stopping and stop checks, and the callbacks. New loss terms belong in
ssvae.nn.losses; new per-epoch checks belong in `run()`.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ssvae.config import N_CLASSES, SSVAEConfig
from ssvae.config.model_config import SPARSE_CLASSIFIERS
from ssvae.data.augment import jitter
from ssvae.data.pixel_graph import NeighbourGraph, spread_targets
from ssvae.nn.losses import ClassPrior, LossTerms, ssvae_loss, weighted_total
from ssvae.nn.model import SSVAE, SSVAEOutput, class_logits
from ssvae.records.events import (
    BatchProgress,
    EpochRecord,
    TrainingCallback,
    TrainResult,
    TrainStart,
)
from ssvae.records.sessions import now_iso
from ssvae.train.batches import TrainingData
from ssvae.train.calibration import MIN_LABELS, fit_temperature
from ssvae.train.divergence import Diverged, DivergenceGuard

_NAN = float("nan")
JITTERED_SHARE = 0.5  # of a batch's rows, at most, get the consistency pass (its cost)
CALIBRATE_AT = 0.9  # of a session's batches: when its check labels are calibrated on, then train


# Builds (the first time) and returns the images' neighbour graph, calling `pace` between steps.
GraphSource = Callable[[Callable[[], None] | None], NeighbourGraph]


class _Stopped(Exception):
    """A stop came while the session was still preparing."""


class NonFiniteLoss(RuntimeError):
    """The loss or the gradient norm stopped being a finite number."""


class SessionLoop:
    """Runs epochs, validation, early stopping and callbacks for one session."""

    def __init__(
        self,
        model: SSVAE,
        optimizer: torch.optim.Optimizer,
        config: SSVAEConfig,
        data: TrainingData,
        callbacks: list[TrainingCallback],
        checks: np.ndarray | None = None,
        threads_in_use: Callable[[], int] = torch.get_num_threads,
        graph: GraphSource | None = None,
    ) -> None:
        self.model, self.optimizer, self.config = model, optimizer, config
        # The count the events report: the trainer's choice, not a short timing of another.
        self.threads_in_use = threads_in_use
        self.data, self.callbacks = data, callbacks
        self.batches = data.batches_per_epoch(config.batch_size)
        self.guard = DivergenceGuard(None)  # replaced with the session's start in run()
        # The pseudo-labels' class shares, learnt afresh each session (see ClassPrior).
        self.prior = ClassPrior() if config.consistency_align == "uniform" else None
        # Check labels the weights have not trained on (ssvae.select.checks): with enough of
        # them they wait until CALIBRATE_AT of the session's batches, the temperature is
        # fitted on them, then they train like every label ("late"); or they wait the whole
        # session and the fit is on its final weights ("end": the switch never comes).
        self.temperature: float | None = None
        self.calibration_labels = 0
        self._switch_at: float | None = None
        if checks is not None and len(checks) >= MIN_LABELS:
            data.withhold(checks)
            self._switch_at = CALIBRATE_AT if config.calibration == "late" else math.inf
        # Classes spread from the labels that train along the images' neighbour graph (given
        # when the session spreads), once it has said it started: the first build takes seconds.
        self.graph = graph
        self.spread_rows = 0

    @property
    def withheld(self) -> np.ndarray:
        """The labeled rows that did not train in this session (checks it stopped before)."""
        rows = self.data.withheld
        return np.zeros(0, np.int64) if rows is None else rows.cpu().numpy()

    def run(
        self, epochs: int, session: int, start_epoch: int, stop_event: threading.Event | None
    ) -> TrainResult:
        started = time.perf_counter()
        good = _snapshot(self.model, self.optimizer)
        temperature = self.model.temperature
        epochs_run, status, error = 0, "completed", None
        try:
            self._emit(
                "on_train_start",
                TrainStart(
                    session,
                    epochs,
                    start_epoch,
                    self.batches,
                    self.config.to_dict(),
                    int((self.data.all_labels >= 0).sum()),
                    now_iso(),
                    self.threads_in_use(),
                ),
            )
            # A stop while the graph is built (seconds, the first time) ends the session at once.
            ready = self.graph is None or self._spread(self.graph, stop_event)
            status = "completed" if ready else "stopped"
            generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + start_epoch)
            start_val = self._validate()["loss"] if self.data.val_idx.numel() else None
            self.guard = DivergenceGuard(start_val)
            best, stale = math.inf, 0
            for epoch in range(1, epochs + 1 if ready else 1):
                epoch_started = time.perf_counter()
                clock = (session, epoch, epochs, started)
                train = self._train_epoch(clock, generator, stop_event)
                if train is None:
                    # A stop keeps whole epochs only: the unfinished one's updates go, so
                    # what is saved is exactly the epochs the history lists.
                    status = "stopped"
                    _restore(self.model, self.optimizer, good)
                    break
                val = self._validate()
                self.guard.check_epoch(train["loss"], val["loss"], epoch)  # before `good` moves
                epochs_run += 1
                record = EpochRecord(
                    session,
                    epoch,
                    start_epoch + epoch,
                    train,
                    val,
                    time.perf_counter() - epoch_started,
                    float(self.optimizer.param_groups[0]["lr"]),
                )
                good = _snapshot(self.model, self.optimizer)
                self._emit("on_epoch_end", record)
                watched = val["loss"] if self.data.val_idx.numel() else train["loss"]
                if best == math.inf or watched < best - 1e-4 * abs(best):
                    best, stale = watched, 0
                else:
                    stale += 1
                if self.config.patience and stale >= self.config.patience and epoch < epochs:
                    status = "early_stopped"
                    break
                if stop_event is not None and stop_event.is_set() and epoch < epochs:
                    status = "stopped"
                    break
            if self.config.lr_schedule == "cosine":  # the rate the optimizer is saved with
                for group in self.optimizer.param_groups:
                    group["lr"] = self.config.learning_rate
            if self._switch_at is not None:  # ended before any switch: its checks wait
                self._calibrate(release=False)
        except Exception as exc:  # the session fails; the trainer and its caller live on
            status, error = "failed", _describe(exc, start_epoch + epochs_run)
            _restore(self.model, self.optimizer, good)
            self.model.temperature, self.temperature = temperature, None
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        result = TrainResult(
            session,
            status,
            epochs_run,
            start_epoch + epochs_run,
            error,
            time.perf_counter() - started,
            self.temperature,
            self.calibration_labels if self.temperature is not None else 0,
        )
        self._emit("on_train_end", result)
        return result

    def _train_epoch(
        self,
        clock: tuple[int, int, int, float],
        generator: torch.Generator,
        stop_event: threading.Event | None,
    ) -> dict[str, float] | None:
        session, epoch, epochs, started = clock
        cfg, model = self.config, self.model
        params = [p for p in model.parameters() if p.requires_grad]
        max_norm = cfg.grad_clip if cfg.grad_clip > 0 else math.inf
        rows = labeled = 0
        total_sum = rec_sum = kl_sum = cls_sum = correct = 0.0
        model.train()
        batches = self.data.train_batches(
            cfg.batch_size, cfg.labeled_batch_size, generator, cfg.augment_labeled
        )
        for batch, (x, y, spread) in enumerate(batches, start=1):
            if stop_event is not None and stop_event.is_set():
                return None
            done = ((epoch - 1) * self.batches + batch - 1) / (epochs * self.batches)
            if self._switch_at is not None and done >= self._switch_at:
                self._calibrate(release=True)
            if cfg.lr_schedule == "cosine":
                for group in self.optimizer.param_groups:
                    group["lr"] = cfg.learning_rate * 0.5 * (1.0 + math.cos(math.pi * done))
            terms = batch_loss(model, x, y, cfg, generator, self.prior, spread)
            self.optimizer.zero_grad(set_to_none=True)
            terms.total.backward()
            norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
            scalars = [terms.total, norm, terms.reconstruction, terms.kl, terms.classification]
            # One device sync per batch for every number we need.
            values = torch.stack([t.detach() for t in (*scalars, terms.accuracy)]).tolist()
            total, norm_value, rec, kl, cls, acc = values
            if not (math.isfinite(total) and math.isfinite(norm_value)):
                what = "loss" if not math.isfinite(total) else "gradient norm"
                raise NonFiniteLoss(
                    f"{what} became {total if what == 'loss' else norm_value} at epoch {epoch}, "
                    f"batch {batch}; lower the learning rate or the loss weights"
                )
            self.guard.check_batch(total, epoch, batch)
            self.optimizer.step()
            size, n_lab = x.shape[0], terms.n_labeled
            rows, labeled = rows + size, labeled + n_lab
            total_sum, rec_sum, kl_sum = (
                total_sum + total * size,
                rec_sum + rec * size,
                kl_sum + kl * size,
            )
            if n_lab:
                cls_sum += cls * n_lab
                correct += acc * n_lab
            done = (epoch - 1) * self.batches + batch
            elapsed = time.perf_counter() - started
            eta = elapsed / done * (epochs * self.batches - done)
            threads = self.threads_in_use()
            progress = BatchProgress(
                session, epoch, epochs, batch, self.batches, total, elapsed, eta, threads
            )
            self._emit("on_batch_end", progress)
        return _metrics(total_sum / rows, rec_sum / rows, kl_sum / rows, cls_sum, correct, labeled)

    def _spread(self, graph: GraphSource, stop_event: threading.Event | None) -> bool:
        """Give unlabeled rows the classes spread from the labels that train (never from the
        withheld checks: the certainty is calibrated on what the weights know nothing of).
        False when `stop_event` came first."""

        def pace() -> None:
            if stop_event is not None and stop_event.is_set():
                raise _Stopped

        try:
            labels = self.data.labels.cpu().numpy()
            targets = spread_targets(graph(pace), labels, N_CLASSES, pace=pace)
        except _Stopped:
            return False
        self.data.spread_from(targets)
        self.spread_rows = int((targets >= 0).sum())
        return True

    def _calibrate(self, *, release: bool) -> None:
        """Fit the certainty's temperature on the withheld check labels (ones these weights
        have not trained on), then let them train when `release`."""
        rows = self.withheld
        targets = self.data.all_labels[torch.from_numpy(rows).to(self.data.labels.device)]
        logits = class_logits(self.model, self.data.images[torch.from_numpy(rows)])
        self.temperature = fit_temperature(logits, targets.cpu().numpy())
        self.calibration_labels = len(rows)
        self.model.temperature = self.temperature
        self._switch_at = None
        if release:
            self.data.release()

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        if not self.data.val_idx.numel():
            return _metrics(_NAN, _NAN, _NAN, 0.0, 0.0, 0)
        model, cfg = self.model, self.config
        model.eval()
        device = self.data.images.device
        # Sampled z (as in training) so train and val curves are comparable; fixed noise
        # so two evaluations of the same weights agree.
        noise = torch.Generator(device=device).manual_seed(cfg.seed)
        rows = labeled = 0
        rec_sum = kl_sum = cls_sum = correct = 0.0
        try:
            for x, y in self.data.val_batches():
                # Validation rows carry no label (they train): the classifier has nothing
                # to be measured on here, so it is not run.
                mu, logvar, _ = model.encode_latent(x)
                eps = torch.randn(mu.shape, generator=noise, device=device, dtype=mu.dtype)
                z = mu + eps * torch.exp(0.5 * logvar)
                none = torch.zeros(0, dtype=torch.int64, device=device)
                logits = mu.new_zeros((0, N_CLASSES))
                out = SSVAEOutput(model.decode(z), mu, logvar, z, logits, None, none)
                terms = ssvae_loss(out, x, y, cfg)
                rec, kl, cls, acc = torch.stack(
                    [terms.reconstruction, terms.kl, terms.classification, terms.accuracy]
                ).tolist()
                size, n_lab = x.shape[0], terms.n_labeled
                rows, labeled = rows + size, labeled + n_lab
                rec_sum, kl_sum = rec_sum + rec * size, kl_sum + kl * size
                if n_lab:
                    cls_sum, correct = cls_sum + cls * n_lab, correct + acc * n_lab
        finally:
            model.train()
        rec, kl = rec_sum / rows, kl_sum / rows
        total = weighted_total(cfg, rec, kl, cls_sum / labeled if labeled else 0.0)
        return _metrics(total, rec, kl, cls_sum, correct, labeled)

    def _emit(self, hook: str, event: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(event)


def batch_loss(
    model: SSVAE,
    x: torch.Tensor,
    y: torch.Tensor,
    config: SSVAEConfig,
    generator: torch.Generator,
    prior: ClassPrior | None = None,
    spread: torch.Tensor | None = None,
) -> LossTerms:
    """The loss of one training batch (`spread`: its rows' spread classes, -1 = none).

    With `consistency_weight`, up to `JITTERED_SHARE` of the batch's rows (unlabeled ones, in
    batch order, which is shuffled) also go through the encoder and classifier jittered; the
    VAE itself trains on the images as they are, so the latent the page shows is unchanged.
    A classifier with a convolutional trunk reads only the rows a term needs (the labeled
    ones and those jittered): the other rows train the VAE alone.
    """
    cons = None
    if config.consistency_weight > 0:
        cons = torch.nonzero(y < 0).squeeze(1)[: max(1, int(JITTERED_SHARE * len(y)))]
    if config.classifier_input in SPARSE_CLASSIFIERS:
        rows = torch.nonzero(y >= 0).squeeze(1)
        n_labeled = len(rows)
        if cons is not None:
            rows = torch.cat([rows, cons])
        out = model(x, rows)
        local = None if cons is None else torch.arange(n_labeled, len(rows), device=x.device)
    else:
        out, local = model(x), cons
    jittered = None
    if cons is not None and local is not None and cons.numel():
        mirror = config.consistency_augment == "shift_mirror"
        views = jitter(x[cons].squeeze(1), generator, mirror=mirror).unsqueeze(1)
        jittered = (local, model.classify_images(views))
    guide = spread[cons] if spread is not None and cons is not None else None
    return ssvae_loss(out, x, y, config, jittered, prior, guide)


def _metrics(
    loss: float, rec: float, kl: float, cls_sum: float, correct: float, labeled: int
) -> dict[str, float]:
    return {
        "loss": loss,
        "reconstruction_loss": rec,
        "kl_loss": kl,
        "classification_loss": cls_sum / labeled if labeled else _NAN,
        "accuracy": correct / labeled if labeled else _NAN,
    }


def _describe(exc: Exception, global_epoch: int) -> str:
    if isinstance(exc, torch.cuda.OutOfMemoryError):
        text = "out of GPU memory; lower batch_size"
    elif isinstance(exc, (NonFiniteLoss, Diverged)):
        text = str(exc)
    else:
        text = f"{type(exc).__name__}: {exc}"
    return f"{text} (weights rolled back to the end of epoch {global_epoch})"


def _snapshot(model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Copies of both state dicts (a few MB) to roll back to after a failure."""
    model_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    return model_state, copy.deepcopy(optimizer.state_dict())


def _restore(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: tuple[dict, dict]
) -> None:
    model.load_state_dict(state[0])
    optimizer.load_state_dict(state[1])
