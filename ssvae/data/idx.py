"""Read and write the IDX files MNIST-style datasets ship in (LeCun et al., 1998).

Format: a 4-byte magic number (two zero bytes, a dtype code, the number of
dimensions), one big-endian uint32 per dimension, then the raw data. Files may be
gzipped; we tell by the gzip magic bytes, not by the name, because mirrors rename.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}


class IDXError(ValueError):
    """An IDX file that cannot be parsed; the message names the file."""


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Return the array stored in an IDX file (gzipped or not)."""
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise IDXError(f"{path}: corrupt gzip stream ({exc})") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise IDXError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = raw[2], raw[3]
    if code not in _DTYPES:
        raise IDXError(f"{path}: unknown IDX data type 0x{code:02x}")
    header_end = 4 + 4 * ndim
    if len(raw) < header_end:
        raise IDXError(f"{path}: truncated header")
    shape = struct.unpack(f">{ndim}I", raw[4:header_end])
    dtype = _DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_end != expected:
        found = len(raw) - header_end
        raise IDXError(f"{path}: expected {expected} data bytes for shape {shape}, found {found}")
    data = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | os.PathLike, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write a uint8/int8 array as IDX; gzip when asked or when the name ends in .gz."""
    path = Path(path)
    array = np.ascontiguousarray(array)
    if array.dtype not in _CODES:
        raise ValueError(f"write_idx supports uint8 and int8 arrays, not {array.dtype}")
    header = bytes([0, 0, _CODES[array.dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    payload = header + array.tobytes()
    if compress is None:
        compress = path.suffix == ".gz"
    if compress:
        payload = gzip.compress(payload, compresslevel=1)
    path.write_bytes(payload)


def read_idx_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The shape an IDX file declares, from its header alone (gzipped or not).

    Cheap: reads a few bytes, so callers can learn a dataset's size without loading it.
    """
    return _read_head(Path(path), 0)[0]


def read_idx_head(path: str | os.PathLike, count: int) -> bytes:
    """The first `count` bytes of an IDX file's data (for uint8 labels: the first labels)."""
    return _read_head(Path(path), count)[1]


def _read_head(path: Path, count: int) -> tuple[tuple[int, ...], bytes]:
    with path.open("rb") as raw_handle:
        gzipped = raw_handle.read(2) == b"\x1f\x8b"
    opener = gzip.open if gzipped else open
    try:
        with opener(path, "rb") as handle:
            magic = handle.read(4)
            if len(magic) < 4 or magic[0] != 0 or magic[1] != 0:
                raise IDXError(f"{path}: not an IDX file (bad magic number)")
            dims = handle.read(4 * magic[3])
            data = handle.read(count)
    except (OSError, EOFError) as exc:
        raise IDXError(f"{path}: cannot read the IDX header ({exc})") from exc
    if len(dims) < 4 * magic[3]:
        raise IDXError(f"{path}: truncated header")
    return struct.unpack(f">{magic[3]}I", dims), data
