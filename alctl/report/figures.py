"""PNG figures for the static report, drawn with matplotlib's Agg canvas (no pyplot state).

Scatters are rasterised images rather than SVG so 60k points stay a few hundred KB each.
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alctl.resources import static_dir


def palette() -> dict[str, Any]:
    """The page's colours (static/palette.json): `classes`, `unlabeled`, `background`."""
    return json.loads((static_dir() / "palette.json").read_text(encoding="utf-8"))


def _figure(width_in: float, height_in: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, height_in), dpi=110)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    # No metadata: matplotlib would embed its web address in the PNG.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def scatter_png(xy: np.ndarray, classes: np.ndarray, title: str) -> bytes:
    """All points of `xy` [N, 2] coloured by `classes` (int, -1 = none: grey, drawn first).

    Points with a class are drawn larger when they are few (labels among 60k points).
    """
    figure = _figure(6.0, 6.0)
    ax = figure.add_axes((0.02, 0.02, 0.96, 0.92))
    ax.set_title(title, fontsize=11)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="datalim")
    colours = palette()
    none = classes < 0
    if none.any():
        grey = colours["unlabeled"]
        ax.scatter(xy[none, 0], xy[none, 1], s=1.5, c=grey, alpha=0.5, linewidths=0)
    marked = np.flatnonzero(~none)
    size = 14.0 if 0 < marked.size < 2000 else 1.5
    if marked.size:
        # Shuffled so no class is always painted over the others.
        order = np.random.default_rng(0).permutation(marked)
        colors = np.array(colours["classes"])[classes[order]]
        ax.scatter(xy[order, 0], xy[order, 1], s=size, c=colors, linewidths=0)
    if not len(xy):
        ax.text(0.5, 0.5, "no points", ha="center", transform=ax.transAxes)
    return _png(figure)


def loss_curves_png(records: Sequence[Mapping[str, Any]]) -> bytes:
    """The loss-curve figure next to the checkpoint (alctl.report.loss_plot), as PNG bytes."""
    from alctl.report.loss_plot import draw_loss_curves

    with tempfile.TemporaryDirectory(prefix="alctl-report-") as tmp:
        path = Path(tmp) / "loss_curves.png"
        draw_loss_curves(path, records)
        return path.read_bytes()
