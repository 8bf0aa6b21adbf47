"""The decoder's map of the latent space: coordinates, decoding, and `/api/decode`."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from alctl.server.points import PageMap, fit_page_map, normalise
from ssvae.select.latent_view import LatentView
from tests.thread_server import ThreadServer, make_session, thread_server


@pytest.mark.parametrize("d", [1, 2, 5])
def test_latent_view_round_trips_the_plane(d: int) -> None:
    rng = np.random.default_rng(d)
    latent = rng.normal(size=(300, d)) * np.arange(1, d + 1)
    view = LatentView.fit(latent)
    xy = rng.normal(size=(50, 2)) if d > 1 else np.c_[rng.normal(size=50), np.zeros(50)]
    back = view.project(view.unproject(xy))
    assert np.allclose(back, xy, atol=1e-5)


def test_latent_view_keeps_a_2d_latent_exactly_and_puts_other_components_at_the_mean() -> None:
    rng = np.random.default_rng(0)
    flat = rng.normal(size=(100, 2)).astype(np.float32)
    assert np.array_equal(LatentView.fit(flat).project(flat), flat)
    assert np.array_equal(LatentView.fit(flat).unproject(flat), flat)
    latent = rng.normal(size=(400, 6)) * [5, 3, 1, 1, 1, 1]
    view = LatentView.fit(latent)
    z = view.unproject(np.array([[0.0, 0.0]]))[0]
    assert np.allclose(z, latent.mean(axis=0), atol=1e-5)  # the plane's origin: the mean
    assert np.allclose(view.components.T @ view.components, np.eye(2), atol=1e-9)


def test_page_map_round_trips_page_coordinates() -> None:
    rng = np.random.default_rng(1)
    xy = (rng.normal(size=(1000, 2)) * [3.0, 0.5] + [10.0, -4.0]).astype(np.float32)
    page, bounds, page_map = normalise(xy)
    assert page.min() >= -1 - 1e-6 and page.max() <= 1 + 1e-6
    assert np.abs(page).max(axis=0)[0] == pytest.approx(1.0, abs=1e-6)  # the long side spans
    assert np.allclose(page_map.to_view(page), xy, atol=1e-6 * page_map.half)
    assert np.allclose(page_map.to_page(page_map.to_view(page)), page, atol=1e-12)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    assert bounds == [float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])]
    assert fit_page_map(np.full((3, 2), np.nan, np.float32)) == PageMap()


def test_decoding_a_latent_mean_gives_the_reconstruction() -> None:
    import torch

    from ssvae.config import SSVAEConfig
    from ssvae.nn.decode import decode_latent, grid_points, tile
    from ssvae.nn.model import SSVAE, predict

    torch.manual_seed(0)
    model = SSVAE(SSVAEConfig(latent_dim=3, hidden_dims=(32, 16), classifier_input="mean"))
    images = np.random.default_rng(0).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    out = predict(model, images)
    decoded = decode_latent(model, out.latent)
    assert out.recon is not None
    assert np.abs(decoded.images.astype(int) - out.recon.astype(int)).max() <= 1
    assert np.array_equal(decoded.pred, out.pred_class)
    assert np.allclose(decoded.certainty, out.certainty, atol=1e-6)
    assert model.training  # left as it was found
    with pytest.raises(ValueError, match="finite"):
        decode_latent(model, np.array([[0.0, np.nan, 0.0]]))
    points = grid_points(-1, 1, -1, 1, 3)
    assert points[0].tolist() == pytest.approx([-2 / 3, 2 / 3])  # top-left first
    big = tile(decode_latent(model, np.c_[points, np.zeros(9)]).images, 3)
    assert big.shape == (84, 84)


def test_a_classifier_that_reads_features_gives_no_prediction_off_the_data() -> None:
    from ssvae.config import SSVAEConfig
    from ssvae.nn.decode import decode_latent
    from ssvae.nn.model import SSVAE

    model = SSVAE(SSVAEConfig(hidden_dims=(16,), classifier_input="hidden"))
    decoded = decode_latent(model, np.zeros((2, 2), np.float32))
    assert decoded.pred is None and decoded.certainty is None
    assert decoded.images.shape == (2, 28, 28) and "no prediction off the data" in str(decoded.note)


@pytest.fixture(scope="module")
def server(tiny_data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    """A server whose classifier reads the latent alone, so every point has a prediction."""
    from ssvae.config import SSVAEConfig
    from ssvae.io.checkpoint import save_checkpoint
    from ssvae.io.workspace import Workspace
    from ssvae.train.trainer import InteractiveTrainer

    root = tmp_path_factory.mktemp("ws")
    trainer = InteractiveTrainer(SSVAEConfig(classifier_input="mean"))
    save_checkpoint(Workspace(root, "mnist").checkpoint, **trainer.checkpoint_payload("mnist"))
    session = make_session(root, tiny_data_dir)
    with thread_server(session) as running:
        yield running


def _images(answer: dict) -> np.ndarray:
    raw = np.frombuffer(base64.b64decode(answer["images"]), np.uint8)
    return raw.reshape(answer["n"], *answer["size"])


def test_decoding_a_samples_page_point_gives_its_reconstruction(server: ThreadServer) -> None:
    points = server.api("GET", "/api/points").body
    n = 600
    xy = np.frombuffer(points[: 8 * n], "<f4").reshape(n, 2)
    for serial in (3, 250):
        sample = server.api("GET", f"/api/samples/{serial}").json()
        x, y = (float(v) for v in xy[serial])
        answer = server.api("GET", f"/api/decode?x={x!r}&y={y!r}").json()
        # page -> latent is exact up to float32 rounding of the page coordinates
        assert np.allclose(answer["latent"][0], sample["latent"], atol=1e-5)
        recon = np.frombuffer(base64.b64decode(sample["recon"]), np.uint8).reshape(28, 28)
        assert np.abs(_images(answer)[0].astype(int) - recon.astype(int)).max() <= 1
        assert answer["pred"] == [sample["pred"]]
        assert answer["certainty"][0] == pytest.approx(sample["certainty"], abs=1e-5)
        # the documented transform gives the same latent point
        t = answer["transform"]
        view = np.array(t["page_to_view"]["centre"]) + t["page_to_view"]["half"] * np.array([x, y])
        latent = (
            np.array(t["view_to_latent"]["mean"])
            + np.array(t["view_to_latent"]["components"]) @ view
        )
        assert np.allclose(latent, answer["latent"][0], atol=1e-5)
    status = server.api("GET", "/api/status").json()
    assert status["latent"]["transform"]["page_to_view"] == answer["transform"]["page_to_view"]


def test_a_grid_is_one_batch_row_major_from_the_top(server: ThreadServer) -> None:
    grid = {"x0": -1, "x1": 1, "y0": -0.5, "y1": 0.5, "n": 20}
    answer = server.api("POST", "/api/decode", {"grid": grid}).json()
    assert answer["n"] == 400 and answer["grid"] == [20, 20] and len(answer["pred"]) == 400
    assert _images(answer).shape == (400, 28, 28)
    page_map = server.api("GET", "/api/status").json()["latent"]["transform"]["page_to_view"]
    top_left = np.array(page_map["centre"]) + page_map["half"] * np.array([-0.95, 0.475])
    assert np.allclose(answer["view"][0], top_left)
    one = server.api("POST", "/api/decode", {"points": [[-0.95, 0.475]]}).json()
    assert np.array_equal(_images(one)[0], _images(answer)[0])
    in_view = server.api("POST", "/api/decode", {"points": [top_left.tolist()], "space": "view"})
    assert np.array_equal(_images(in_view.json())[0], _images(answer)[0])
    # a wide view asks for more columns than rows: the tiles stay square
    wide = {"x0": -1.25, "x1": 1.25, "y0": -0.8, "y1": 0.8, "n": [25, 16]}
    answer = server.api("POST", "/api/decode", {"grid": wide}).json()
    assert answer["n"] == 400 and answer["grid"] == [25, 16]
    assert np.allclose(
        answer["view"][24], answer["view"][0] + np.array([2.4 * page_map["half"], 0])
    )
    assert np.allclose(answer["view"][25][1], answer["view"][0][1] - 0.1 * page_map["half"])


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": 33}}, "1..32"),
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": 0}}, "1..32"),
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": [4, 40]}}, "1..32"),
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": [4]}}, "[columns, rows]"),
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "y1": 1, "n": True}}, "1..32"),
        ({"grid": {"x0": -1, "x1": 1, "y0": -1, "n": 4}}, '"grid"'),
        ({"grid": {"x0": "a", "x1": 1, "y0": -1, "y1": 1, "n": 4}}, "must be a number"),
        ({"points": [[0, 1e300]]}, "beyond"),
        ({"points": [[0, 1, 2]]}, "[x, y]"),
        ({"points": []}, "at least one"),
        ({"points": [[0, 0]] * 1025}, "at most 1024"),
        ({"points": [[0, 0]], "grid": {}}, "either"),
        ({"points": [[0, 0]], "space": "latent"}, "space"),
        ({"points": [[0, 0]], "extra": 1}, "unknown"),
        ([1, 2], "JSON object"),
    ],
)
def test_decode_refuses_bad_requests(server: ThreadServer, body: object, message: str) -> None:
    answer = server.api("POST", "/api/decode", body)
    assert answer.status == 400, answer.body
    assert message in answer.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [b'{"points": [[NaN, 0]]}', b'{"points": [[0, Infinity]]}', b"{not json", b'{"po'],
)
def test_decode_refuses_non_finite_and_broken_json(server: ThreadServer, raw: bytes) -> None:
    answer = server.api("POST", "/api/decode", raw)
    assert answer.status == 400 and answer.json()["error"]


@pytest.mark.parametrize("query", ["x=nan&y=0", "x=1", "x=a&y=0", "x=inf&y=0"])
def test_decode_get_checks_its_query(server: ThreadServer, query: str) -> None:
    answer = server.api("GET", f"/api/decode?{query}")
    assert answer.status == 400 and answer.json()["error"]


def test_decode_post_goes_through_the_security_checks(server: ThreadServer) -> None:
    body = {"points": [[0, 0]]}
    assert server.api("POST", "/api/decode", body, token=None).status == 403
    foreign = {"Origin": "http://evil.example"}
    assert server.api("POST", "/api/decode", body, headers=foreign).status == 403
    assert server.api("GET", "/api/decode?x=0&y=0", token=None).status == 200


def test_a_wider_latent_is_decoded_from_its_principal_plane(
    tiny_data_dir: Path, tmp_path: Path
) -> None:
    """latent_dim 4: a page point is the sample's projection, the rest at the data's mean."""
    from ssvae.config import SSVAEConfig
    from ssvae.io.checkpoint import save_checkpoint
    from ssvae.io.workspace import Workspace
    from ssvae.train.trainer import InteractiveTrainer

    trainer = InteractiveTrainer(SSVAEConfig(latent_dim=4, hidden_dims=(32, 16)))
    save_checkpoint(Workspace(tmp_path, "mnist").checkpoint, **trainer.checkpoint_payload("mnist"))
    session = make_session(tmp_path, tiny_data_dir)
    with thread_server(session) as server:
        n = 600
        xy = np.frombuffer(server.api("GET", "/api/points").body[: 8 * n], "<f4").reshape(n, 2)
        transform = server.api("GET", "/api/status").json()["latent"]["transform"]
        t = transform["view_to_latent"]
        view = LatentView.from_arrays(np.array(t["mean"]), np.array(t["components"]))
        assert view.latent_dim == 4
        sample = server.api("GET", "/api/samples/17").json()
        x, y = (float(v) for v in xy[17])
        answer = server.api("GET", f"/api/decode?x={x!r}&y={y!r}").json()
        assert answer["latent_dim"] == 4 and answer["other_components"] == "at the mean"
        # the default classifier reads encoder features too: nothing to predict off the data
        assert answer["pred"] is None and answer["certainty"] is None
        assert "no prediction off the data" in answer["prediction_note"]
        # the page point is the sample's latent mean projected on the principal plane
        assert np.allclose(
            answer["view"][0], view.project(np.array(sample["latent"]))[0], atol=1e-4
        )
        assert np.allclose(
            view.project(np.array(answer["latent"]))[0], answer["view"][0], atol=1e-5
        )
        centre = np.array(transform["page_to_view"]["centre"])
        page = (np.zeros(2) - centre) / transform["page_to_view"]["half"]
        origin = server.api("POST", "/api/decode", {"points": [page.tolist()]}).json()
        assert np.allclose(origin["latent"][0], t["mean"], atol=1e-5)  # view (0, 0) = the mean
