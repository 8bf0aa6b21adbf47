"""Checks that a checkpoint's weights are the bytes that were saved, and the previous-file rule.

A checkpoint carries `checksum`, a SHA-256 over its model and optimizer tensors in key
order; load recomputes it. The zip members' CRCs are checked too, which also covers older
files saved without a checksum. Weights that are NaN or infinite are refused whatever the
checksum says: such a model only ever produces failing sessions.

`keep_previous` is the save-side rule: when a checkpoint is replaced, the file it replaces
stays next to it as `<stem>.prev<suffix>` (`ssvae.prev.ckpt`), so one bad session can always
be undone. `file_problem` is the one reading of what lies at a checkpoint's path (a directory
or a pipe is no checkpoint) that loading, `alctl status` and rollback share, and
`backup_problem` says when saves cannot keep that previous file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

CHECKSUM_KEY = "checksum"


def previous_path(path: str | os.PathLike[str]) -> Path:
    """`ssvae.ckpt` -> `ssvae.prev.ckpt`, in the same directory."""
    path = Path(path)
    return path.with_name(f"{path.stem}.prev{path.suffix}")


def file_problem(path: str | os.PathLike[str]) -> str | None:
    """Why what lies at `path` cannot be a checkpoint file, in words; None for a regular file
    or nothing at all."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(mode):
        return "is a directory, not a checkpoint file"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a pipe, socket or device), not a checkpoint file"
    return None


def backup_problem(path: str | os.PathLike[str]) -> str | None:
    """Why saves of the checkpoint at `path` cannot keep the previous one, or None.

    Said at start-up and by `alctl status`: the saves still go through, without a backup.
    """
    previous = previous_path(path)
    problem = file_problem(previous)
    if problem is None:
        return None
    return (
        f"{previous} {problem}: saves replace the checkpoint without keeping the previous "
        "one, so `alctl rollback` cannot undo them; move it away"
    )


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
