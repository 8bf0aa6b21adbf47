"""`alctl report`: a static, self-contained HTML page about the current model.

Made from the workspace files alone (dataset, labels, checkpoint, history CSV); no server.
Every figure is an inline data-URI PNG and the page holds no external URL, so it opens
offline and can be mailed or archived as one file.
"""

from __future__ import annotations

import base64
import datetime as dt
import platform
import socket
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from alctl.errors import CliError
from ssvae.config import N_CLASSES
from ssvae.records import formats

if TYPE_CHECKING:
    from ssvae.data.datasets import Dataset
    from ssvae.io.checkpoint import Checkpoint
    from ssvae.io.workspace import Workspace
    from ssvae.nn.model import Predictions

N_UNCERTAIN = 48
MANIFOLD_GRID = 20  # 400 decoded images, the page's overlay's grid


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _history(ckpt: Checkpoint, history_csv: Path) -> list[dict[str, Any]]:
    """Epoch records (nested dicts): the checkpoint's own, else the CSV beside it."""
    if ckpt.history:
        return list(ckpt.history)
    from ssvae.io.history import read_history_csv

    try:
        return read_history_csv(history_csv)
    except ValueError:
        return []  # the report says "no history"; status and the page name the bad file


def _sessions(
    records: Sequence[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One row per session: its epochs summed up from the records, joined with its entry
    (start time, labels, status, settings). pandas does the group-by and the join; it is
    imported here only, off every command's fast path."""
    import pandas as pd

    from ssvae.records.sessions import EVALUATION_KEYS, from_records

    if not records:
        return []
    epochs = pd.json_normalize([dict(r) for r in records], sep="_")
    last = ("train_loss", "val_loss", "val_accuracy")  # as of the session's last epoch
    table = epochs.groupby("session").agg(
        epochs=("global_epoch", "size"),
        first=("global_epoch", "min"),
        last=("global_epoch", "max"),
        seconds=("seconds", "sum"),
        **{name: (name, lambda column: column.iloc[-1]) for name in last},
    )
    known = pd.DataFrame([dict(e) for e in (entries or from_records(records))])
    known["settings"] = known["hparams"].map(_settings)
    for key in EVALUATION_KEYS:  # entries saved before evaluations were stored
        if key not in known:
            known[key] = None
    columns = ["session", "started_at", "n_labeled", "status", "settings", *EVALUATION_KEYS]
    table = table.join(known[columns].set_index("session"), how="left").reset_index()
    table = table.astype(object).where(table.notna(), None)
    return table.to_dict("records")


def _settings(hparams: Any) -> str:
    if not isinstance(hparams, Mapping):
        return ""
    return ", ".join(
        f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in hparams.items()
        if v is not None
    )


def _confusion(truth: np.ndarray, pred: np.ndarray) -> list[list[dict[str, Any]]]:
    from ssvae.train.evaluation import confusion_matrix

    counts = confusion_matrix(truth, pred, N_CLASSES)
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    share = counts / totals
    return [
        [
            {
                "count": int(counts[t, p]),
                "alpha": round(float(share[t, p]) * 0.85, 3),
                "diagonal": t == p,
            }
            for p in range(N_CLASSES)
        ]
        for t in range(N_CLASSES)
    ]


def _uncertain(
    images: np.ndarray, truth: np.ndarray, preds: Predictions, labels: np.ndarray
) -> list[dict[str, Any]]:
    from alctl.images import png_bytes

    candidates = np.flatnonzero(labels < 0)
    order = candidates[np.argsort(preds.certainty[candidates], kind="stable")[:N_UNCERTAIN]]
    return [
        {
            "serial": int(i),
            "png": _b64(png_bytes(images[i])),
            "pred": int(preds.pred_class[i]),
            "certainty": float(preds.certainty[i]),
            "truth": int(truth[i]),
        }
        for i in order
    ]


def _load(
    root: Path, dataset: str, data_dir: Path | None, data: Dataset | None
) -> tuple[Dataset, Workspace, Checkpoint]:
    from ssvae.data.datasets import load_dataset
    from ssvae.io.checkpoint import load_checkpoint
    from ssvae.io.workspace import Workspace

    if data is None:
        data = load_dataset(dataset, data_dir)
    ws = Workspace(root, data.name)
    ckpt = load_checkpoint(ws.checkpoint, dataset=data.name)
    if ckpt is None:
        raise CliError(
            f"no checkpoint at {ws.checkpoint}: train first (`alctl train` or the page's "
            "Start training), then make the report"
        )
    return data, ws, ckpt


def report_context(
    root: Path, dataset: str, data_dir: Path | None = None, data: Dataset | None = None
) -> dict[str, Any]:
    """Everything the template shows, computed from the files (`data`: already loaded)."""
    import torch

    from alctl.report import figures as figs
    from ssvae.io.labels import LabelStore
    from ssvae.nn.model import predict
    from ssvae.nn.restore import build_model
    from ssvae.select.latent_view import LatentView

    started = time.perf_counter()
    data, ws, ckpt = _load(root, dataset, data_dir, data)
    model, config = build_model(ckpt)
    store = LabelStore(ws.labels_csv, data.n_train)
    labels = store.as_array()
    train = predict(model, data.train_images, reconstruct=False)
    test = predict(model, data.test_images, reconstruct=False)
    view = LatentView.fit(train.latent)
    xy = view.project(train.latent)
    labeled = labels >= 0
    history = _history(ckpt, ws.history_csv)
    truth_counts = np.bincount(data.train_targets, minlength=N_CLASSES)
    test_truth_counts = np.maximum(np.bincount(data.test_targets, minlength=N_CLASSES), 1)
    hits = data.test_targets[test.pred_class == data.test_targets]
    test_hits = np.bincount(hits, minlength=N_CLASSES)
    n_label = np.bincount(labels[labeled], minlength=N_CLASSES)
    n_pred = np.bincount(train.pred_class, minlength=N_CLASSES)
    mtime = store.mtime_ns()
    stat = ws.checkpoint.stat()
    return {
        "workspace": str(ws.root),
        "dataset": {
            "name": data.name,
            "source": data.source,
            "n_train": data.n_train,
            "n_test": len(data.test_targets),
            "class_names": data.class_names,
        },
        "labels": {
            "path": str(ws.labels_csv),
            "labeled": int(labeled.sum()),
            "coverage": float(labeled.mean()),
            "modified": _when(mtime / 1e9) if mtime else None,
        },
        "accuracy": {
            "test": float((test.pred_class == data.test_targets).mean()),
            "train": float((train.pred_class == data.train_targets).mean()),
            "labeled": float((train.pred_class[labeled] == labels[labeled]).mean())
            if labeled.any()
            else None,
        },
        "checkpoint": {
            "path": str(ws.checkpoint),
            "size": f"{stat.st_size / 1e6:.2f} MB",
            "saved_at": ckpt.saved_at,
            "epochs_trained": ckpt.epochs_trained,
            "test_accuracy": ckpt.test_accuracy,
        },
        "config": config.to_dict(),
        "latent_dim": int(train.latent.shape[1]),
        "scatters": [
            {
                "title": "by your labels",
                "png": _b64(figs.scatter_png(xy, labels, "coloured by your labels")),
                "caption": formats.plural(int(labeled.sum()), "labeled point")
                + ", enlarged; the rest grey.",
            },
            {
                "title": "by prediction",
                "png": _b64(figs.scatter_png(xy, train.pred_class, "coloured by predicted class")),
                "caption": "The classifier's prediction for every training image.",
            },
            {
                "title": "by ground truth",
                "png": _b64(figs.scatter_png(xy, data.train_targets, "coloured by ground truth")),
                "caption": "The dataset's own labels, for judging the latent space.",
            },
            _manifold(model, view, xy),
        ],
        "loss_png": _b64(figs.loss_curves_png(history)) if history else None,
        "history": history,
        "history_path": str(ws.history_csv),
        "sessions": _sessions(history, ckpt.sessions),
        "per_class": [
            {
                "name": data.class_names[c],
                "labeled": int(n_label[c]),
                "predicted": int(n_pred[c]),
                "truth": int(truth_counts[c]),
                "recall": float(test_hits[c] / test_truth_counts[c]),
            }
            for c in range(N_CLASSES)
        ],
        "confusion": _confusion(data.test_targets, test.pred_class),
        "uncertain": _uncertain(data.train_images, data.train_targets, train, labels),
        "colors": figs.palette()["classes"],
        "unlabeled_color": figs.palette()["unlabeled"],
        "made": {
            "at": _when(time.time()),
            "version": _version(),
            "host": socket.gethostname(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "seconds": f"{time.perf_counter() - started:.1f}",
        },
    }


def _manifold(model: Any, view: Any, xy: np.ndarray) -> dict[str, str]:
    """The decoder's images on a grid over the scatters' extent (Kingma & Welling 2014, fig. 4)."""
    from alctl.images import png_bytes
    from ssvae.nn.decode import decode_latent, grid_points, square_extent, tile

    lo, hi = xy.min(axis=0), xy.max(axis=0)
    extent = square_extent([float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])])
    decoded = decode_latent(model, view.unproject(grid_points(*extent, MANIFOLD_GRID)))
    others = " (every other principal component at the mean)" if view.latent_dim > 2 else ""
    return {
        "title": "decoder's manifold",
        "png": _b64(png_bytes(tile(decoded.images, MANIFOLD_GRID))),
        "caption": f"What the decoder draws at {MANIFOLD_GRID}×{MANIFOLD_GRID} points over the "
        f"scatters' extent{others}: where the classes are, and where they blend.",
    }


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("alctl")
    except PackageNotFoundError:
        return "dev"


def build_report(
    root: Path, dataset: str, *, data_dir: Path | None = None, data: Dataset | None = None
) -> str:
    """The report's HTML for the workspace at `root` (dataset "auto" resolved as usual)."""
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    from alctl.resources import templates_dir

    env = Environment(
        loader=FileSystemLoader(templates_dir()), autoescape=select_autoescape(["html"])
    )
    env.globals["plural"] = formats.plural  # report.html counts with it: "1 epoch", "2 sessions"
    env.globals.update(pct=formats.percent, num=formats.number)
    context = report_context(root, dataset, data_dir, data)
    return env.get_template("report.html").render(**context)


def write_report(
    root: Path,
    dataset: str,
    out: Path,
    *,
    data_dir: Path | None = None,
    data: Dataset | None = None,
) -> Path:
    """Build the report and write it atomically to `out`; returns the path written.

    `data`: the dataset already in memory (a server's), else it is loaded from `data_dir`.
    """
    from ssvae.io.atomic import atomic_write_text

    html = build_report(root, dataset, data_dir=data_dir, data=data)
    out = out.absolute()
    atomic_write_text(out, html)
    return out
