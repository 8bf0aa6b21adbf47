"""The "did it get better?" numbers: per-split reports, the accuracy-vs-labels curve built from
session entries, and files written before entries carried an evaluation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ssvae.io.history import COLUMNS, append_history_csv, read_sessions_csv
from ssvae.records.sessions import evaluation_curve, last_result
from ssvae.train.evaluation import (
    confusion_matrix,
    labeled_accuracy,
    per_class_accuracy,
    session_evaluation,
    split_report,
)
from tests.test_ssvae_history import SESSION_1, record


def test_the_confusion_matrix_counts_truth_by_prediction() -> None:
    truth = np.array([0, 0, 0, 1, 1, 2])
    pred = np.array([0, 0, 1, 1, 0, 2])
    counts = confusion_matrix(truth, pred, 4)
    assert counts.tolist() == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(counts) == [2 / 3, 0.5, 1.0, None]  # class 3: no rows, no number
    report = split_report(truth, pred, ["a", "b", "c", "d"])
    assert report["n"] == 6 and report["accuracy"] == 4 / 6
    assert sum(map(sum, report["confusion"])) == 6
    assert report["per_class"][1] == {"class": 1, "name": "b", "n": 2, "accuracy": 0.5}


def test_accuracy_on_the_labels_ignores_unlabeled_rows() -> None:
    labels = np.array([-1, 3, 3, -1, 5])
    assert labeled_accuracy(np.array([9, 3, 1, 9, 5]), labels) == 2 / 3
    assert labeled_accuracy(np.array([1, 2]), np.array([-1, -1])) is None
    evaluation = session_evaluation(
        np.array([1, 1]), np.array([1, 0]), np.array([0, 3]), labels[:2]
    )
    assert evaluation == {"test_accuracy": 0.5, "labeled_accuracy": 1.0}
    assert session_evaluation(np.array([]), np.array([]), np.array([0]), np.array([0]))[
        "test_accuracy"
    ] is None  # fmt: skip


def test_the_curve_has_one_point_per_evaluated_session() -> None:
    sessions = [
        {"session": 1, "status": "completed", "n_labeled": 10},  # saved before evaluations
        {"session": 2, "status": "completed", "n_labeled": 20, "test_accuracy": 0.6,
         "labeled_accuracy": 0.9},
        {"session": 3, "status": "failed", "n_labeled": 20, "test_accuracy": None,
         "labeled_accuracy": None},
        {"session": 4, "status": "stopped", "n_labeled": 40, "test_accuracy": 0.7,
         "labeled_accuracy": 0.8},
    ]  # fmt: skip
    curve = evaluation_curve(sessions)
    assert [(p["session"], p["n_labeled"], p["test_accuracy"]) for p in curve] == [
        (2, 20, 0.6),
        (4, 40, 0.7),
    ]
    assert [p["previous_test_accuracy"] for p in curve] == [None, 0.6]
    assert curve[1]["labeled_accuracy"] == 0.8 and curve[1]["status"] == "stopped"
    assert evaluation_curve([]) == []


def test_the_last_result_comes_from_the_last_finished_session() -> None:
    sessions = [
        {"session": 1, "status": "completed", "start_global_epoch": 0, "epochs_run": 3},
        {"session": 2, "status": "early_stopped", "start_global_epoch": 3, "epochs_run": 2,
         "error": None, "test_accuracy": 0.5, "blind_accuracy": 0.25, "blind_n": 4},
        {"session": 3, "status": "running", "start_global_epoch": 5, "epochs_run": 0},
    ]  # fmt: skip
    assert last_result(sessions) == {
        "session": 2,
        "status": "early_stopped",
        "epochs_run": 2,
        "global_epoch": 5,
        "error": None,
        "seconds": None,
        "evaluation": {
            "test_accuracy": 0.5,
            "test_ece": None,
            "blind_accuracy": 0.25,
            "blind_n": 4,
            "labeled_accuracy": None,
        },
    }
    assert last_result([]) is None


def test_a_history_file_without_evaluation_columns_is_read_and_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "history.csv"
    append_history_csv(path, [record(1, 1, 1)], [SESSION_1])
    # As the previous release wrote it: every column but the evaluation ones.
    older = [c for c in COLUMNS if c not in ("session_test_accuracy", "session_labeled_accuracy")]
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, older, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    (first,) = read_sessions_csv(path)
    assert first["test_accuracy"] is None and first["labeled_accuracy"] is None
    assert first["n_labeled"] == SESSION_1["n_labeled"]

    session_2 = {**SESSION_1, "session": 2, "start_global_epoch": 1, "epochs_run": 1}
    append_history_csv(path, [record(2, 1, 2)], [session_2])
    assert path.read_text().splitlines()[0] == ",".join(COLUMNS)
    sessions = read_sessions_csv(path)
    assert sessions[1] == session_2 and sessions[0]["test_accuracy"] is None
    assert [p["session"] for p in evaluation_curve(sessions)] == [2]


def test_an_older_checkpoint_without_evaluations_still_serves(
    tiny_data_dir: Path, workspace: Path
) -> None:
    """Entries saved before evaluations: the checkpoint loads, the curve starts empty, and
    the last session's result is there for a reloaded page."""
    import torch

    from ssvae.config import SSVAEConfig
    from ssvae.io.checkpoint import save_checkpoint
    from ssvae.io.workspace import Workspace
    from ssvae.nn.model import SSVAE
    from tests.thread_server import make_session

    config = SSVAEConfig(hidden_dims=(16,))
    metrics = dict.fromkeys(("loss", "reconstruction_loss", "kl_loss"), 1.0)
    history = [{"session": 1, "epoch": 1, "global_epoch": 1, "train": metrics, "val": metrics,
                "seconds": 1.0, "learning_rate": 1e-3}]  # fmt: skip
    old_entry = {
        k: v for k, v in SESSION_1.items() if k not in ("test_accuracy", "labeled_accuracy")
    }
    path = Workspace(workspace, "mnist").checkpoint
    path.parent.mkdir(parents=True)
    save_checkpoint(path, model=SSVAE(config), optimizer=None, config=config, epochs_trained=1,
                    dataset="mnist", history=history, sessions=[{**old_entry, "epochs_run": 1}],
                    test_accuracy=0.5)  # fmt: skip
    assert "test_accuracy" not in torch.load(path, weights_only=True)["sessions"][0]

    session = make_session(workspace, tiny_data_dir)
    try:
        status = session.status()
        assert status["evaluations"] == []
        assert status["training"]["last_result"]["session"] == 1
        assert status["training"]["last_result"]["status"] == "completed"
        assert status["checkpoint"]["test_accuracy"] == 0.5
    finally:
        session.shutdown()
