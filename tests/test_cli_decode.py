"""`alctl decode`: a point or a manifold grid, decoded here or by a running server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.cli_support import invoke, one_error_line
from tests.live_server import running_server
from tests.test_api import decode_png


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, tiny_data_dir: Path) -> list[str]:
    """A workspace with a 1-epoch checkpoint (trained once for the module)."""
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("decode-ws")
    args = ["--workspace", str(root), "--data-dir", str(tiny_data_dir)]
    assert invoke("label", 0, 1, *args).code == 0
    done = invoke("train", "--epochs", 1, "--batch-size", 64, *args)
    assert done.code == 0, done
    return args


def test_offline_point_prints_the_prediction_and_the_image(trained: list[str]) -> None:
    done = invoke("decode", "-0.5", "0.25", *trained)
    assert done.code == 0, done
    first, *art = done.stdout.splitlines()
    # the default classifier reads the encoder's features too: no prediction off the data
    assert first.startswith("(-0.5, 0.25): no prediction off the data"), first
    assert len(art) == 14 and all(len(line) == 28 for line in art)
    assert any(ch != " " for line in art for ch in line)  # a drawing, not a blank


def test_offline_and_served_decoding_agree(trained: list[str], tmp_path: Path) -> None:
    offline_point, offline_grid = tmp_path / "p0.png", tmp_path / "g0.png"
    assert invoke("decode", "0.3", "-0.7", "--out", offline_point, *trained).code == 0
    done = invoke("decode", "--grid", 5, "--out", offline_grid, *trained)
    assert done.code == 0 and "5×5 manifold over x" in done.stdout, done
    root = Path(trained[1])
    with running_server(root, Path(trained[3])):
        served_point, served_grid = tmp_path / "p1.png", tmp_path / "g1.png"
        done = invoke("decode", "0.3", "-0.7", "--out", served_point, *trained)
        assert done.code == 0 and f"wrote {served_point}" in done.stdout, done
        assert invoke("decode", "--grid", 5, "--out", served_grid, *trained).code == 0
    a, b = decode_png(offline_point.read_bytes()), decode_png(served_point.read_bytes())
    assert a.shape == (28, 28) and np.abs(a.astype(int) - b.astype(int)).max() <= 1
    a, b = decode_png(offline_grid.read_bytes()), decode_png(served_grid.read_bytes())
    assert a.shape == (140, 140) and np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert a.std() > 0  # the tiles differ: a map, not one image repeated


@pytest.mark.parametrize(
    ("args", "words"),
    [((), "give X and Y"), (("1",), "give X and Y"), (("1", "2", "--grid", "3"), "not both")],
)
def test_decode_usage_errors(trained: list[str], args: tuple[str, ...], words: str) -> None:
    assert words in one_error_line(invoke("decode", *args, *trained))


def test_decode_grid_limit_and_missing_checkpoint(
    trained: list[str], workspace: Path, tiny_data_dir: Path
) -> None:
    too_big = invoke("decode", "--grid", 33, *trained)
    assert too_big.code == 2 and "32" in too_big.stderr
    line = one_error_line(
        invoke("decode", "0", "0", "--workspace", workspace, "--data-dir", tiny_data_dir)
    )
    assert "no checkpoint at" in line


# (the CLI's argument, the same number as JSON)
ABSURD = [("nan", "NaN"), ("inf", "Infinity"), ("1e400", "1e400"), ("2e6", "2e6"), ("-1e7", "-1e7")]


def test_decode_refuses_the_same_points_with_and_without_a_server(trained: list[str]) -> None:
    """One check for both paths (alctl.decode_request): without a server `nan` was a bug
    (exit 70) and 2e6 was decoded, while the server refused both."""
    offline = {}
    for text, _ in ABSURD:
        for args in ((text, "0"), ("0", text)):
            done = invoke("decode", *args, *trained)
            assert done.code == 1, (args, done)
            offline[args] = one_error_line(done)
    with running_server(Path(trained[1]), Path(trained[3])) as server:
        for text, json_text in ABSURD:
            for args, point in (
                ((text, "0"), f"[{json_text}, 0]"),
                (("0", text), f"[0, {json_text}]"),
            ):
                body = f'{{"points": [{point}], "space": "view"}}'.encode()
                answer = server.api("POST", "/api/decode", body)
                assert answer.status == 400, answer.body
                assert offline[args] == "error: " + answer.json()["error"]
                served = invoke("decode", *args, *trained)
                assert served.code == 1 and one_error_line(served) == offline[args]
