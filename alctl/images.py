"""Grayscale PNG encoding with zlib only (no PIL) for sample thumbnails and reports."""

from __future__ import annotations

import base64
import struct
import zlib

import numpy as np

_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png_bytes(image: np.ndarray) -> bytes:
    """Encode a uint8 [H, W] array as an 8-bit grayscale PNG."""
    pixels = np.asarray(image)
    if pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise ValueError(f"png_bytes needs a uint8 [H, W] array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit gray, no interlace
    # Each scanline starts with filter type 0 (None).
    rows = np.zeros((height, width + 1), dtype=np.uint8)
    rows[:, 1:] = pixels
    return (
        _SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def b64_pixels(image: np.ndarray) -> str:
    """The raw row-major uint8 pixels, base64 (the `/api/samples` JSON form)."""
    return base64.b64encode(np.ascontiguousarray(image, dtype=np.uint8).tobytes()).decode("ascii")
