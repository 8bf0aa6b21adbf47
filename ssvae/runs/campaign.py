"""Running a whole simulation plan: which runs are left, their warm starts, their rows.

`run_simulation` is the driver every path shares. It reads what results.csv already holds
(so the same command resumes), computes what is shared (each seed's warm start, once; the
images' features for "typical", once), hands the runs to an executor and writes every row
the moment it arrives. Executors only run things: `SerialExecutor` here, in this process
(`alctl simulate --workers 1`), or `ssvae.runs.ray_executor.RayExecutor` on a local Ray or
a cluster. Both call what `run_rows` names (`ssvae.runs.simulate.run_rounds`, or under the
page protocol `ssvae.runs.page_protocol.run_page`), so the numbers do not depend on where a run
ran.

Everything goes into the run's own directory: `results.csv`, `pretrain-seed<k>*.pt` (the
warm starts, for a resumed run), and what the caller adds (summary.csv, accuracy.png). The
user's labels and checkpoint are never read or written.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from ssvae.data.datasets import Dataset
from ssvae.runs.sim_results import append_result, check_columns, read_results
from ssvae.runs.simulate import (
    PRESS,
    Plan,
    RunFailed,
    RunSpec,
    WarmStart,
    pool_subset,
    pretrain,
    run_rounds,
    setting_text,
    torch_threads,
)


def run_rows(plan: Plan) -> Callable[..., Iterator[dict[str, Any]]]:
    """The function that runs one run of the plan's protocol and yields its results rows
    (`run_rounds`, or `run_page`: the same arguments); what every executor runs."""
    if plan.protocol == "page":
        from ssvae.runs.page_protocol import run_page

        return run_page
    return run_rounds


@dataclass
class Progress:
    done: int  # rows finished (resumed ones included): rounds, or under the page protocol presses
    total: int
    row: dict[str, Any] | None = None  # the row just finished
    run: RunSpec | None = None  # the run it belongs to
    note: str | None = None  # something to tell: a run retried, a run given up


class RunsFailed(Exception):
    """Some runs could not finish; every other run did, and every row written stays."""

    def __init__(self, failures: Sequence[tuple[RunSpec, str]]) -> None:
        self.failures = list(failures)
        named = "; ".join(f"{spec.label}: {reason}" for spec, reason in self.failures)
        super().__init__(f"{len(self.failures)} run(s) did not finish ({named})")


@dataclass
class Work:
    """What an executor runs: the pending runs of a plan and what they share."""

    dataset: Dataset  # the pool the runs train on
    plan: Plan
    runs: list[RunSpec]
    warm: dict[tuple[Any, ...], WarmStart | None]  # None: to compute (plan.pretrain_epochs)
    features: np.ndarray | None  # pixel_pca of the pool, when a strategy needs it
    device: str | None = None
    stop_event: threading.Event | None = None


class Sink(Protocol):
    """Where an executor reports (always from the thread that called `execute`)."""

    def warm_started(self, key: tuple[Any, ...], warm: WarmStart) -> None: ...
    def row(self, spec: RunSpec, row: dict[str, Any]) -> None: ...
    def failed(self, spec: RunSpec, reason: str) -> None: ...
    def note(self, text: str) -> None: ...


class Executor(Protocol):
    def execute(self, work: Work, sink: Sink) -> None:
        """Run every run of `work`; return when all ended or `work.stop_event` is set.

        KeyboardInterrupt leaves after stopping what runs; rows already reported stay.
        """

    def where(self) -> str:
        """Where the runs go, for people: "on a local Ray, 8 runs at once"."""


@dataclass
class SerialExecutor:
    """One run after another in this process (no Ray), as many torch threads as asked."""

    threads_per_run: int = 1

    def where(self) -> str:
        return "in this process, one run after another"

    def execute(self, work: Work, sink: Sink) -> None:
        with torch_threads(self.threads_per_run):
            for spec in work.runs:
                if work.stop_event is not None and work.stop_event.is_set():
                    return
                try:
                    warm = self._warm(work, spec, sink)
                    rows = run_rows(work.plan)(
                        work.dataset,
                        work.plan,
                        spec,
                        warm,
                        features=work.features,
                        device=work.device,
                        stop_event=work.stop_event,
                    )
                    for row in rows:
                        sink.row(spec, row)
                except RunFailed as exc:
                    sink.failed(spec, str(exc))

    @staticmethod
    def _warm(work: Work, spec: RunSpec, sink: Sink) -> WarmStart | None:
        if not work.plan.pretrain_epochs:
            return None
        key = spec.warm_key()
        warm = work.warm.get(key)
        if warm is None:
            warm = pretrain(work.dataset, work.plan, spec, work.device)
            work.warm[key] = warm
            sink.warm_started(key, warm)
        return warm


def run_simulation(
    dataset: Dataset,
    plan: Plan,
    out_dir: Path,
    *,
    executor: Executor | None = None,
    device: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop_event: threading.Event | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every run of the plan and return all result rows, as stored.

    Stops early and cleanly when `stop_event` is set; rows written so far stay. Runs that
    could not finish raise RunsFailed at the end, after all the others did.
    """
    plan.validate(dataset.n_train)
    dataset = pool_subset(dataset, plan.pool)
    out_dir.mkdir(parents=True, exist_ok=True)
    sink = _Writer(plan, out_dir, dataset.name, on_progress)
    runs = [spec for spec in plan.runs() if not sink.finished(spec)]
    sink.report(Progress(len(sink.done), sink.total))
    if runs:
        warm = {
            spec.warm_key(): load_warm_start(out_dir, plan, spec, dataset.name)
            for spec in runs
            if plan.pretrain_epochs
        }
        features = None
        if "typical" in {spec.strategy for spec in runs}:  # computed once, shared by all
            from ssvae.data.pixel_features import pixel_pca

            features = pixel_pca(dataset.train_images)
        work = Work(dataset, plan, runs, warm, features, device, stop_event)
        (executor or SerialExecutor()).execute(work, sink)
    if sink.failures:
        raise RunsFailed(sink.failures)
    return read_results(sink.results)  # as stored, so a resumed run returns the same numbers


@dataclass
class _Writer:
    """The driver's side of a simulation: each new row into results.csv at once."""

    plan: Plan
    out_dir: Path
    dataset_name: str
    on_progress: Callable[[Progress], None] | None
    failures: list[tuple[RunSpec, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.results = self.out_dir / "results.csv"
        self.keys = self.plan.result_keys()
        self.fields = self.plan.result_fields()
        check_columns(self.results, self.keys, self.fields)
        columns = [*self.keys, "strategy", "seed", "round"]
        # The rows results.csv holds, keyed as RunSpec.key() (all text).
        self.done = {tuple(str(r[c]) for c in columns) for r in read_results(self.results)}
        self.total = len(self.plan.runs()) * len(self.plan.row_ids())

    def finished(self, spec: RunSpec) -> bool:
        return all(spec.key(r, p) in self.done for r, p in self.plan.row_ids())

    def report(self, progress: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(progress)

    def row(self, spec: RunSpec, row: dict[str, Any]) -> None:
        key = spec.key(row["round"], row.get(PRESS))
        if key in self.done:  # a resumed or retried run replays its finished rows
            return
        append_result(self.results, row, self.keys, self.fields)
        self.done.add(key)
        self.report(Progress(len(self.done), self.total, row, spec))

    def warm_started(self, key: tuple[Any, ...], warm: WarmStart) -> None:
        settings, seed = key
        spec = RunSpec(settings, "", seed)
        save_warm_start(self.out_dir, self.plan, spec, warm, self.dataset_name)

    def failed(self, spec: RunSpec, reason: str) -> None:
        self.failures.append((spec, reason))
        self.report(Progress(len(self.done), self.total, None, spec, f"did not finish: {reason}"))

    def note(self, text: str) -> None:
        self.report(Progress(len(self.done), self.total, note=text))


def warm_start_path(out_dir: Path, spec: RunSpec) -> Path:
    """`pretrain-seed<k>.pt`, with the swept settings in the name when there are any."""
    extra = "".join(f"_{k}={setting_text(v)}" for k, v in spec.settings)
    return out_dir / re.sub(r"[^A-Za-z0-9._=+,-]", "-", f"pretrain-seed{spec.seed}{extra}.pt")


def load_warm_start(out_dir: Path, plan: Plan, spec: RunSpec, dataset: str) -> WarmStart | None:
    """The warm start a stopped run already computed; None when there is none that fits."""
    from ssvae.io.checkpoint import load_checkpoint

    ckpt = load_checkpoint(warm_start_path(out_dir, spec), dataset=dataset)
    config = plan.config(spec.seed, spec.settings)
    if ckpt is None or ckpt.config.architecture() != config.architecture():
        return None
    return WarmStart(dict(ckpt.model_state), ckpt.epochs_trained, list(ckpt.history))


def save_warm_start(
    out_dir: Path, plan: Plan, spec: RunSpec, warm: WarmStart, dataset: str
) -> None:
    from ssvae.io.checkpoint import save_checkpoint

    save_checkpoint(
        warm_start_path(out_dir, spec),
        model=warm.model_state,
        optimizer=None,
        config=plan.config(spec.seed, spec.settings),
        epochs_trained=warm.epochs_trained,
        dataset=dataset,
        history=warm.history,
    )
