"""Jitter of the labeled rows: shifted within bounds, mirrored only when asked."""

from __future__ import annotations

import torch

from ssvae.data.augment import jitter


def _dot_images(n: int) -> torch.Tensor:
    images = torch.zeros(n, 28, 28, dtype=torch.uint8)
    images[:, 10, 5] = 255
    return images


def _dots(images: torch.Tensor) -> list[tuple[int, int]]:
    return [tuple(t) for t in (images == 255).nonzero()[:, 1:].tolist()]


def test_shift_moves_each_image_by_at_most_max_shift() -> None:
    out = jitter(_dot_images(200), torch.Generator().manual_seed(0), mirror=False, max_shift=2)
    assert out.dtype == torch.uint8 and out.shape == (200, 28, 28)
    dots = _dots(out)
    assert len(dots) == 200  # one dot per image, none lost at this distance from the edge
    assert {r for r, _ in dots} == set(range(8, 13)) and {c for _, c in dots} == set(range(3, 8))


def test_mirror_flips_about_half_and_none_without_it() -> None:
    mirrored = _dots(jitter(_dot_images(400), torch.Generator().manual_seed(1), mirror=True))
    flipped = sum(c > 14 for _, c in mirrored)
    assert 120 < flipped < 280
    plain = _dots(jitter(_dot_images(50), torch.Generator().manual_seed(1), mirror=False))
    assert all(c < 14 for _, c in plain)


def test_no_shift_and_no_mirror_is_the_identity() -> None:
    images = _dot_images(5)
    assert torch.equal(jitter(images, torch.Generator(), mirror=False, max_shift=0), images)
