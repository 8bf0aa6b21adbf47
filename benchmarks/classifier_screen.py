#!/usr/bin/env python3
"""The default model's classifier trained alone: a candidate screened in minutes, one table.

    python benchmarks/classifier_screen.py --seeds 0,1,2 --jsonl screen.jsonl
    python benchmarks/classifier_screen.py --seeds 0,1,2 --jobs 2 --ema 0.999 --ema-eval
    python benchmarks/classifier_screen.py --summarize screen.jsonl    # every candidate so far

What it reproduces. The default classifier (`classifier_input` "conv_only") reads the pixels
through a convolutional trunk of its own; the VAE never touches it, so its class terms can
train without the VAE and give the same classifier, several times faster. Each step is
`ssvae.train.session_loop.batch_loss`'s class terms on the model's own `trunk` and
`classifier` (`default_config(dataset)`, `--set` on top): `labeled_batch_size` labeled rows
drawn with replacement and jittered (`augment_labeled`), cross-entropy times `label_weight`;
the batch's first unlabeled rows (up to `JITTERED_SHARE` of the batch's rows, labeled ones
counted, as the product; `--share` changes it) for the consistency term, pseudo-labels from the
plain view (aligned by `ClassPrior`), a jittered view (`consistency_augment`) learning them,
`ssvae.nn.losses.pseudo_label_loss` itself, spread classes included: `ssvae.data.pixel_graph`
spreads the trained labels along the images' neighbour graph (`--spread-share` of the unlabeled
images, the most confident, get one; 0 = off) and an unlabeled row the classifier is not sure
of learns its spread class, weighted `--spread-weight`. AdamW (`make_optimizer`), cosine
learning rate, gradient clipping, the product's validation split left out of the batches,
`max_epochs` epochs. The labels: the queue's first `--n` picks (as bench_learning.py takes
them: the page protocol's own labeling) or `--n` random images; the check samples among them
(`ssvae.select.checks`) stay out of training, as the default `calibration` "end" keeps them,
and the temperature is fitted on them at the end (`fit_temperature`; with fewer than
`MIN_LABELS` checks they train and T = 1, as in the product).

What it leaves out: the VAE (its reconstruction and KL terms, and its rows' cost); the rows
of the shuffled batch that happen to be labeled (the product's classifier reads them beside the
`labeled_batch_size` drawn ones; a handful per epoch at 100 labels); early stopping, which the
default (`patience` 0) does not use.

One row per seed: test accuracy, ECE (15 bins) of the certainty after the temperature and
before it, T, the check labels it was fitted on, how many unlabeled rows got a spread class
and how many of those are right, training seconds. Then a Markdown table per candidate: mean ±
std over the seeds and each seed's value. `--jsonl FILE` appends the rows; `--summarize FILE`
prints the table of every candidate in FILE. The options under "candidates" that are not
product settings are screened here before they become any. `--threads 1` (default) is one torch
thread per run; `--jobs 2` runs seeds in parallel processes. Run it nice'd; say the load.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

try:
    import ssvae  # noqa: F401
except ImportError:  # run from a checkout: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch
import torch.nn.functional as F
from bench_learning import picks_of
from common import machine_load, markdown_table
from torch import nn

from alctl.cli.simulate_plan import parse_settings
from alctl.errors import UsageError
from ssvae.config import N_CLASSES, SSVAEConfig
from ssvae.config.model_config import default_config
from ssvae.data.augment import jitter
from ssvae.data.datasets import Dataset, load_dataset
from ssvae.data.pixel_graph import (
    SPREAD_SHARE,
    NeighbourGraph,
    nearest,
    neighbour_graph,
    pixel_graph,
    spread_targets,
)
from ssvae.nn.losses import ClassPrior, pseudo_label_loss
from ssvae.nn.model import SSVAE, class_logits, to_input
from ssvae.select.checks import check_mask
from ssvae.train.batches import validation_split
from ssvae.train.calibration import MIN_LABELS, expected_calibration_error, fit_temperature
from ssvae.train.session_loop import JITTERED_SHARE
from ssvae.train.trainer import make_optimizer

# Options that define a candidate (the rest say how to run it); the default name lists those
# given on the command line.
CANDIDATE_OPTIONS = (
    "set", "epochs", "share", "spread_share", "spread_weight", "refresh", "strong_view",
    "weak_view", "ema", "ema_eval", "ema_student_pl", "trunk_channels", "train_checks",
)  # fmt: skip
WEAK_VIEWS = ("plain", "mirror", "shift1")


@dataclass(frozen=True)
class StrongView:
    """A stronger view for the consistency term than the product's jitter: a larger shift,
    a zeroed square (cutout), a random contrast."""

    shift: int = 2  # the product's jitter
    cut: int = 0
    contrast: bool = False

    @classmethod
    def parse(cls, spec: str) -> StrongView:
        """ "shift4,cut8,contrast" -> StrongView(4, 8, True); "" -> the product's jitter."""
        shift, cut, contrast = 2, 0, False
        for part in filter(None, (p.strip() for p in spec.split(","))):
            if part.startswith("shift") and part[5:].isdigit():
                shift = int(part[5:])
            elif part.startswith("cut") and part[3:].isdigit():
                cut = int(part[3:])
            elif part == "contrast":
                contrast = True
            else:
                raise ValueError(f"want shiftN, cutN or contrast, got {part!r}")
        return cls(shift, cut, contrast)

    def __call__(
        self, images: torch.Tensor, generator: torch.Generator, *, mirror: bool
    ) -> torch.Tensor:
        """uint8 [B, 28, 28] -> float [B, 1, 28, 28] in [0, 1]."""
        out = jitter(images, generator, mirror=mirror, max_shift=self.shift).float()
        b, h, w = out.shape
        if self.cut:
            cy, cx = torch.randint(0, h, (2, b), generator=generator)
            near_y = (torch.arange(h)[None, :, None] - cy[:, None, None]).abs() <= self.cut // 2
            near_x = (torch.arange(w)[None, None, :] - cx[:, None, None]).abs() <= self.cut // 2
            out = out.masked_fill(near_y & near_x, 0.0)
        if self.contrast:
            factor = 0.6 + 0.8 * torch.rand(b, 1, 1, generator=generator)
            mean = out.mean(dim=(1, 2), keepdim=True)
            out = ((out - mean) * factor + mean).clamp(0, 255)
        return out.unsqueeze(1) / 255.0


@dataclass(frozen=True)
class Task:
    """One seed of one candidate: what a worker process needs (JSON-like options)."""

    data_dir: str
    dataset: str
    picks: np.ndarray
    seed: int
    options: dict[str, Any]
    spread: np.ndarray | None  # int64 [N], -1 = none
    threads: int


def split_picks(n: int, picks: np.ndarray, train_checks: bool) -> tuple[np.ndarray, np.ndarray]:
    """(trained, checks): the check samples among `picks` stay out of training when there are
    enough to fit a temperature on (as the session loop keeps them), unless `train_checks`."""
    is_check = check_mask(n)[picks]
    checks = picks[is_check]
    if train_checks or len(checks) < MIN_LABELS:
        return picks, checks[:0]
    return picks[~is_check], checks


def label_array(ds: Dataset, rows: np.ndarray) -> np.ndarray:
    """int64 [N]: the true class of `rows`, -1 elsewhere."""
    labels = np.full(ds.n_train, -1, np.int64)
    labels[rows] = ds.train_targets[rows]
    return labels


def config_of(dataset: str, settings: str, seed: int) -> SSVAEConfig:
    """The new model's settings for `dataset`, `settings` ("a=1,b=2") on top."""
    changes = parse_settings([s for s in settings.split(",") if s])
    cfg = default_config(dataset).replace(**{**changes, "seed": seed})
    cfg.validate()
    if cfg.classifier_input != "conv_only":
        raise ValueError("the screen trains a classifier that reads the pixels alone (conv_only)")
    return cfg


def wide_trunk(channels: int, width: int) -> nn.Sequential:
    """The product's conv trunk (ssvae.nn.model) with `channels` times its channels."""
    c1, c2 = 16 * channels, 32 * channels
    return nn.Sequential(
        nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.BatchNorm2d(c1), nn.ReLU(),
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.BatchNorm2d(c2), nn.ReLU(),
        nn.Flatten(), nn.Linear(c2 * 7 * 7, width), nn.ReLU(),
    )  # fmt: skip


def classifier_of(model: SSVAE) -> nn.ModuleList:
    """The parts that train: the trunk and the classifier (conv_only reads nothing else)."""
    return nn.ModuleList([model.trunk, model.classifier])


def logits_of(model: SSVAE, x: torch.Tensor) -> torch.Tensor:
    """Class logits of float images [B, 1, 28, 28] without the VAE's encoder: what
    `model.classify_images` gives for conv_only."""
    assert model.trunk is not None
    return model.classifier(model.trunk(x))


@torch.no_grad()
def feature_spread(
    model: SSVAE, images: torch.Tensor, labels: np.ndarray, share: float
) -> np.ndarray:
    """Spread classes along a neighbour graph of the classifier's own features (its last
    hidden layer, unit length: nearest by cosine), as `pixel_graph` does in the pixels."""
    assert model.trunk is not None
    model.eval()
    parts = [
        model.classifier[:-1](model.trunk(to_input(images[s : s + 4096])))
        for s in range(0, len(images), 4096)
    ]
    model.train()
    graph = neighbour_graph(*nearest(F.normalize(torch.cat(parts), dim=1).numpy()))
    return spread_targets(graph, labels, N_CLASSES, share)


def spread_accuracy(spread: np.ndarray, targets: np.ndarray) -> float | None:
    """Share of the rows with a spread class whose class it is (None when none has one)."""
    given = spread >= 0
    return float((spread[given] == targets[given]).mean()) if given.any() else None


def ema_update(teacher: nn.Module, student: nn.Module, decay: float) -> None:
    """Weights: the running average; batch-norm statistics: the student's."""
    with torch.no_grad():
        for t, s in zip(teacher.parameters(), student.parameters(), strict=True):
            t.mul_(decay).add_(s, alpha=1 - decay)
        for t, s in zip(teacher.buffers(), student.buffers(), strict=True):
            t.copy_(s)


def pseudo_label_logits(
    weak_view: str,
    source: SSVAE,
    plain: torch.Tensor | None,
    images: torch.Tensor,
    generator: torch.Generator,
) -> torch.Tensor:
    """The logits the pseudo-labels come from: the batch's own plain-view logits `plain` (the
    product), else `source` (the student, or an EMA teacher: training mode, batch statistics)
    on the `weak_view` of the uint8 `images`."""
    if plain is not None and weak_view == "plain":
        return plain.detach()
    if weak_view != "plain":
        images = jitter(images, generator, mirror=True, max_shift=int(weak_view == "shift1"))
    with torch.no_grad():
        return logits_of(source, to_input(images))


def run(task: Task) -> dict[str, Any]:
    """Train one seed of a candidate and evaluate it on the test split."""
    torch.set_num_threads(task.threads)
    opts = task.options
    ds = load_dataset(task.dataset, task.data_dir, download=False)
    cfg = config_of(task.dataset, opts["set"], task.seed)
    torch.manual_seed(cfg.seed)
    model = SSVAE(cfg)
    if opts["trunk_channels"] > 1:
        model.trunk = wide_trunk(opts["trunk_channels"], model.classifier[0].in_features)
    student = classifier_of(model)
    optimizer = make_optimizer(student, cfg)
    prior = ClassPrior() if cfg.consistency_align == "uniform" else None
    teacher = copy.deepcopy(model) if opts["ema"] else None
    # The pseudo-labels' source: the teacher unless told otherwise, else the student.
    source = teacher if teacher is not None and not opts["ema_student_pl"] else model
    strong = StrongView.parse(opts["strong_view"])
    images = torch.as_tensor(ds.train_images)
    targets = torch.as_tensor(ds.train_targets).long()
    trained, checks = split_picks(ds.n_train, task.picks, opts["train_checks"])
    labels = label_array(ds, trained)
    is_labeled = torch.as_tensor(labels >= 0)
    labeled = torch.as_tensor(trained)
    spread = None if task.spread is None else torch.as_tensor(task.spread)
    train_idx = torch.as_tensor(validation_split(ds.n_train, cfg.val_split, cfg.seed)[0])
    generator = torch.Generator().manual_seed(cfg.seed)
    epochs = opts["epochs"] or cfg.max_epochs
    total = epochs * math.ceil(len(train_idx) / cfg.batch_size)
    share = JITTERED_SHARE if opts["share"] is None else opts["share"]
    cons_rows = max(1, int(share * (cfg.batch_size + cfg.labeled_batch_size)))
    refresh_at = sorted(round(f * total) for f in opts["refresh"])
    started, step = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        order = train_idx[torch.randperm(len(train_idx), generator=generator)]
        for start in range(0, len(order), cfg.batch_size):
            if refresh_at and step >= refresh_at[0]:
                refresh_at.pop(0)
                again = feature_spread(model, images, labels, opts["spread_share"])
                spread = torch.as_tensor(again)
                right = spread_accuracy(again, ds.train_targets) or 0.0
                print(f"  seed {task.seed} step {step}: spread again in the classifier's "
                      f"features, {right:.1%} right", file=sys.stderr, flush=True)  # fmt: skip
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate * 0.5 * (1 + math.cos(math.pi * step / total))
            idx = order[start : start + cfg.batch_size]
            draw = torch.randint(len(labeled), (cfg.labeled_batch_size,), generator=generator)
            pick = labeled[draw]
            shown = images[pick]
            if cfg.augment_labeled != "none":
                shown = jitter(shown, generator, mirror=cfg.augment_labeled == "shift_mirror")
            unl = idx[~is_labeled[idx]][:cons_rows]
            logits = logits_of(model, to_input(torch.cat([shown, images[unl]])))
            loss = cfg.label_weight * F.cross_entropy(
                logits[: len(pick)], targets[pick], label_smoothing=cfg.label_smoothing
            )
            if cfg.consistency_weight > 0 and len(unl):
                own = logits[len(pick) :] if source is model else None
                plain = pseudo_label_logits(opts["weak_view"], source, own, images[unl], generator)
                mirror = cfg.consistency_augment == "shift_mirror"
                moved = logits_of(model, strong(images[unl], generator, mirror=mirror))
                guide = None if spread is None else spread[unl]
                loss = loss + cfg.consistency_weight * pseudo_label_loss(
                    plain, moved, cfg.consistency_threshold, prior, guide, opts["spread_weight"]
                )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(student.parameters(), cfg.grad_clip or math.inf)
            optimizer.step()
            if teacher is not None:
                ema_update(classifier_of(teacher), student, opts["ema"])
            step += 1
        print(f"  seed {task.seed} epoch {epoch}/{epochs}: {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    seconds = time.perf_counter() - started
    final = teacher if teacher is not None and opts["ema_eval"] else model
    given = None if task.spread is None else task.spread
    return {
        "seed": task.seed, **evaluate(final, ds, checks), "s": seconds, "epochs": epochs,
        "labels": len(trained), "spread_rows": 0 if given is None else int((given >= 0).sum()),
        "spread_acc": None if given is None else spread_accuracy(given, ds.train_targets),
    }  # fmt: skip


def evaluate(model: SSVAE, ds: Dataset, checks: np.ndarray) -> dict[str, Any]:
    """Test accuracy, ECE after the temperature fitted on the checks and before it, T."""
    test = class_logits(model, ds.test_images)
    fitted = class_logits(model, ds.train_images[checks])
    temperature = fit_temperature(fitted, ds.train_targets[checks])
    correct = test.argmax(axis=1) == ds.test_targets

    def ece(t: float) -> float:
        probs = torch.softmax(torch.as_tensor(test) / t, dim=1).numpy()
        return expected_calibration_error(probs.max(axis=1), correct)

    return {
        "acc": float(correct.mean()), "ece": ece(temperature), "ece_raw": ece(1.0),
        "T": temperature, "calib_n": len(checks),
    }  # fmt: skip


def candidate_name(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str:
    """The candidate options given on the command line (differing from their defaults)."""
    given = []
    for dest in CANDIDATE_OPTIONS:
        value = getattr(args, dest)
        if value == parser.get_default(dest):
            continue
        shown = ",".join(map(str, value)) if isinstance(value, list) else str(value)
        given.append(dest.replace("_", "-") + ("" if value is True else f"={shown}"))
    return " ".join(given) or "defaults"


def summary(rows: Sequence[dict[str, Any]]) -> str:
    """A Markdown table: per candidate and picks, mean ± std over seeds and each seed's value."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["name"], row["picks"]), []).append(row)

    def percent(rs: list[dict[str, Any]], key: str) -> list[str]:
        values = [r[key] * 100 for r in rs]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return [f"{statistics.mean(values):.1f} ± {std:.1f}", ", ".join(f"{v:.1f}" for v in values)]

    def mean(rs: list[dict[str, Any]], key: str) -> float:
        return statistics.mean(r[key] for r in rs)

    def spread(rs: list[dict[str, Any]]) -> str:
        right = [r["spread_acc"] for r in rs if r.get("spread_acc") is not None]
        return f"{statistics.mean(right):.1%}" if right else "-"

    table = [
        [
            name, picks, ",".join(str(r["seed"]) for r in rs), *percent(rs, "acc"),
            *percent(rs, "ece"), f"{mean(rs, 'ece_raw'):.1%}", f"{mean(rs, 'T'):.2f}",
            ",".join(sorted({str(r["calib_n"]) for r in rs})), spread(rs), f"{mean(rs, 's'):.0f}",
        ]
        for (name, picks), rs in groups.items()
    ]  # fmt: skip
    headers = ("candidate", "picks", "seeds", "acc %", "each", "ECE % at T", "each", "ECE raw",
               "T", "checks", "spread right", "train s")  # fmt: skip
    return markdown_table(headers, table)


def read_rows(path: str) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def fractions(text: str) -> list[float]:
    """ "0.25,0.75" -> [0.25, 0.75], each in [0, 1)."""
    try:
        values = [float(p) for p in text.split(",") if p]
    except ValueError:
        values = [-1.0]
    if not all(0 <= v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"want fractions in [0, 1) like 0.25,0.75: {text!r}")
    return values


def strong_spec(text: str) -> str:
    try:
        StrongView.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def parser_of() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument_group("the run").add_argument
    add("--data-dir", default="/usr/share/datasets/fashion-mnist")
    add("--dataset", default="fashion-mnist")
    add(
        "--picks",
        choices=("queue", "random"),
        default="queue",
        help="the queue's first N picks, or N random images (seeded)",
    )
    add("--n", type=int, default=100, help="labels picked, check samples among them")
    add("--picks-cache", default="", help="a folder to keep the queue's picks in")
    add("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    add("--jobs", type=int, default=1, help="seeds at once, each in a process of its own")
    add("--threads", type=int, default=1, help="torch threads per run")
    add("--name", default="", help="the candidate's name in the table (default: its options)")
    add("--jsonl", default="", help="append each seed's row to this file")
    add(
        "--summarize",
        default="",
        metavar="FILE",
        help="print the table of every candidate in FILE and exit",
    )
    add = parser.add_argument_group(
        "candidates (product settings: --set and --spread-*)"
    ).add_argument
    add("--set", default="", help="settings on top of the defaults, a=1,b=2")
    add("--epochs", type=int, default=0, help="epochs; 0: the config's max_epochs")
    add(
        "--spread-share",
        type=float,
        default=SPREAD_SHARE,
        help="of the unlabeled images, the most confident get a spread class; 0 = off",
    )
    add(
        "--spread-weight",
        type=float,
        default=None,
        help="the spread classes' weight (default: the config's propagation_weight)",
    )
    add(
        "--share",
        type=float,
        default=None,
        help=f"consistency rows, a share of the batch's rows (default {JITTERED_SHARE})",
    )
    add(
        "--refresh",
        type=fractions,
        default=[],
        help="spread again in the classifier's own features at these fractions of training",
    )
    add(
        "--strong-view",
        type=strong_spec,
        default="",
        help="the consistency view: shiftN,cutN,contrast (default: the product's jitter)",
    )
    add(
        "--weak-view",
        choices=WEAK_VIEWS,
        default="plain",
        help="the pseudo-labels' view: the batch's own rows, or jittered a little",
    )
    add(
        "--ema",
        type=float,
        default=0.0,
        help="an EMA teacher with this decay gives the pseudo-labels; 0 = none",
    )
    add("--ema-eval", action="store_true", help="evaluate the EMA teacher, not the student")
    add(
        "--ema-student-pl",
        action="store_true",
        help="pseudo-labels from the student even with a teacher",
    )
    add("--trunk-channels", type=int, default=1, help="the conv trunk's channels, times this")
    add(
        "--train-checks",
        action="store_true",
        help="train on the check samples too (T is then fitted on trained labels)",
    )
    return parser


def task_of(
    ds: Dataset,
    args: argparse.Namespace,
    seed: int,
    options: dict[str, Any],
    graph: NeighbourGraph | None,
) -> Task:
    """One seed's task: its picks and the classes spread from the ones that train."""
    picks = picks_of(args.picks, ds, args.n, seed, args.picks_cache)
    trained, _ = split_picks(ds.n_train, picks, args.train_checks)
    spread = None
    if graph is not None:
        spread = spread_targets(graph, label_array(ds, trained), N_CLASSES, args.spread_share)
    return Task(args.data_dir, args.dataset, picks, seed, options, spread, args.threads)


def run_all(tasks: list[Task], jobs: int) -> Iterator[dict[str, Any]]:
    """Each task's row as it ends: in this process, or in `jobs` fresh ones (spawned: no
    fork of a process whose torch and BLAS threads exist)."""
    if jobs <= 1:
        yield from map(run, tasks)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
        yield from pool.map(run, tasks)


def main() -> None:
    parser = parser_of()
    args = parser.parse_args()
    if args.summarize:
        print(summary(read_rows(args.summarize)))
        return
    torch.set_num_threads(args.threads)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s]
        cfg = config_of(args.dataset, args.set, 0)
    except (ValueError, TypeError, UsageError) as exc:
        parser.error(str(exc))
    if args.refresh and args.spread_share <= 0:
        parser.error("--refresh spreads labels again: it needs --spread-share above 0")
    name = args.name or candidate_name(args, parser)
    if args.spread_weight is None:
        args.spread_weight = cfg.propagation_weight
    ds = load_dataset(args.dataset, args.data_dir, download=False)
    started = time.perf_counter()
    spreading = args.spread_share > 0 and args.spread_weight > 0 and cfg.consistency_weight > 0
    graph = pixel_graph(ds.train_images) if spreading else None
    print(f"{ds.name}: {ds.n_train} train, {len(ds.test_targets)} test; {args.picks} picks, "
          f"n = {args.n}; candidate: {name}; pixel graph {time.perf_counter() - started:.0f} s; "
          f"{machine_load()}; torch threads {args.threads} x {args.jobs} jobs; "
          f"{time.strftime('%Y-%m-%d %H:%M')}", flush=True)  # fmt: skip
    options = {dest: getattr(args, dest) for dest in CANDIDATE_OPTIONS}
    tasks = [task_of(ds, args, seed, options, graph) for seed in seeds]
    rows = []
    for result in run_all(tasks, args.jobs):
        row = {"name": name, "picks": args.picks, **result, "options": options,
               "load": machine_load(), "threads": args.threads}  # fmt: skip
        rows.append(row)
        print(f"seed {row['seed']}: acc {row['acc']:.2%}, ECE {row['ece']:.2%} at T "
              f"{row['T']:.2f} ({row['ece_raw']:.2%} at 1), {row['s']:.0f} s")  # fmt: skip
        if args.jsonl:
            with open(args.jsonl, "a", encoding="utf-8") as f:
                f.write(json.dumps(row) + "\n")
    print("\n" + summary(rows) + f"\n\n- ended at {machine_load()}")


if __name__ == "__main__":
    main()
