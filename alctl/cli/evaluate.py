"""`alctl evaluate`: per-class accuracy and the confusion matrix on the test split.

With a server it asks `GET /api/evaluation` (the weights the page shows); without one it runs
the checkpoint on disk over the test split. Both end in `ssvae.train.evaluation.split_report`, and
the server's weights are the checkpoint's, so the numbers are the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alctl.errors import CliError

if TYPE_CHECKING:
    from alctl.cli.offline import Files


def offline_evaluation(files: Files, data_dir: Any) -> dict[str, Any]:
    """The checkpoint's evaluation on the test split, computed here (imports torch)."""
    import time

    from ssvae.data.datasets import load_dataset
    from ssvae.io.checkpoint import load_checkpoint
    from ssvae.nn.model import predict
    from ssvae.nn.restore import build_model
    from ssvae.train.evaluation import split_report

    ws = files.workspace
    ckpt = load_checkpoint(ws.checkpoint, dataset=files.dataset)
    if ckpt is None or ckpt.epochs_trained == 0:
        raise CliError(
            f"no trained model at {ws.checkpoint}: train once (`alctl train` or the page's "
            "Start training), then evaluate"
        )
    data = load_dataset(files.dataset, data_dir)
    if len(data.test_targets) == 0:
        raise CliError(f"{data.name} has no test split to evaluate on")
    started = time.perf_counter()
    model, _ = build_model(ckpt)
    pred = predict(model, data.test_images, reconstruct=False).pred_class
    return {
        "split": "test",
        **split_report(data.test_targets, pred, data.class_names),
        "seconds": round(time.perf_counter() - started, 3),
        "epochs_trained": ckpt.epochs_trained,
    }


def _pct(value: Any) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def render(answer: dict[str, Any]) -> str:
    """Per-class accuracy, then the matrix (rows: truth, columns: prediction)."""
    names = answer["class_names"]
    width = max(5, *(len(str(n)) for row in answer["confusion"] for n in row)) + 1
    name_width = max(len(f"{i} {n}") for i, n in enumerate(names))
    lines = [
        f"test split: {answer['n']:,} images, accuracy {_pct(answer['accuracy'])} "
        f"({answer['epochs_trained']} epochs trained)",
        "",
        f"{'class':<{name_width}}  {'n':>6}  accuracy",
    ]
    for row in answer["per_class"]:
        label = f"{row['class']} {row['name']}"
        lines.append(f"{label:<{name_width}}  {row['n']:>6}  {_pct(row['accuracy']):>8}")
    lines += ["", "confusion matrix (rows: truth, columns: prediction)"]
    lines.append(" " * name_width + "".join(f"{c:>{width}}" for c in range(len(names))))
    for c, counts in enumerate(answer["confusion"]):
        label = f"{c} {names[c]}"
        lines.append(f"{label:<{name_width}}" + "".join(f"{n:>{width}}" for n in counts))
    return "\n".join(lines)
