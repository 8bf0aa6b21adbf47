"""Checks that a checkpoint's weights are the bytes that were saved, and the previous-file rule.

A checkpoint carries `checksum`, a SHA-256 over its model and optimizer tensors in key
order; load recomputes it. The zip members' CRCs are checked too, which also covers older
files saved without a checksum. Weights that are NaN or infinite are refused whatever the
checksum says: such a model only ever produces failing sessions.

`keep_previous` is the save-side rule: before a checkpoint is replaced, the file it replaces
stays next to it as `<stem>.prev<suffix>` (`ssvae.prev.ckpt`), so one bad session can always
be undone.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

CHECKSUM_KEY = "checksum"


def previous_path(path: str | os.PathLike[str]) -> Path:
    """`ssvae.ckpt` -> `ssvae.prev.ckpt`, in the same directory."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def keep_previous(path: Path) -> Path | None:
    """Atomically make `previous_path(path)` a copy of `path` (a hard link where possible)."""
    if not path.is_file():
        return None
    previous = previous_path(path)
    tmp = previous.with_name(f".{previous.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(path, tmp)
    except OSError:  # a file system without hard links: copy instead
        shutil.copy2(path, tmp)
    try:
        os.replace(tmp, previous)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return previous


def payload_checksum(payload: dict[str, Any]) -> str:
    """SHA-256 over every tensor of the model and optimizer states, with their key paths."""
    digest = hashlib.sha256()
    for key in ("model_state", "optimizer_state"):
        _feed(digest, key, payload.get(key))
    return digest.hexdigest()


def damaged_member(path: Path) -> str | None:
    """The first zip member whose bytes fail their CRC, or None when all are intact."""
    with zipfile.ZipFile(path) as archive:
        return archive.testzip()


def non_finite_tensors(state: dict[str, Any]) -> list[str]:
    """Names of floating-point tensors in a state dict that hold NaN or infinity."""
    import torch

    return [
        name
        for name, value in state.items()
        if isinstance(value, torch.Tensor)
        and value.is_floating_point()
        and not bool(torch.isfinite(value).all())
    ]


def _feed(digest: Any, where: str, obj: Any) -> None:
    if hasattr(obj, "detach") and hasattr(obj, "numpy"):
        digest.update(where.encode())
        tensor = obj.detach().cpu().contiguous()
        digest.update(str(tuple(tensor.shape)).encode() + str(tensor.dtype).encode())
        digest.update(tensor.view(-1).view(dtype=_byte_dtype()).numpy().tobytes())
    elif isinstance(obj, dict):
        for key in sorted(obj, key=str):
            _feed(digest, f"{where}/{key}", obj[key])
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            _feed(digest, f"{where}/{index}", value)
    else:
        digest.update(f"{where}={obj!r}".encode())


def _byte_dtype() -> Any:
    import torch

    return torch.uint8
