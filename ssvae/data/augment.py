"""Label-preserving image jitter for the few labeled rows: mirror and shift.

With ~100 labels the classifier memorises them; showing each labeled image shifted by up
to `max_shift` pixels, and for data whose class survives it (clothes: yes; digits: no)
mirrored left-right, makes it learn the class rather than the pixels.
"""

from __future__ import annotations

import torch


def jitter(
    images: torch.Tensor, generator: torch.Generator, *, mirror: bool, max_shift: int = 2
) -> torch.Tensor:
    """[B, 28, 28] (uint8 or float) -> the same images, each shifted (zero fill) and maybe
    mirrored."""
    b, h, w = images.shape
    device = images.device
    if mirror:
        flip = torch.rand(b, generator=generator).to(device) < 0.5
        images = torch.where(flip[:, None, None], images.flip(-1), images)
    if max_shift <= 0:
        return images
    pad = max_shift
    padded = torch.nn.functional.pad(images, (pad, pad, pad, pad))
    dy, dx = torch.randint(0, 2 * pad + 1, (2, b), generator=generator).to(device)
    rows = dy[:, None] + torch.arange(h, device=device)
    cols = dx[:, None] + torch.arange(w, device=device)
    batch = torch.arange(b, device=device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]
