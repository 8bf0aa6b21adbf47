"""The active-learning loop with the ground truth as the oracle and no human.

Each (seed, strategy) run starts from the same seeded random `start` labels (and the
same warm-started model), then repeats: train `epochs_per_round` epochs with exactly the
trainer the tool uses (continuing, as a user's sessions do), measure test accuracy and
calibration, rank the unlabeled pool with `ssvae.select.ranking.rank` on calibrated
probabilities, and let the oracle reveal the `step` chosen labels.

Honest calibration: after a round the oracle reveals the next `step` picks, which the
weights have never seen; the temperature is fitted on exactly those (the tool can do the
same with the labels a user gives after a session). ECE is measured on the test split
with T = 1 ("raw"), with the fitted T ("calibrated") and with the T fitted in the round
before ("carried": what the page shows right after a session, before new labels come).

Everything goes into the run's own directory: `results.csv` (one row per finished
round; a rerun skips what it holds, so a stopped run resumes), `pretrain-seed<k>.pt`
(the warm start), `summary.csv` and `accuracy.png`. The user's labels and checkpoint are
never read or written.
"""

from __future__ import annotations

import csv
import dataclasses
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.config import SSVAEConfig, default_config
from ssvae.data.datasets import Dataset
from ssvae.data.pixel_features import PixelFeatures
from ssvae.io.atomic import atomic_write
from ssvae.io.checkpoint import load_checkpoint, save_checkpoint
from ssvae.nn.model import class_logits
from ssvae.nn.restore import build_model
from ssvae.select.ranking import MODEL_FREE, STRATEGIES, rank
from ssvae.train.calibration import expected_calibration_error, fit_temperature, softmax
from ssvae.train.trainer import InteractiveTrainer

RESULT_FIELDS = (
    "strategy",
    "seed",
    "round",
    "n_labels",
    "test_accuracy",
    "ece_raw",
    "ece_calibrated",
    "ece_carried",
    "temperature",
    "wall_s",
)


class Oracle:
    """The ground truth, revealed only for the samples asked about."""

    def __init__(self, truth: np.ndarray) -> None:
        self._truth = np.asarray(truth, dtype=np.int64).copy()
        self._known = np.full(len(self._truth), -1, np.int64)

    def reveal(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """The true labels of `indices`; from now on they are part of `labels()`."""
        idx = np.asarray(indices, dtype=np.int64)
        self._known[idx] = self._truth[idx]
        return self._known[idx].copy()

    def labels(self) -> np.ndarray:
        """int64 [N]: revealed labels, -1 everywhere else (what the trainer gets)."""
        return self._known.copy()

    @property
    def labeled_mask(self) -> np.ndarray:
        return self._known >= 0


@dataclass
class Plan:
    strategies: list[str]
    start: int = 20  # random labels before the first round; 0: the first round trains unlabeled
    step: int = 20  # labels the strategy picks after each round
    rounds: int = 5  # rounds trained and measured: start, start + step, ...
    epochs_per_round: int = 5
    seeds: int = 1  # seeds 0 .. seeds-1
    pretrain_epochs: int = 0  # unsupervised warm start before the first labels
    pool: int = 0  # train on a fixed random subset of this many training images; 0 = all
    overrides: dict[str, Any] = field(default_factory=dict)  # SSVAEConfig fields

    def validate(self, n_train: int) -> None:
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            named = ", ".join(bad) or "(none)"
            raise ValueError(f"unknown strategy {named}; choose from {', '.join(STRATEGIES)}")
        for name, low in (("start", 0), ("step", 1), ("rounds", 1), ("epochs_per_round", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if not isinstance(self.seeds, int) or not 1 <= self.seeds <= 100:
            raise ValueError(f"seeds must be an integer in [1, 100], got {self.seeds!r}")
        if isinstance(self.pool, bool) or not isinstance(self.pool, int) or self.pool < 0:
            raise ValueError(f"pool must be an integer >= 0, got {self.pool!r}")
        if self.pool:
            n_train = min(n_train, self.pool)
        if self.pretrain_epochs < 0:
            raise ValueError(f"pretrain_epochs must be >= 0, got {self.pretrain_epochs!r}")
        needed = self.start + self.step * self.rounds
        if needed > n_train:
            raise ValueError(f"the plan needs {needed} labels but the dataset has {n_train}")
        self.config(0)  # bad overrides fail now, not after an hour

    def config(self, seed: int, dataset: str = "") -> SSVAEConfig:
        """A new model's settings, as the page would make them for `dataset`."""
        return default_config(dataset).replace(**{**self.overrides, "seed": seed})

    def label_counts(self) -> list[int]:
        return [self.start + self.step * r for r in range(self.rounds)]


@dataclass
class Progress:
    done: int  # rounds finished (resumed ones included)
    total: int
    row: dict[str, Any] | None  # the round just finished


def run_simulation(
    dataset: Dataset,
    plan: Plan,
    out_dir: Path,
    *,
    device: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop_event: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every (seed, strategy) and return all result rows.

    Stops early and cleanly when `stop_event` is set; rows written so far stay.
    """
    plan.validate(dataset.n_train)
    dataset = pool_subset(dataset, plan.pool)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.csv"
    done = {(r["strategy"], r["seed"], r["round"]) for r in read_results(results)}
    total = plan.seeds * len(plan.strategies) * plan.rounds
    if on_progress:
        on_progress(Progress(len(done), total, None))
    features = PixelFeatures(dataset.train_images)  # "typical"'s, computed once if asked for
    for seed in range(plan.seeds):
        for strategy in plan.strategies:
            todo = [r for r in range(plan.rounds) if (strategy, seed, r) not in done]
            if not todo:
                continue
            if stop_event is not None and stop_event.is_set():
                return read_results(results)
            for row in _run_one(
                dataset, plan, out_dir, strategy, seed, device, stop_event, features
            ):
                if (strategy, seed, row["round"]) not in done:
                    append_result(results, row)
                    done.add((strategy, seed, row["round"]))
                    if on_progress:
                        on_progress(Progress(len(done), total, row))
    return read_results(results)  # as stored, so a resumed run returns the same numbers


def pool_subset(dataset: Dataset, pool: int) -> Dataset:
    """The dataset with its training split cut to a fixed random `pool` images (0: as is).

    For quick comparisons on a small machine; the test split stays whole.
    """
    if not pool or pool >= dataset.n_train:
        return dataset
    keep = np.sort(np.random.default_rng(12345).permutation(dataset.n_train)[:pool])
    return dataclasses.replace(
        dataset,
        train_images=dataset.train_images[keep],
        train_targets=dataset.train_targets[keep],
        source=f"{dataset.source}, a fixed pool of {pool} training images",
    )


def _run_one(
    dataset: Dataset,
    plan: Plan,
    out_dir: Path,
    strategy: str,
    seed: int,
    device: str | None,
    stop_event: threading.Event | None,
    features: PixelFeatures,
) -> Any:
    """Yield one row per round; a resumed run replays its rounds (cheaper than storing them)."""
    trainer = _warm_start(dataset, plan, out_dir, seed, device)
    oracle = Oracle(dataset.train_targets)
    first = np.random.default_rng(seed).permutation(dataset.n_train)[: plan.start]
    oracle.reveal(first)
    started = time.perf_counter()
    for round_no in range(plan.rounds):
        result = trainer.train(
            dataset.train_images,
            oracle.labels(),
            epochs=plan.epochs_per_round,
            stop_event=stop_event,
        )
        if result.status in ("stopped", "failed"):
            if result.status == "failed":
                raise RuntimeError(f"training failed ({strategy}, seed {seed}): {result.error}")
            return
        model = trainer.model
        carried = model.temperature
        n_labels = int(oracle.labeled_mask.sum())
        test_logits = class_logits(model, dataset.test_images)
        if strategy in ("random", *MODEL_FREE):  # no predictions: spare the pass over the pool
            probs, latent = np.zeros((dataset.n_train, 2)), None
        else:  # calibrated by the last honest fit, as the page's queue gets them
            pool = trainer.predict(dataset.train_images, reconstruct=False)
            probs, latent = pool.probs, pool.latent
        picks = rank(
            strategy,
            probs,
            latent,
            oracle.labeled_mask,
            plan.step,
            seed=seed * 1000 + round_no,
            features=features.get() if strategy == "typical" else None,
        ).indices
        oracle.reveal(picks)
        pick_logits = class_logits(model, dataset.train_images[picks])
        temperature = fit_temperature(pick_logits, dataset.train_targets[picks])
        if n_labels:  # as the tool does: a classifier that saw no label is not calibrated
            model.temperature = temperature
        yield {
            "strategy": strategy,
            "seed": seed,
            "round": round_no,
            "n_labels": n_labels,
            "test_accuracy": _accuracy(test_logits, dataset.test_targets),
            "ece_raw": _ece(test_logits, dataset.test_targets, 1.0),
            "ece_calibrated": _ece(test_logits, dataset.test_targets, temperature),
            "ece_carried": _ece(test_logits, dataset.test_targets, carried),
            "temperature": temperature,
            "wall_s": time.perf_counter() - started,
        }


def _warm_start(
    dataset: Dataset, plan: Plan, out_dir: Path, seed: int, device: str | None
) -> InteractiveTrainer:
    """A fresh trainer, after `pretrain_epochs` unsupervised epochs (cached per seed)."""
    config = plan.config(seed, dataset.name)
    if not plan.pretrain_epochs:
        return InteractiveTrainer(config, device)
    path = out_dir / f"pretrain-seed{seed}.pt"
    ckpt = load_checkpoint(path, dataset=dataset.name)
    if ckpt is None or ckpt.config.architecture() != config.architecture():
        trainer = InteractiveTrainer(config, device)
        no_labels = np.full(dataset.n_train, -1, np.int64)
        trainer.train(dataset.train_images, no_labels, epochs=plan.pretrain_epochs)
        save_checkpoint(path, **trainer.checkpoint_payload(dataset.name))
        ckpt = load_checkpoint(path, dataset=dataset.name)
        assert ckpt is not None
    model, _ = build_model(ckpt, config)
    return InteractiveTrainer(config, device, model, None, ckpt.epochs_trained, ckpt.history)


def _accuracy(logits: np.ndarray, targets: np.ndarray) -> float:
    return float((logits.argmax(axis=1) == targets).mean())


def _ece(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    probs = softmax(logits, temperature)
    return expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == targets)


def read_results(path: Path) -> list[dict[str, Any]]:
    """Rows of results.csv (numbers parsed); [] when there is none yet."""
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("seed", "round", "n_labels"):
            row[key] = int(row[key])
        for key in RESULT_FIELDS[4:]:
            row[key] = float(row[key])
    return rows


def append_result(path: Path, row: dict[str, Any]) -> None:
    """Add one row, rewriting the file atomically so a kill never leaves half a line."""
    rows = [*read_results(path), row]
    with atomic_write(path) as handle:
        text = ",".join(RESULT_FIELDS) + "\n" + "".join(_csv_line(r) for r in rows)
        handle.write(text.encode())


def _csv_line(row: dict[str, Any]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.6g}" if isinstance(value, float) else str(value)

    return ",".join(fmt(row[k]) for k in RESULT_FIELDS) + "\n"


def summarize(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (strategy, n_labels): mean and spread (sample std) over seeds of accuracy and ECE."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["strategy"], int(row["n_labels"])), []).append(row)
    out = []
    for (strategy, n_labels), group in sorted(groups.items()):
        acc = np.array([r["test_accuracy"] for r in group])
        out.append(
            {
                "strategy": strategy,
                "n_labels": n_labels,
                "seeds": len(group),
                "accuracy_mean": float(acc.mean()),
                "accuracy_std": float(acc.std(ddof=1)) if len(acc) > 1 else 0.0,
                "ece_raw_mean": float(np.mean([r["ece_raw"] for r in group])),
                "ece_calibrated_mean": float(np.mean([r["ece_calibrated"] for r in group])),
                "ece_carried_mean": float(np.mean([r["ece_carried"] for r in group])),
                "wall_s_mean": float(np.mean([r["wall_s"] for r in group])),
            }
        )
    return out


def write_summary(path: Path, summary: Sequence[dict[str, Any]]) -> None:
    if not summary:
        return
    keys = list(summary[0])
    lines = [",".join(keys)] + [
        ",".join(f"{s[k]:.6g}" if isinstance(s[k], float) else str(s[k]) for k in keys)
        for s in summary
    ]
    with atomic_write(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode())


def plot_summary(path: Path, summary: Sequence[dict[str, Any]], title: str) -> None:
    """Test accuracy vs labels, one line per strategy, a band of ± one spread."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy in sorted({s["strategy"] for s in summary}):
        part = [s for s in summary if s["strategy"] == strategy]
        x = np.array([s["n_labels"] for s in part])
        y = np.array([s["accuracy_mean"] for s in part]) * 100
        spread = np.array([s["accuracy_std"] for s in part]) * 100
        ax.plot(x, y, marker="o", label=strategy)
        ax.fill_between(x, y - spread, y + spread, alpha=0.15)
    ax.set_xlabel("labels")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)


def format_table(summary: Sequence[dict[str, Any]]) -> str:
    """A plain-text table: rows = label counts, columns = strategies (mean ± spread %)."""
    strategies = sorted({s["strategy"] for s in summary})
    counts = sorted({s["n_labels"] for s in summary})
    cell = {(s["strategy"], s["n_labels"]): s for s in summary}
    header = ["labels", *strategies]
    lines = [header]
    for n in counts:
        line = [str(n)]
        for strategy in strategies:
            s = cell.get((strategy, n))
            line.append(
                "-"
                if s is None
                else f"{100 * s['accuracy_mean']:.1f} ± {100 * s['accuracy_std']:.1f}"
            )
        lines.append(line)
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    padded = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in lines]
    return "\n".join(padded)
