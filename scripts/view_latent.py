#!/usr/bin/env python3
"""Matplotlib viewer for the predictions npz: explore the latent scatter and label points.

Click a point to see its original and reconstruction; keys 0-9 label the selected
point and `d` deletes its label. Labels go through the same locked, atomic label
store as the dashboard, so both can write the CSV at once. The radio buttons colour
by user labels, predicted class, ground truth or certainty. Labels written by other
programs show up within two seconds. Exit codes as `alctl`'s: 0 done, 1 a problem to
fix (no predictions file, a bad labels file), 2 bad options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "ssvae" / "__init__.py").is_file():  # run from a checkout: use its own library
    sys.path.insert(0, str(_CHECKOUT))

from ssvae.config.blas import one_blas_thread

one_blas_thread()  # before numpy is imported (below): a fork or the exit never hangs in it

import numpy as np

from alctl.errors import EXIT_ERROR
from alctl.script_args import add_workspace_options
from ssvae.data.datasets import CLASS_NAMES, DATASETS
from ssvae.io.labels import LabelError, LabelStore
from ssvae.io.npz import read_predictions_npz
from ssvae.io.workspace import Workspace

MODES = ("user labels", "predicted", "ground truth", "certainty")
_UNLABELED = (0.75, 0.75, 0.75, 0.35)


def nearest_index(points: np.ndarray, x: float, y: float) -> int:
    """Row of `points` ([N, 2]) closest to (x, y)."""
    d2 = (points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2
    return int(np.argmin(d2))


class ViewerState:
    """Everything the viewer knows and does, without any window: testable headless."""

    def __init__(self, arrays: dict[str, np.ndarray], store: LabelStore, class_names: list[str]):
        self.points = np.asarray(arrays["tsne"], dtype=np.float32)
        self.images = arrays["input"]
        self.recon = arrays["reconstruted"]
        self.truth = arrays["labels"].astype(np.int64)
        self.pred = arrays["pred_classes"].astype(np.int64)
        self.certainty = arrays["pred_certainty"].astype(np.float32)
        self.can_label = str(arrays["split"]) == "train"
        self.store = store
        self.class_names = class_names
        self.mode = MODES[0]
        self.selected: int | None = None
        self.user = store.as_array()
        self._labels_mtime = store.mtime_ns()

    def colors(self, mode: str | None = None) -> np.ndarray:
        """RGBA [N, 4] for a colour mode."""
        from matplotlib import colormaps

        mode = mode or self.mode
        if mode == "certainty":
            return colormaps["viridis"](self.certainty)
        tab10 = colormaps["tab10"](np.arange(10))
        if mode == "predicted":
            return tab10[self.pred]
        if mode == "ground truth":
            return tab10[self.truth]
        if mode != "user labels":
            raise ValueError(f"unknown colour mode {mode!r}; choose one of {', '.join(MODES)}")
        out = np.tile(np.array(_UNLABELED), (len(self.user), 1))
        labeled = self.user >= 0
        out[labeled] = tab10[self.user[labeled]]
        return out

    def sizes(self) -> np.ndarray:
        base = np.full(len(self.points), 4.0)
        if self.mode == "user labels":
            base[self.user >= 0] = 20.0
        return base

    def select_nearest(self, x: float, y: float, points: np.ndarray | None = None) -> int:
        """Select the point nearest (x, y); `points` may be the same points in display pixels."""
        self.selected = nearest_index(self.points if points is None else points, x, y)
        return self.selected

    def describe(self, serial: int) -> str:
        names = self.class_names
        label = self.user[serial]
        return (
            f"#{serial}  truth {names[self.truth[serial]]}  predicted {names[self.pred[serial]]} "
            f"({self.certainty[serial]:.2f})  label {names[label] if label >= 0 else '-'}"
        )

    def handle_key(self, key: str | None) -> str | None:
        """Digits label the selection, `d` deletes its label; returns a status line or None."""
        if key is None or not ((key.isdigit() and len(key) == 1) or key == "d"):
            return None
        if self.selected is None:
            return "click a point first"
        if not self.can_label:
            return "these are test-split predictions; labels apply to the training split"
        serial = self.selected
        try:
            if key == "d":
                previous = self.store.delete(serial)
                self.user[serial] = -1
                if previous is None:
                    return f"#{serial}: had no label"
                return f"#{serial}: label {self.class_names[previous]} deleted"
            self.store.set(serial, int(key))
        except LabelError as exc:
            return f"not saved: {exc}"
        self.user[serial] = int(key)
        self._labels_mtime = self.store.mtime_ns()
        return f"#{serial}: labeled {self.class_names[int(key)]}"

    def refresh_labels(self) -> bool:
        """Re-read the CSV when another program changed it; True when it did."""
        mtime = self.store.mtime_ns()
        if mtime == self._labels_mtime:
            return False
        self.user = self.store.as_array()
        self._labels_mtime = mtime
        return True


class LatentViewer:
    """The figure: scatter, original/reconstruction, colour-mode radio buttons, status line."""

    def __init__(self, state: ViewerState, figure: Any) -> None:
        from matplotlib.widgets import RadioButtons

        self.state, self.figure = state, figure
        grid = figure.add_gridspec(3, 3, width_ratios=(3, 1, 1), height_ratios=(2, 2, 1.2))
        self.ax = figure.add_subplot(grid[:, 0])
        self.ax_original = figure.add_subplot(grid[0, 1:])
        self.ax_recon = figure.add_subplot(grid[1, 1:])
        ax_radio = figure.add_subplot(grid[2, 1:])
        points = state.points
        self.scatter = self.ax.scatter(
            points[:, 0], points[:, 1], s=state.sizes(), c=state.colors(), linewidths=0
        )
        (self.marker,) = self.ax.plot([], [], "o", ms=12, mfc="none", mec="red", mew=2)
        self.ax.set_title("latent space: click a point, then press 0-9 (d deletes)")
        blank = np.zeros((28, 28), np.uint8)
        self.original = self.ax_original.imshow(blank, cmap="gray", vmin=0, vmax=255)
        self.reconstruction = self.ax_recon.imshow(blank, cmap="gray", vmin=0, vmax=255)
        for ax, title in ((self.ax_original, "original"), (self.ax_recon, "reconstruction")):
            ax.set_title(title)
            ax.set_xticks([])
            ax.set_yticks([])
        self.radio = RadioButtons(ax_radio, MODES, active=0)
        self.radio.on_clicked(self.set_mode)
        self.status = figure.text(0.01, 0.01, "", fontsize=9)
        figure.canvas.mpl_connect("button_press_event", self.on_click)
        figure.canvas.mpl_connect("key_press_event", self.on_key)

    def on_click(self, event: Any) -> None:
        if event.inaxes is not self.ax or event.button != 1 or event.x is None:
            return
        pixels = self.ax.transData.transform(self.state.points)
        self.show(self.state.select_nearest(event.x, event.y, points=pixels))

    def on_key(self, event: Any) -> None:
        message = self.state.handle_key(event.key)
        if message is not None:
            self.recolor()
            if self.state.selected is not None:
                self.show(self.state.selected, message)
            else:
                self.set_status(message)

    def set_mode(self, mode: str | None) -> None:
        self.state.mode = mode or MODES[0]
        self.recolor()

    def show(self, serial: int, message: str | None = None) -> None:
        state = self.state
        self.original.set_data(state.images[serial])
        self.reconstruction.set_data(state.recon[serial])
        self.marker.set_data([state.points[serial, 0]], [state.points[serial, 1]])
        self.set_status(message or state.describe(serial))

    def recolor(self) -> None:
        self.scatter.set_facecolors(self.state.colors())
        self.scatter.set_sizes(self.state.sizes())
        self.figure.canvas.draw_idle()

    def set_status(self, text: str) -> None:
        self.status.set_text(text)
        self.figure.canvas.draw_idle()

    def poll_labels(self) -> None:
        if self.state.refresh_labels():
            self.recolor()


def resolve_paths(args: argparse.Namespace) -> tuple[str, Path, Path]:
    """(dataset, npz, labels csv) from the arguments and the workspace."""
    dataset = args.dataset
    if dataset == "auto":
        existing = [n for n in DATASETS if Workspace(args.workspace, n).predictions.exists()]
        if not existing and args.input is None:
            raise ValueError("no predictions npz in the workspace; run scripts/infer.py first")
        dataset = existing[0] if existing else DATASETS[0]
    workspace = Workspace(args.workspace, dataset)
    return dataset, args.input or workspace.predictions, args.labels or workspace.labels_csv


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_workspace_options(parser, data_dir=False, weights=False)
    parser.add_argument("--input", type=Path, help="predictions npz (default: workspace's)")
    parser.add_argument("--labels", type=Path, help="labels CSV (default: workspace's)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        dataset, npz_path, labels_path = resolve_paths(args)
        arrays = read_predictions_npz(npz_path)
        store = LabelStore(labels_path, len(arrays["input"]))
        state = ViewerState(arrays, store, CLASS_NAMES[dataset])
    except (ValueError, LabelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    import matplotlib.pyplot as plt  # only now: a window is really wanted

    figure = plt.figure(figsize=(13, 8))
    figure.canvas.manager.set_window_title(f"alctl latent viewer: {npz_path.name}")
    viewer = LatentViewer(state, figure)
    timer = figure.canvas.new_timer(interval=2000)
    timer.add_callback(viewer.poll_labels)
    timer.start()
    print(f"{len(state.points)} points from {npz_path}; labels in {labels_path}")
    plt.show()
    return 0


if __name__ == "__main__":
    sys.exit(main())
