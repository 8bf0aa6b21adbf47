"""Every program that trains stores the same session entries: settings, start time, labels,
status, test accuracy and accuracy on the labels; in the checkpoint and in history.csv, so the
page's session list and accuracy-vs-labels curve are the same after `scripts/train.py`,
`alctl train --no-server` and the server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.history import read_sessions_csv
from ssvae.train.trainer import HELD_OUT_KEY, SPREAD_KEY
from tests.cli_support import invoke
from tests.datagen import seed_labels
from tests.test_session import Recorder
from tests.thread_server import make_session

REPO = Path(__file__).resolve().parents[1]


def test_the_session_list_is_the_same_whoever_trained(tiny_data_dir: Path, workspace: Path) -> None:
    common = ["--workspace", str(workspace), "--data-dir", str(tiny_data_dir)]
    seed_labels(workspace, 40)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    script = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "train.py"), *common, "--dataset", "mnist",
         "--max-epochs", "1", "--kl-weight", "0.5", "--batch-size", "64"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    cli = invoke("train", "--no-server", *common, "-d", "mnist", "--epochs", "1",
                 "--label-weight", "3")  # fmt: skip
    assert cli.code == 0, cli.stderr

    session = make_session(workspace, tiny_data_dir)
    try:
        recorder = Recorder(session.bus)
        session.start_training(1, {"learning_rate": 2e-3})
        recorder.wait_for("latent_refreshed", timeout=120)
        served = session.training.history()["sessions"]
        status = session.status()
    finally:
        session.shutdown()

    assert [s["session"] for s in served] == [1, 2, 3]
    assert [s["status"] for s in served] == ["completed"] * 3
    assert served[0]["hparams"]["kl_weight"] == 0.5 and served[0]["hparams"]["epochs"] == 1
    assert served[1]["hparams"]["label_weight"] == 3.0
    assert served[2]["hparams"]["learning_rate"] == 2e-3
    assert all(s["started_at"] and s["n_labeled"] for s in served)
    assert [s["start_global_epoch"] for s in served] == [0, 1, 2]

    # Each trainer stored how its session did: the curve covers the shell's sessions too.
    for entry in served:
        assert 0 <= entry["test_accuracy"] <= 1 and 0 <= entry["labeled_accuracy"] <= 1
    curve = status["evaluations"]
    assert [(e["session"], e["n_labeled"]) for e in curve] == [(1, 40), (2, 40), (3, 40)]
    tests = [e["test_accuracy"] for e in curve]
    assert [e["previous_test_accuracy"] for e in curve] == [None, *tests[:2]]
    assert tests == [s["test_accuracy"] for s in served]

    ckpt = load_checkpoint(session.workspace.checkpoint, dataset="mnist")
    assert ckpt is not None and ckpt.sessions == served
    in_csv = read_sessions_csv(session.workspace.history_csv)
    # The CSV's session rows carry each session's facts, not the serials it held out nor how
    # many images it spread labels to (those travel in the checkpoint, above).
    in_checkpoint_only = {HELD_OUT_KEY, SPREAD_KEY}
    assert in_csv == [
        {**{k: v for k, v in s.items() if k not in in_checkpoint_only}, "error": None}
        for s in served
    ]


def test_an_older_checkpoint_gets_its_sessions_from_the_epochs(tmp_path: Path) -> None:
    import torch

    from ssvae.config import SSVAEConfig
    from ssvae.io.checkpoint import save_checkpoint
    from ssvae.nn.model import SSVAE
    from ssvae.train.trainer import InteractiveTrainer

    config = SSVAEConfig(hidden_dims=(16,))
    metrics = dict.fromkeys(("loss", "reconstruction_loss", "kl_loss"), 1.0)
    history = [
        {"session": s, "epoch": e, "global_epoch": g, "train": metrics, "val": metrics,
         "seconds": 1.0, "learning_rate": 1e-3}
        for s, e, g in ((1, 1, 1), (1, 2, 2), (2, 1, 3))
    ]  # fmt: skip
    path = tmp_path / "old.ckpt"
    model = SSVAE(config)
    save_checkpoint(path, model=model, optimizer=None, config=config, epochs_trained=3,
                    dataset="mnist", history=history)  # fmt: skip
    payload = torch.load(path, weights_only=True)
    del payload["sessions"]  # as written before sessions were stored
    torch.save(payload, path)
    ckpt = load_checkpoint(path)
    assert ckpt is not None and ckpt.sessions == []
    trainer = InteractiveTrainer.from_checkpoint(ckpt)
    assert [(s["session"], s["epochs_run"], s["start_global_epoch"]) for s in trainer.sessions] == [
        (1, 2, 0),
        (2, 1, 2),
    ]
    assert trainer.session == 2  # the next session is number 3
