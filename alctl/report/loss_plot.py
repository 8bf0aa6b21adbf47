"""The loss-curve PNG next to a checkpoint (`loss_curves.png`), drawn from its epoch records.

Whoever rewrites the history (a saved session, a rollback, start-up's repair) redraws it;
the report embeds the same figure. matplotlib's Agg canvas, no pyplot, no window.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ssvae.io.atomic import atomic_write
from ssvae.records.events import METRIC_KEYS


def _finite(value: Any) -> float:
    """A metric as a float, NaN where there is none (None, NaN)."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def loss_figure(records: Iterable[Mapping[str, Any]]) -> Any:
    """The loss curves as a matplotlib Figure: one panel per term against the global epoch,
    train solid, validation dashed, dotted where a session began, and the key in the grid's
    sixth cell. A line without values (validation classification: the validation images
    train unlabeled) is neither drawn nor in the key."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    records = list(records)
    titles = {
        "loss": "total loss",
        "reconstruction_loss": "reconstruction",
        "kl_loss": "KL",
        "classification_loss": "classification",
        "accuracy": "accuracy (labeled rows)",
    }
    fig = Figure(figsize=(12, 6.5), layout="constrained")
    axes = fig.subplots(2, 3).ravel()
    x = [r["global_epoch"] for r in records]
    starts = [r["global_epoch"] - 0.5 for r in records if r["epoch"] == 1][1:]
    key = {"train": Line2D([], [], color="C0", marker="o", ms=3)}
    for ax, metric in zip(axes, METRIC_KEYS, strict=False):
        ax.plot(x, [_finite(r["train"][metric]) for r in records], "-o", ms=3, color="C0")
        val = [_finite(r["val"].get(metric)) for r in records]
        if any(math.isfinite(v) for v in val):
            ax.plot(x, val, "--o", ms=3, color="C1")
            key["validation"] = Line2D([], [], color="C1", ls="--", marker="o", ms=3)
        for start in starts:
            ax.axvline(start, color="0.65", lw=0.9, ls=":")
        ax.set_title(titles[metric])
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if starts:
        key["a session begins"] = Line2D([], [], color="0.65", lw=0.9, ls=":")
    axes[-1].axis("off")
    if records:
        axes[-1].legend(key.values(), key.keys(), loc="center", frameon=False)
    return fig


def draw_loss_curves(
    path_png: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]
) -> None:
    """Write `loss_figure(records)` as a PNG (atomically)."""
    try:
        _atomic_savefig(loss_figure(records), Path(path_png))
    finally:
        _forget_thread_fonts()


def _forget_thread_fonts() -> None:
    """Close the fonts matplotlib opened for this thread.

    matplotlib caches open fonts per thread id (64 entries): a server that plots from a new
    thread per training session would keep two more open font files, and their glyph caches,
    after every session. Emptying the cache costs a few milliseconds of reopening next time.
    """
    from matplotlib import font_manager

    clear = getattr(getattr(font_manager, "_get_font", None), "cache_clear", None)
    if clear is not None:  # a private cache: if a release drops it, there is nothing to leak
        clear()


def redraw_loss_curves(path_png: Path, records: Iterable[Mapping[str, Any]]) -> str | None:
    """Redraw after the history changed; the reason it failed, else None (it is only a picture
    of history.csv: nothing is lost when it cannot be drawn)."""
    try:
        draw_loss_curves(path_png, records)
    except Exception as exc:  # matplotlib's failures are many; none may stop a save
        return f"could not draw {path_png}: {' '.join(str(exc).split()) or type(exc).__name__}"
    return None


def loss_plot_writer(
    path_png: Path, unless: Callable[[], bool] | None = None
) -> Callable[[Any, Any], None]:
    """An `after_save` step for ssvae.runs.pipeline: redraw from the saved trainer's history.

    `unless()` true at save time leaves the PNG as it is: the process is being stopped (a
    drawing costs a second or more; history.csv holds the same facts; the next session or
    the next `alctl serve` redraws it).
    """

    def redraw(trainer: Any, outcome: Any) -> None:
        if unless is not None and unless():
            return
        problem = redraw_loss_curves(path_png, trainer.history)
        if problem is not None:
            outcome.warnings.append(problem)

    return redraw


def _atomic_savefig(fig: Any, path: Path) -> None:
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=100)
