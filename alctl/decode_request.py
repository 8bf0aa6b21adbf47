"""What may be decoded: one check of a decode request for `POST /api/decode` and `alctl decode`.

Coordinates are page coordinates (`space: "page"`, those of `/api/points`, default) or the
model's 2-D view (`space: "view"`: the latent itself when latent_dim is 2). The server and
the CLI without a server both pass the same body through `parse_body`, so a point one
refuses the other refuses too, with the same words (NaN, infinity, 1e400, a 401-digit
integer, a coordinate beyond ±1e6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssvae.io.strict_input import clip, echo
from ssvae.nn.decode import grid_points

MAX_GRID = 32  # cells per side: 32×32 = 1,024 images, 0.8 MB of pixels
MAX_POINTS = MAX_GRID * MAX_GRID
MAX_COORDINATE = 1e6  # far beyond any plot; keeps float32 latents finite
SPACES = ("page", "view")


class DecodeRequestError(ValueError):
    """A decode request that cannot be answered; the message says what to send."""

    status = 400


@dataclass(frozen=True)
class DecodeRequest:
    points: np.ndarray  # float64 [N, 2] in `space`
    space: str
    grid: list[int] | None  # [columns, rows] when the points are a grid


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeRequestError(f"{where} must be a number, got {echo(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise DecodeRequestError(f"{where} must be finite, got {echo(value)}")
    # Compared before float(): an int of any size compares exactly, but float() of a
    # 401-digit one raises OverflowError.
    if not -MAX_COORDINATE <= value <= MAX_COORDINATE:
        raise DecodeRequestError(f"{where} = {echo(value)} is beyond ±{MAX_COORDINATE:g}")
    return float(value)


def _cells(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= MAX_GRID


def _grid(spec: Any) -> tuple[np.ndarray, list[int]]:
    if not isinstance(spec, dict) or set(spec) != {"x0", "x1", "y0", "y1", "n"}:
        raise DecodeRequestError(
            'send "grid": {"x0", "x1", "y0", "y1", "n"} (n cells per side, or [columns, rows])'
        )
    n = spec["n"]
    shape = n if isinstance(n, list) else [n, n]
    if len(shape) != 2 or not all(_cells(v) for v in shape):
        raise DecodeRequestError(
            f"grid n must be a whole number 1..{MAX_GRID} or [columns, rows] of them, got {echo(n)}"
        )
    x0, x1, y0, y1 = (_number(spec[k], f"grid {k}") for k in ("x0", "x1", "y0", "y1"))
    return grid_points(x0, x1, y0, y1, shape[0], shape[1]), shape


def _points(raw: Any) -> np.ndarray:
    if not isinstance(raw, list) or not raw:
        raise DecodeRequestError('send "points": [[x, y], ...] (at least one)')
    if len(raw) > MAX_POINTS:
        raise DecodeRequestError(f"at most {MAX_POINTS} points per request, got {len(raw)}")
    out = np.empty((len(raw), 2))
    for i, point in enumerate(raw):
        if not isinstance(point, list) or len(point) != 2:
            raise DecodeRequestError(f"point {i} must be [x, y], got {echo(point)}")
        out[i] = [_number(point[0], f"point {i} x"), _number(point[1], f"point {i} y")]
    return out


def parse_body(body: dict[str, Any]) -> DecodeRequest:
    """A POST body: `{"points": [[x, y], ...]}` or `{"grid": {...}}`, optional `"space"`."""
    space = body.get("space", "page")
    if space not in SPACES:
        raise DecodeRequestError(f"space must be one of {', '.join(SPACES)}, got {echo(space)}")
    unknown = set(body) - {"points", "grid", "space"}
    if unknown:
        raise DecodeRequestError(f"unknown field(s): {clip(', '.join(sorted(unknown)))}")
    if ("points" in body) == ("grid" in body):
        raise DecodeRequestError('send either "points": [[x, y], ...] or "grid": {...}')
    if "grid" in body:
        points, shape = _grid(body["grid"])
        return DecodeRequest(points, space, shape)
    return DecodeRequest(_points(body["points"]), space, None)


def parse_query(query: dict[str, str]) -> DecodeRequest:
    """A GET's `?x=..&y=..[&space=view]`: one point."""
    body: dict[str, Any] = {"space": query.get("space", "page")}
    point = []
    for key in ("x", "y"):
        text = query.get(key)
        if text is None:
            raise DecodeRequestError("send ?x=<number>&y=<number> (page coordinates)")
        try:
            point.append(float(text))
        except ValueError:
            raise DecodeRequestError(f"{key} must be a number, got {echo(text)}") from None
    body["points"] = [point]
    return parse_body(body)


def point_body(x: float, y: float) -> dict[str, Any]:
    """The body `alctl decode X Y` sends (and checks without a server): one point of the view."""
    return {"points": [[x, y]], "space": "view"}


def grid_body(bounds: list[float], n: int) -> dict[str, Any]:
    """The body `alctl decode --grid N` sends: an N×N grid over `bounds` of the view."""
    x0, x1, y0, y1 = bounds
    return {"grid": {"x0": x0, "x1": x1, "y0": y0, "y1": y1, "n": n}, "space": "view"}
