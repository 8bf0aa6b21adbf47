"""The page's default path, through a real server and the page's own calls: a fresh
workspace, the queue's head labeled by the oracle, Start training with the default settings.

It calibrates on the check labels the queue interleaved (not on its own picks), at the end of
each session on weights that never trained on them, it learns well beyond chance, and the
blind accuracy counts exactly the labels given since the last session (not the checks an
earlier session held out).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ssvae.data.idx import read_idx
from ssvae.io.checkpoint import load_checkpoint
from ssvae.io.workspace import Workspace
from ssvae.select.checks import check_mask
from tests.live_server import SSEReader, running_server

FIRST, MORE = 60, 20  # labels before the first press, and before the second


def test_the_default_path_calibrates_learns_and_measures_blind(
    tmp_path: Path, tiny_data_dir: Path
) -> None:
    targets = read_idx(tiny_data_dir / "train-labels-idx1-ubyte").astype(np.int64)
    checks = check_mask(len(targets))
    saved, heads = [], []
    with running_server(tmp_path, tiny_data_dir) as server, SSEReader(server.url) as events:
        events.next()
        for n in (FIRST, MORE):
            head = server.api("GET", f"/api/queue?n={n}").json()
            serials = [item["serial"] for item in head["items"]]
            assert len(serials) == n
            heads.append(serials)
            body = {"labels": {str(s): int(targets[s]) for s in serials}}
            assert server.api("POST", "/api/labels", body).status == 200
            assert server.api("POST", "/api/train", {}).status == 202  # the defaults
            saved.append(events.until("session_saved")[-1].data)
            events.until("latent_refreshed")
    first, second = saved
    # The queue's every 5th item is a check sample; only those calibrate the certainty.
    first_checks = [s for s in heads[0] if checks[s]]
    assert len(first_checks) >= FIRST // 5
    ckpt = load_checkpoint(Workspace(tmp_path, "mnist").checkpoint)
    assert ckpt is not None and ckpt.config.classifier_input == "conv_only"
    entry = ckpt.sessions[0]
    assert entry["calibration_labels"] == len(first_checks) and entry["temperature"] > 0
    assert ckpt.temperature != 1.0
    assert 0 <= first["evaluation"]["test_ece"] <= 1
    # 10 balanced classes of generated digits: chance is 10 %.
    assert first["evaluation"]["test_accuracy"] >= 0.5, first["evaluation"]
    # Blind: exactly the second round's labels, predicted before training on them.
    assert first["evaluation"]["blind_n"] == 0
    assert second["evaluation"]["blind_n"] == MORE
    assert 0 <= second["evaluation"]["blind_accuracy"] <= 1
    # The checks calibrate at each session's end on its final weights, so none has trained
    # (25 at most wait); every other label has.
    given = heads[0] + heads[1]
    held = sorted(s for s in given if checks[s])
    assert len(held) <= 25 and ckpt.sessions[-1]["held_out_labels"] == held
    assert ckpt.trained_labels == sorted(set(given) - set(held))
