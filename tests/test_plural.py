"""The one Python pluraliser (ssvae/records/formats.py): CLI, start-up lines, report, logs."""

from __future__ import annotations

import io

from alctl.cli.progress import TrainProgress
from ssvae.records.formats import plural


def test_one_is_singular_and_everything_else_plural() -> None:
    assert plural(1, "epoch") == "1 epoch"
    assert plural(0, "epoch") == "0 epochs"
    assert plural(2, "label") == "2 labels"
    assert plural(1.0, "epoch") == "1 epoch"
    assert plural(2.5, "epoch") == "2.5 epochs"


def test_thousands_irregular_nouns_and_unknown_counts() -> None:
    assert plural(60_000, "image") == "60,000 images"
    assert plural(3, "batch") == "3 batches"
    assert plural(1, "batch") == "1 batch"
    assert plural(2, "person", "people") == "2 people"
    assert plural("?", "epoch") == "? epochs"
    assert plural(None, "epoch") == "None epochs"
    assert plural(True, "epoch") == "True epochs"  # a flag is not a count


def test_a_one_epoch_session_reads_in_the_singular() -> None:
    out = io.StringIO()
    progress = TrainProgress(out, tty=False)
    progress.started({"session": 3, "epochs": 1})
    progress.ended({"status": "completed", "epochs_run": 1, "seconds": 2, "global_epoch": 4})
    text = out.getvalue()
    assert "training session 3: 1 epoch\n" in text
    assert "training completed: 1 epoch in" in text
    assert "epochs" not in text


def test_one_cpu_thread_reads_in_the_singular(torch_one_thread: None) -> None:
    import torch

    from ssvae.train.device import describe_device

    assert describe_device(torch.device("cpu")) == "cpu (1 thread)"
