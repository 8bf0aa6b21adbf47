"""The chart of a simulation: test accuracy against labels, per swept setting and strategy."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssvae.io.atomic import atomic_write
from ssvae.runs.sim_results import setting_groups


def plot_summary(
    path: Path, summary: Sequence[dict[str, Any]], title: str, keys: Sequence[str] = ()
) -> None:
    """Test accuracy vs labels, one line per (settings, strategy), a band of ± one spread."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, part in setting_groups(summary, keys).items():
        for strategy in sorted({s["strategy"] for s in part}):
            line = [s for s in part if s["strategy"] == strategy]
            x = np.array([s["n_labels"] for s in line])
            y = np.array([s["accuracy_mean"] for s in line]) * 100
            spread = np.array([s["accuracy_std"] for s in line]) * 100
            ax.plot(x, y, marker="o", label=f"{strategy} {name}".strip())
            ax.fill_between(x, y - spread, y + spread, alpha=0.15)
    ax.set_xlabel("labels")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    fig.tight_layout()
    with atomic_write(path) as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
