"""The active-learning loop with the ground truth as the oracle and no human: one run.

A plan is the cartesian product settings × strategies × seeds (`Plan.runs()`); each run
(`RunSpec`) starts from the same seeded random `start` labels (and its seed's warm start),
then repeats: train `epochs_per_round` epochs with exactly the trainer the tool uses
(continuing, as a user's sessions do), rank the unlabeled pool with
`ssvae.select.ranking.rank` on calibrated probabilities, and let the oracle reveal the
`step` chosen labels. `run_rounds` is that loop, one row per round; where it runs (this
process, a Ray worker) is `ssvae.runs.campaign`'s business, and nothing in it depends on
that: the seeds, the order of the picks and the warm start are functions of the run alone,
so every place gives the same numbers. That is the plan's "rounds" protocol; its "page"
protocol, the page's own default path, is `ssvae.runs.page_protocol.run_page`.

A round is a session of the tool without its files: it runs the steps of the one
end-of-session pipeline (`ssvae.runs.pipeline`) that apply, in its order. Before training,
the blind check predicts the labels the weights have not trained on (the picks the oracle
just revealed) for the *blind accuracy* and fits the certainty's temperature on them;
after training, that temperature is carried to the new weights and `evaluate` measures
what a session record holds (test accuracy, the ECE of the certainty the page and queue
use, accuracy on the labels trained on, blind accuracy and its count). Saving, history and
the points cache are the pipeline steps that do not apply. Two more calibration figures on
the test split: `ece_raw` at T = 1 and `ece_calibrated` at the T the *next* blind check fits
on this round's weights (the best this round's certainty gets once new labels come).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssvae.config import SSVAEConfig, default_config
from ssvae.data.datasets import Dataset
from ssvae.select.ranking import STRATEGIES, rank

RESULT_FIELDS = (
    "strategy",
    "seed",
    "round",
    "n_labels",
    "test_accuracy",
    "test_ece",
    "blind_accuracy",  # empty: no label the weights had not trained on (or nothing learnt)
    "blind_n",
    "labeled_accuracy",
    "temperature",  # the certainty's, carried from the blind check (what test_ece used)
    "ece_raw",
    "ece_calibrated",
    "wall_s",
)
# The page protocol's rows: those, and what its press of Start training did (its `press`,
# 1, 2, ... per round, is a key column: ssvae.runs.page_protocol).
PAGE_FIELDS = (
    *RESULT_FIELDS[:-1],
    "calibration_labels",  # check labels the session's temperature was fitted on (0: none)
    "epochs_run",
    "session_s",  # the press's session: training, calibration, evaluation
    RESULT_FIELDS[-1],
)
# None is an empty cell; ece_calibrated: not taken under the page protocol (its sessions
# calibrate themselves, so test_ece is already at the fitted temperature).
OPTIONAL_FIELDS = ("blind_accuracy", "labeled_accuracy", "ece_calibrated")
PROTOCOLS = ("rounds", "page")
PRESS = "press"  # the page protocol's key column


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


def setting_text(value: Any) -> str:
    """A setting's value as results.csv holds it: `hidden`, `10`, `0.5`, `true`."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class RunSpec:
    """One run of a plan: its swept settings (in the plan's key order), strategy and seed."""

    settings: tuple[tuple[str, Any], ...]
    strategy: str
    seed: int

    @property
    def label(self) -> str:
        """For people: "margin seed 1", with the swept settings after it."""
        extra = " ".join(f"{k}={setting_text(v)}" for k, v in self.settings)
        return f"{self.strategy} seed {self.seed}" + (f" {extra}" if extra else "")

    def key(self, round_no: int, press: int | None = None) -> tuple[str, ...]:
        """The identity of one of its rows in results.csv (all text, as read back): a round,
        and under the page protocol a press of that round."""
        texts = tuple(setting_text(v) for _, v in self.settings)
        pressed = () if press is None else (str(press),)
        return (*texts, *pressed, self.strategy, str(self.seed), str(round_no))

    def warm_key(self) -> tuple[Any, ...]:
        """Runs with the same key share one warm start: the strategy does not matter."""
        return (self.settings, self.seed)


@dataclass
class Plan:
    strategies: list[str]
    start: int = 20  # labels before the first round (random; page: the queue's); 0: none
    step: int = 20  # labels the strategy picks after each round (page: before each later one)
    rounds: int = 5  # rounds trained and measured: start, start + step, ...
    epochs_per_round: int = 5  # page: 0 = each run's config's max_epochs (the page's default)
    seeds: int = 1  # seeds 0 .. seeds-1
    pretrain_epochs: int = 0  # unsupervised warm start before the first labels
    pool: int = 0  # train on a fixed random subset of this many training images; 0 = all
    overrides: dict[str, Any] = field(default_factory=dict)  # SSVAEConfig fields
    grid: dict[str, list[Any]] = field(default_factory=dict)  # swept SSVAEConfig fields
    protocol: str = "rounds"  # or "page": the page's default path (ssvae.runs.page_protocol)
    presses: int = 1  # page: presses of Start training per round (the later ones: no new label)
    defaults: str = ""  # a dataset: its new model's settings (default_config); "": SSVAEConfig()

    def validate(self, n_train: int) -> None:
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if bad or not self.strategies:
            named = ", ".join(bad) or "(none)"
            raise ValueError(f"unknown strategy {named}; choose from {', '.join(STRATEGIES)}")
        if len(set(self.strategies)) != len(self.strategies):
            raise ValueError(f"a strategy is named twice: {', '.join(self.strategies)}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(
                f"unknown protocol {self.protocol!r}; choose from {', '.join(PROTOCOLS)}"
            )
        page = self.protocol == "page"
        if self.presses != 1 and not page:
            raise ValueError("presses are for the page protocol; rounds train once each")
        if page and not self.defaults:
            raise ValueError("the page protocol starts from a dataset's defaults: name it")
        limits = (("start", 0), ("step", 1), ("rounds", 1), ("presses", 1))
        for name, low in (*limits, ("epochs_per_round", 0 if page else 1)):
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
        # The rounds protocol reveals its picks after the last round too.
        needed = self.start + self.step * (self.rounds - (1 if page else 0))
        if needed > n_train:
            raise ValueError(f"the plan needs {needed} labels but the dataset has {n_train}")
        self._validate_grid()
        self.config(0)  # bad overrides fail now, not after an hour

    def _validate_grid(self) -> None:
        for key, values in self.grid.items():
            if key == "seed":
                raise ValueError("seed is not a setting to sweep: use --seeds N")
            if key in self.overrides:
                raise ValueError(f"{key} is both set and swept; give it once")
            if not values:
                raise ValueError(f"the sweep over {key} has no values")
            if any(a == b for i, a in enumerate(values) for b in values[i + 1 :]):
                texts = ", ".join(setting_text(v) for v in values)
                raise ValueError(f"the sweep over {key} names a value twice: {texts}")
            for value in values:  # each value on its own, so the error names it
                try:
                    self._base().replace(**{**self.overrides, key: value})
                except (ValueError, TypeError) as exc:
                    raise ValueError(f"{key}={setting_text(value)}: {exc}") from exc
        for settings in self.settings_grid():
            self.config(0, settings)

    def config(self, seed: int, settings: Sequence[tuple[str, Any]] = ()) -> SSVAEConfig:
        return self._base().replace(**{**self.overrides, **dict(settings), "seed": seed})

    def _base(self) -> SSVAEConfig:
        return default_config(self.defaults) if self.defaults else SSVAEConfig()

    def result_keys(self) -> list[str]:
        """results.csv's key columns before the strategy: the swept settings (and the press)."""
        return [*self.grid, *([PRESS] if self.protocol == "page" else [])]

    def result_fields(self) -> tuple[str, ...]:
        """results.csv's columns after the keys."""
        return PAGE_FIELDS if self.protocol == "page" else RESULT_FIELDS

    def row_ids(self) -> list[tuple[int, int | None]]:
        """(round, press) of each row a run yields, in order; press None: the rounds protocol."""
        if self.protocol != "page":
            return [(r, None) for r in range(self.rounds)]
        return [(r, p) for r in range(self.rounds) for p in range(1, self.presses + 1)]

    def settings_grid(self) -> list[tuple[tuple[str, Any], ...]]:
        """Every combination of the swept settings, in the order given; [()] without a sweep."""
        keys = list(self.grid)
        combos = itertools.product(*self.grid.values())
        return [tuple(zip(keys, combo, strict=True)) for combo in combos]

    def runs(self) -> list[RunSpec]:
        """Every run, settings first, then seed, then strategy (a serial run's order)."""
        return [
            RunSpec(settings, strategy, seed)
            for settings in self.settings_grid()
            for seed in range(self.seeds)
            for strategy in self.strategies
        ]

    def label_counts(self) -> list[int]:
        return [self.start + self.step * r for r in range(self.rounds)]


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


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run with `n` torch threads, restoring the setting after.

    A simulation runs many small models side by side: one thread each keeps a batch at a
    steady few milliseconds under any load, where two threads per run fight for the cores
    (issue 17's figures), and the same count on every path keeps the numbers identical.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class WarmStart:
    """A seed's unsupervised warm start: what every run of that seed continues from.

    Plain tensors on the CPU, so it travels through Ray's object store and is written to
    `pretrain-*.pt` (a checkpoint file) for a resumed run.
    """

    model_state: dict[str, Any]
    epochs_trained: int
    history: list[dict[str, Any]]


def pretrain(dataset: Dataset, plan: Plan, spec: RunSpec, device: str | None = None) -> WarmStart:
    """`plan.pretrain_epochs` epochs without labels, from the run's seeded fresh model."""
    from ssvae.train.trainer import InteractiveTrainer

    trainer = InteractiveTrainer(
        plan.config(spec.seed, spec.settings), device, threads=_run_threads()
    )
    no_labels = np.full(dataset.n_train, -1, np.int64)
    result = trainer.train(dataset.train_images, no_labels, epochs=plan.pretrain_epochs)
    if result.status == "failed":
        raise RunFailed(f"its warm start failed: {result.error}")
    state = {k: v.detach().to("cpu").clone() for k, v in trainer.model.state_dict().items()}
    return WarmStart(state, trainer.epochs_trained, [dict(r) for r in trainer.history])


class RunFailed(Exception):
    """A run's training failed (e.g. the loss became NaN): that run ends, the others go on."""


def run_rounds(
    dataset: Dataset,
    plan: Plan,
    spec: RunSpec,
    warm: WarmStart | None,
    *,
    features: np.ndarray | None = None,
    device: str | None = None,
    stop_event: threading.Event | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one results row per round of the run, from round 0.

    A resumed run replays its rounds (cheaper than storing every model); the caller skips
    the rows it already has. `features` are the images' `pixel_pca` ("typical" needs them).
    """
    from ssvae.nn.model import class_logits
    from ssvae.runs.pipeline import blind_check, train_and_evaluate

    strategy, seed = spec.strategy, spec.seed
    trainer = fresh_trainer(plan.config(seed, spec.settings), warm, device)
    oracle = Oracle(dataset.train_targets)
    first = np.random.default_rng(seed).permutation(dataset.n_train)[: plan.start]
    oracle.reveal(first)
    images = dataset.train_images
    started = time.perf_counter()
    for round_no in range(plan.rounds):
        labels = oracle.labels()
        # The session pipeline's own steps (blind check, train, calibrate, evaluate), as a
        # press of Start training runs them, without its files.
        outcome = train_and_evaluate(
            trainer, dataset, labels, epochs=plan.epochs_per_round, stop_event=stop_event
        )
        result = outcome.result
        if result.status == "failed":
            raise RunFailed(f"training failed: {result.error}")
        if result.status == "stopped" or outcome.evaluation is None or outcome.points is None:
            return
        model, evaluation, pool = trainer.model, outcome.evaluation, outcome.points
        picks = rank(
            strategy,
            pool.probs,
            pool.latent,
            oracle.labeled_mask,
            plan.step,
            seed=seed * 1000 + round_no,
            features=features if strategy == "typical" else None,
        ).indices
        oracle.reveal(picks)
        # What the next round's blind check will fit on these weights: the picks, unseen.
        ahead = blind_check(model, images, oracle.labels(), trainer.seen_labels).temperature
        test_logits = class_logits(model, dataset.test_images)
        yield {
            **{key: setting_text(value) for key, value in spec.settings},
            "strategy": strategy,
            "seed": seed,
            "round": round_no,
            "n_labels": int((labels >= 0).sum()),
            **{key: evaluation[key] for key in SESSION_FIELDS},
            "temperature": float(model.temperature),
            "ece_raw": ece_at(test_logits, dataset.test_targets, 1.0),
            "ece_calibrated": ece_at(
                test_logits, dataset.test_targets, model.temperature if ahead is None else ahead
            ),
            "wall_s": time.perf_counter() - started,
        }


SESSION_FIELDS = ("test_accuracy", "test_ece", "blind_accuracy", "blind_n", "labeled_accuracy")


def fresh_trainer(config: SSVAEConfig, warm: WarmStart | None, device: str | None) -> Any:
    """A fresh trainer, continuing from the warm start when there is one."""
    from ssvae.nn.model import SSVAE
    from ssvae.train.trainer import InteractiveTrainer

    if warm is None:
        return InteractiveTrainer(config, device, threads=_run_threads())
    model = SSVAE(config)
    model.load_state_dict(warm.model_state)
    return InteractiveTrainer(
        config,
        device,
        model,
        None,
        warm.epochs_trained,
        warm.history,
        threads=_run_threads(),
    )


def _run_threads() -> Any:
    """The count `torch_threads` set for this run (`--threads-per-run`), held for the whole run.

    Not the trainer's policy: it would take every core for each of many runs side by side, and
    change the count mid-run, so a serial run's numbers would differ from the same run on Ray.
    """
    import torch

    from ssvae.train.threads import ThreadGovernor

    return ThreadGovernor.fixed(torch.get_num_threads(), "--threads-per-run")


def ece_at(logits: np.ndarray, targets: np.ndarray, temperature: float) -> float:
    """The test split's calibration error at `temperature` (15 bins, as a session's)."""
    from ssvae.train.calibration import expected_calibration_error, softmax

    probs = softmax(logits, temperature)
    return expected_calibration_error(probs.max(axis=1), probs.argmax(axis=1) == targets)
