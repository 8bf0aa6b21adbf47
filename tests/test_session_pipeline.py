"""One pipeline per session: the page, the shell and the scripts keep the same things.

The parity test trains the same labels for the same epochs through a real `alctl serve` (the
page's own calls) and through `alctl train --no-server`, then compares the two checkpoints
field by field. The others pin what the pipeline promises: a page-trained model is
calibrated, the blind accuracy counts exactly the labels given since the last save, and a
stopped session keeps whole epochs only.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ssvae.data.datasets import load_dataset
from ssvae.data.idx import read_idx
from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.history import read_history_csv
from ssvae.io.points_cache import load_cache
from ssvae.io.workspace import Workspace
from ssvae.records.events import EpochRecord, TrainingCallback
from ssvae.runs.pipeline import SessionFiles, blind_check, run_session
from ssvae.train.trainer import InteractiveTrainer
from tests.cli_support import run
from tests.live_server import SSEReader, running_server

EPOCHS = 2
# The fields of a checkpoint the two paths must agree on, and how.
EXACT_FIELDS = ("config", "epochs_trained", "dataset", "trained_labels")
CLOSE_FIELDS = ("temperature", "test_accuracy")
SESSION_EXACT = ("session", "start_global_epoch", "hparams", "n_labeled", "status", "epochs_run")
SESSION_CLOSE = ("test_accuracy", "test_ece", "blind_accuracy", "blind_n", "labeled_accuracy")
VOLATILE = ("started_at", "seconds", "time")  # when it ran, not what it made


def truth(data_dir: Path) -> np.ndarray:
    return read_idx(data_dir / "train-labels-idx1-ubyte").astype(np.int64)


def write_labels(workspace: Path, serials: range, targets: np.ndarray) -> None:
    path = workspace / "data" / "mnist" / "labels.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Serial,label\n" + "".join(f"{s},{targets[s]}\n" for s in serials))


def close(a: Any, b: Any, rel: float = 1e-4, abs_: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=abs_)


def page_sessions(workspace: Path, data_dir: Path, targets: np.ndarray) -> list[dict[str, Any]]:
    """Two sessions through the page's own calls, with 20 labels more before the second."""
    saved = []
    with running_server(workspace, data_dir) as server, SSEReader(server.url) as events:
        events.next()
        for serials in (range(0, 20), range(20, 40)):
            body = {"labels": {str(s): int(targets[s]) for s in serials}}
            assert server.api("POST", "/api/labels", body).status == 200
            assert server.api("POST", "/api/train", {"epochs": EPOCHS}).status == 202
            saved.append(events.until("session_saved")[-1].data)
            events.until("latent_refreshed")
        saved.append(server.api("GET", "/api/status").json())
        points = server.api("GET", "/api/points")
    saved.append({"points": points.body})
    return saved


def shell_sessions(workspace: Path, data_dir: Path, targets: np.ndarray) -> list[str]:
    out = []
    for last in (20, 40):
        write_labels(workspace, range(0, last), targets)
        done = run("train", "--epochs", EPOCHS, "--workspace", workspace, "--data-dir", data_dir,
                   "--dataset", "mnist", "--no-server", timeout=300)  # fmt: skip
        assert done.code == 0, done.stderr
        out.append(done.stdout + done.stderr)
    return out


@pytest.fixture(scope="module")
def two_ways(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("parity")
    page, shell = root / "page", root / "shell"
    page.mkdir()
    shell.mkdir()
    targets = truth(tiny_data_dir)
    events = page_sessions(page, tiny_data_dir, targets)
    printed = shell_sessions(shell, tiny_data_dir, targets)
    return {
        "page": page,
        "shell": shell,
        "events": events,
        "printed": printed,
        "data": tiny_data_dir,
    }


def test_page_and_shell_save_the_same_checkpoint(two_ways: dict[str, Any]) -> None:
    a = load_checkpoint(Workspace(two_ways["page"], "mnist").checkpoint)
    b = load_checkpoint(Workspace(two_ways["shell"], "mnist").checkpoint)
    assert a is not None and b is not None
    for name in EXACT_FIELDS:
        assert getattr(a, name) == getattr(b, name), name
    for name in CLOSE_FIELDS:
        assert close(getattr(a, name), getattr(b, name)), (name, getattr(a, name), getattr(b, name))
    assert len(a.sessions) == len(b.sessions) == 2
    for x, y in zip(a.sessions, b.sessions, strict=True):
        assert {k: x[k] for k in SESSION_EXACT} == {k: y[k] for k in SESSION_EXACT}
        for key in SESSION_CLOSE:
            assert close(x.get(key), y.get(key)), (key, x.get(key), y.get(key))
    assert [r["global_epoch"] for r in a.history] == [r["global_epoch"] for r in b.history]
    for x, y in zip(a.history, b.history, strict=True):
        assert x.keys() == y.keys()
        for split in ("train", "val"):
            for key, value in x[split].items():
                assert close(value, y[split][key], rel=1e-3), (split, key, value, y[split][key])
    for name, tensor in a.model_state.items():  # the same seed: the same weights, up to noise
        assert np.allclose(tensor.numpy(), b.model_state[name].numpy(), atol=1e-4), name


def test_both_paths_write_the_same_derived_files(two_ways: dict[str, Any]) -> None:
    page, shell = Workspace(two_ways["page"], "mnist"), Workspace(two_ways["shell"], "mnist")
    rows_a, rows_b = read_history_csv(page.history_csv), read_history_csv(shell.history_csv)
    assert (
        page.history_csv.read_text().splitlines()[0]
        == (shell.history_csv.read_text().splitlines()[0])
    )  # the same columns, in the same order
    assert (
        [r["global_epoch"] for r in rows_a] == [r["global_epoch"] for r in rows_b] == [1, 2, 3, 4]
    )
    assert page.loss_plot.is_file() and shell.loss_plot.is_file()
    metas = []
    for ws in (page, shell):
        cached = load_cache(
            ws.points_cache, dataset="mnist", n_samples=600, checkpoint=ws.checkpoint
        )
        assert cached is not None, f"{ws.points_cache} does not fit {ws.checkpoint}"
        metas.append(cached.meta)
    a, b = metas
    assert a.keys() == b.keys()
    assert a["config"] == b["config"] and a["epochs_trained"] == b["epochs_trained"] == 4
    assert [s["session"] for s in a["sessions"]] == [s["session"] for s in b["sessions"]]


def test_a_page_trained_model_is_calibrated(two_ways: dict[str, Any]) -> None:
    ckpt = load_checkpoint(Workspace(two_ways["page"], "mnist").checkpoint)
    assert ckpt is not None
    # The second session's 20 new labels fitted the temperature the page now shows.
    assert ckpt.temperature != 1.0
    assert ckpt.trained_labels == list(range(40))
    first, second, status, points = two_ways["events"]
    assert first["saved"] and second["saved"]
    assert first["evaluation"]["blind_accuracy"] is None  # a fresh model has seen no label
    assert second["evaluation"]["blind_n"] == 20
    assert 0 <= second["evaluation"]["blind_accuracy"] <= 1
    assert 0 <= second["evaluation"]["test_ece"] <= 1
    curve = status["evaluations"]
    assert [p["blind_n"] for p in curve] == [0, 20]
    # The certainty the page colours and ranks by is the calibrated one.
    from ssvae.nn.model import predict
    from ssvae.nn.restore import build_model

    model, _ = build_model(ckpt)
    images = read_idx(two_ways["data"] / "train-images-idx3-ubyte")
    n = len(images)
    certainty = np.frombuffer(points["points"], dtype="<f4", count=n, offset=8 * n)
    expected = predict(model, images, reconstruct=False).certainty
    assert np.allclose(certainty, expected, atol=1e-5)


def test_shell_prints_what_was_kept(two_ways: dict[str, Any]) -> None:
    second = two_ways["printed"][1]
    assert "saved " in second and "blind accuracy" in second and "on 20 new labels" in second
    assert "calibration error" in second


# -- the pipeline's steps, in-process ---------------------------------------------------------


@pytest.fixture()
def tiny(tiny_data_dir: Path) -> Any:
    return load_dataset("mnist", tiny_data_dir)


def test_blind_accuracy_counts_exactly_the_labels_not_trained_on(
    tiny: Any, tmp_path: Path, torch_one_thread: None
) -> None:
    from ssvae.config import SSVAEConfig
    from ssvae.nn.model import predict

    trainer = InteractiveTrainer(SSVAEConfig(hidden_dims=(64, 32), batch_size=64))
    files = SessionFiles("mnist", tmp_path / "a.ckpt", tmp_path / "a.csv")
    labels = np.full(tiny.n_train, -1, np.int64)
    labels[:30] = tiny.train_targets[:30]
    first = run_session(trainer, tiny, labels, files, epochs=1)
    assert first.saved and trainer.trained_labels == list(range(30))
    labels[30:45] = tiny.train_targets[30:45]
    labels[3] = (tiny.train_targets[3] + 1) % 10  # relabeled, but its serial was trained on
    before = predict(trainer.model, tiny.train_images, reconstruct=False).pred_class
    blind = blind_check(trainer.model, tiny.train_images, labels, trainer.trained_labels)
    assert blind.serials.tolist() == list(range(30, 45))
    assert blind.accuracy == pytest.approx(float((before[30:45] == labels[30:45]).mean()))
    second = run_session(trainer, tiny, labels, files, epochs=1)
    assert second.evaluation is not None
    assert second.evaluation["blind_n"] == 15
    assert second.evaluation["blind_accuracy"] == pytest.approx(blind.accuracy)
    assert blind.temperature is not None and trainer.model.temperature == blind.temperature


def test_a_stopped_session_keeps_whole_epochs(
    tiny: Any, tmp_path: Path, torch_one_thread: None
) -> None:
    """Stopped in its second epoch: the first is kept and saved, the second's updates go."""
    import torch

    from ssvae.config import SSVAEConfig

    trainer = InteractiveTrainer(SSVAEConfig(hidden_dims=(64, 32), batch_size=16))
    stop = threading.Event()
    kept: dict[str, torch.Tensor] = {}

    class StopInSecondEpoch(TrainingCallback):
        def on_epoch_end(self, event: EpochRecord) -> None:
            kept.update({k: v.clone() for k, v in trainer.model.state_dict().items()})

        def on_batch_end(self, event: Any) -> None:
            if event.epoch == 2 and event.batch == 3:
                stop.set()

    files = SessionFiles("mnist", tmp_path / "s.ckpt", tmp_path / "s.csv")
    labels = np.full(tiny.n_train, -1, np.int64)
    outcome = run_session(
        trainer, tiny, labels, files, epochs=3, callbacks=[StopInSecondEpoch()], stop_event=stop
    )
    assert outcome.result.status == "stopped" and outcome.result.epochs_run == 1
    assert outcome.saved and trainer.epochs_trained == 1
    for name, value in trainer.model.state_dict().items():
        assert torch.equal(value, kept[name]), name
    saved = load_checkpoint(files.checkpoint)
    assert saved is not None and saved.epochs_trained == 1 and len(saved.history) == 1


def test_a_session_that_keeps_no_epoch_saves_nothing(tiny: Any, tmp_path: Path) -> None:
    from ssvae.config import SSVAEConfig

    trainer = InteractiveTrainer(SSVAEConfig(hidden_dims=(64, 32), batch_size=64))
    stop = threading.Event()
    stop.set()
    files = SessionFiles("mnist", tmp_path / "n.ckpt", tmp_path / "n.csv")
    outcome = run_session(
        trainer, tiny, np.full(tiny.n_train, -1), files, epochs=2, stop_event=stop
    )
    assert outcome.result.status == "stopped" and not outcome.saved and outcome.error is None
    assert not files.checkpoint.exists() and not files.history_csv.exists()


def test_a_session_the_process_ends_after_is_evaluated_without_the_points(
    tiny: Any, tmp_path: Path, torch_one_thread: None
) -> None:
    """Ctrl+C ends the process after the session: the entry's evaluation is the one a full
    evaluation of the same weights gives, but the training images are not predicted (the
    stop must end within 3 s on 60k images) and no page cache is written."""
    from ssvae.config import SSVAEConfig
    from ssvae.runs.pipeline import evaluate

    trainer = InteractiveTrainer(SSVAEConfig(hidden_dims=(64, 32), batch_size=16))
    stop = threading.Event()

    class CtrlCInSecondEpoch(TrainingCallback):
        def on_batch_end(self, event: Any) -> None:
            if event.epoch == 2 and event.batch == 2:
                stop.set()

    cache = tmp_path / "points.npz"
    files = SessionFiles("mnist", tmp_path / "e.ckpt", tmp_path / "e.csv", cache)
    labels = np.full(tiny.n_train, -1, np.int64)
    labels[:40] = tiny.train_targets[:40]
    labels[5] = (labels[5] + 1) % 10  # one the model will likely get "wrong"
    outcome = run_session(
        trainer, tiny, labels, files, epochs=3, callbacks=[CtrlCInSecondEpoch()],
        stop_event=stop, ending=stop,
    )  # fmt: skip
    assert outcome.result.status == "stopped" and outcome.saved
    assert outcome.points is None and not cache.exists()
    assert outcome.evaluation is not None
    blind = blind_check(trainer.model, tiny.train_images, labels, None)
    full, points = evaluate(trainer.model, tiny, labels, blind)
    assert points is not None
    for key in ("test_accuracy", "test_ece", "labeled_accuracy"):
        assert outcome.evaluation[key] == pytest.approx(full[key]), key
    saved = load_checkpoint(files.checkpoint)
    assert saved is not None and saved.sessions[-1]["test_accuracy"] == pytest.approx(
        full["test_accuracy"]
    )
