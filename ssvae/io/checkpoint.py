"""Checkpoints: one `torch.save` file holding a plain dict, written atomically.

Keys: kind, format_version, model_state, optimizer_state, config (dict), epochs_trained,
dataset, history (epoch record dicts), sessions (ssvae.records.sessions entries; absent in older
files), test_accuracy, saved_at, temperature (the softmax temperature of the shown
certainty; files without it mean 1), trained_labels (the serials the weights were trained
on, so later labels can calibrate them honestly; may be absent). Loading uses
`weights_only=True`, so a checkpoint cannot run code. A missing file means "fresh model"
(load returns None); a corrupt, truncated or incompatible file raises CheckpointError
naming the file and what is wrong, and is never overwritten here.

torch is imported inside the functions that need it, so `checkpoint_summary` (for
`alctl status`) and CheckpointError stay cheap to import.
"""

from __future__ import annotations

import collections
import os
import pickle
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssvae.config import ARCHITECTURE_FIELDS, SSVAEConfig
from ssvae.io.atomic import atomic_write
from ssvae.io.checkpoint_integrity import (
    CHECKSUM_KEY,
    backup_problem,
    damaged_member,
    file_problem,
    keep_previous,
    non_finite_tensors,
    payload_checksum,
    previous_path,
)

if TYPE_CHECKING:
    import torch


FORMAT_VERSION = 1
KIND = "alctl-ssvae-checkpoint"
_REQUIRED = ("model_state", "config", "epochs_trained", "dataset")


class CheckpointError(Exception):
    """A checkpoint that cannot be used; `str()` names the file and the reason."""

    def __init__(self, path: str | os.PathLike[str] | None, reason: str) -> None:
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"checkpoint {self.path}: {reason}")


@dataclass
class Checkpoint:
    config: SSVAEConfig
    model_state: dict[str, Any]
    optimizer_state: dict[str, Any] | None
    epochs_trained: int
    dataset: str
    history: list[dict[str, Any]]
    test_accuracy: float | None
    saved_at: str
    path: Path | None = field(default=None)
    sessions: list[dict[str, Any]] = field(default_factory=list)  # [] in older files
    temperature: float = 1.0
    trained_labels: list[int] | None = None


def save_checkpoint(
    path: str | os.PathLike[str],
    *,
    model: torch.nn.Module | dict[str, Any],
    optimizer: torch.optim.Optimizer | dict[str, Any] | None,
    config: SSVAEConfig,
    epochs_trained: int,
    dataset: str,
    history: list[dict[str, Any]],
    test_accuracy: float | None = None,
    sessions: list[dict[str, Any]] | None = None,
    temperature: float = 1.0,
    trained_labels: list[int] | None = None,
) -> str | None:
    """Write the checkpoint atomically (temp file in the same directory, fsync, replace).

    The file it replaces stays next to it as `ssvae.prev.ckpt` (see checkpoint_integrity),
    moved there only once the new file is durably written: a save that fails (a full disk)
    leaves both files as they were. When the previous file cannot be kept (a directory in
    its way), the save still goes through; the returned note says so. None otherwise.
    """
    import torch

    def state(obj: Any) -> Any:
        return obj.state_dict() if hasattr(obj, "state_dict") else obj

    payload = {
        "kind": KIND,
        "format_version": FORMAT_VERSION,
        "model_state": _to_cpu(state(model)),
        "optimizer_state": None if optimizer is None else _to_cpu(state(optimizer)),
        "config": config.to_dict(),
        "epochs_trained": int(epochs_trained),
        "dataset": dataset,
        "history": [dict(r) for r in history],
        "sessions": [dict(s) for s in sessions or []],
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
        "temperature": float(temperature),
        "trained_labels": None if trained_labels is None else [int(s) for s in trained_labels],
        "saved_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    payload[CHECKSUM_KEY] = payload_checksum(payload)
    notes: list[str] = []

    def rotate() -> None:
        try:
            keep_previous(Path(path))
        except OSError as exc:
            notes.append(
                f"the previous checkpoint could not be kept as {previous_path(path)} "
                f"({exc.strerror or exc}); this save cannot be rolled back"
            )

    with atomic_write(path, before_replace=rotate) as handle:
        torch.save(payload, handle)
    return notes[0] if notes else None


def load_checkpoint(
    path: str | os.PathLike[str],
    *,
    dataset: str | None = None,
    map_location: str | torch.device = "cpu",
) -> Checkpoint | None:
    """The checkpoint at `path`, None when there is no file; CheckpointError when unusable."""
    import torch

    path = Path(path)
    problem = file_problem(path)
    if problem is not None:
        raise CheckpointError(path, problem)
    if not path.exists():
        return None
    if not zipfile.is_zipfile(path):  # torch.save has written zip archives since torch 1.6
        raise CheckpointError(path, "corrupt or truncated file (not a torch zip archive)")
    try:
        damaged = damaged_member(path)
    except Exception as exc:
        raise CheckpointError(path, f"corrupt or truncated file ({first_line(exc)})") from exc
    if damaged is not None:
        raise CheckpointError(path, f"damaged file: {damaged} fails its CRC check")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses arbitrary Python objects; torch's own message is a page long.
        raise CheckpointError(
            path, "not an alctl checkpoint (it holds Python objects alctl never unpickles)"
        ) from exc
    except Exception as exc:  # torch reports truncation/corruption as assorted errors
        raise CheckpointError(path, f"corrupt or truncated file ({first_line(exc)})") from exc
    ckpt = _from_payload(path, payload, dataset)
    _check_weights(path, payload)
    return ckpt


def check_architecture(ckpt: Checkpoint, config: SSVAEConfig) -> None:
    """CheckpointError when `config` asks for another network shape than the file holds."""
    diffs = [
        f"{name} {getattr(ckpt.config, name)!r} in the file vs {getattr(config, name)!r} asked for"
        for name in ARCHITECTURE_FIELDS
        if getattr(ckpt.config, name) != getattr(config, name)
    ]
    if diffs:
        raise CheckpointError(
            ckpt.path,
            "architecture differs: "
            + "; ".join(diffs)
            + " (drop those options to continue it, or use another --weights file to start fresh)",
        )


def checkpoint_summary(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Cheap facts about a checkpoint without importing torch or reading the weights.

    Never raises for a bad file: `error` says what is wrong instead.
    """
    path = Path(path)
    problem = file_problem(path)
    facts: dict[str, Any] = {
        "path": str(path),
        "exists": path.exists(),
        "size_bytes": None,
        "dataset": None,
        "epochs_trained": None,
        "test_accuracy": None,
        "saved_at": None,
        "format_version": None,
        "config": None,
        "error": problem,  # the reason load_checkpoint would refuse it, for every command
        "backup_warning": backup_problem(path),
    }
    if not facts["exists"] or problem is not None:
        return facts
    facts["size_bytes"] = path.stat().st_size
    try:
        payload = _read_metadata(path)
        if not isinstance(payload, dict) or payload.get("kind") != KIND:
            raise ValueError("not an alctl checkpoint")
    except Exception as exc:  # summary must not fail on a bad file
        facts["error"] = f"unreadable checkpoint: {first_line(exc)}"
        return facts
    for key in ("dataset", "epochs_trained", "test_accuracy", "saved_at", "format_version"):
        facts[key] = payload.get(key)
    facts["config"] = payload.get("config")
    if payload.get("format_version") != FORMAT_VERSION:
        facts["error"] = (
            f"format version {payload.get('format_version')}, expected {FORMAT_VERSION}"
        )
    return facts


def checkpoint_records(path: str | os.PathLike[str], key: str) -> list[dict[str, Any]] | None:
    """A list the checkpoint keeps (`history`: epoch records, `sessions`: session entries),
    read without torch; None when there is no usable file."""
    try:
        payload = _read_metadata(Path(path))
    except Exception:  # missing or unreadable: nothing to take records from
        return None
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        return None
    return [dict(r) for r in payload.get(key) or [] if isinstance(r, dict)]


def _from_payload(path: Path, payload: Any, dataset: str | None) -> Checkpoint:
    if not isinstance(payload, dict) or payload.get("kind") != KIND:
        raise CheckpointError(path, "not an alctl checkpoint (no alctl header in it)")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            path,
            f"format version {version!r}, but this alctl reads version {FORMAT_VERSION}; "
            "use the alctl that wrote it, or train a fresh checkpoint",
        )
    missing = [key for key in _REQUIRED if key not in payload]
    if missing:
        raise CheckpointError(path, f"incomplete checkpoint (missing {', '.join(missing)})")
    if dataset is not None and payload["dataset"] != dataset:
        raise CheckpointError(
            path,
            f"trained on {payload['dataset']}, not {dataset}; pass the {dataset} checkpoint "
            "(--weights) or train a new one",
        )
    try:
        config = SSVAEConfig.from_dict(payload["config"])
    except (TypeError, ValueError) as exc:
        raise CheckpointError(path, f"invalid config inside ({exc})") from exc
    return Checkpoint(
        config=config,
        model_state=payload["model_state"],
        optimizer_state=payload.get("optimizer_state"),
        epochs_trained=int(payload["epochs_trained"]),
        dataset=str(payload["dataset"]),
        history=list(payload.get("history") or []),
        test_accuracy=payload.get("test_accuracy"),
        saved_at=str(payload.get("saved_at", "")),
        path=path,
        sessions=list(payload.get("sessions") or []),
        temperature=_temperature(path, payload.get("temperature", 1.0)),
        trained_labels=payload.get("trained_labels"),
    )


def _check_weights(path: Path, payload: dict[str, Any]) -> None:
    expected = payload.get(CHECKSUM_KEY)  # files from before checksums have none
    if expected is not None and payload_checksum(payload) != expected:
        raise CheckpointError(
            path, "damaged file: the weights do not match the checksum saved with them"
        )
    bad = non_finite_tensors(payload["model_state"])
    if bad:
        raise CheckpointError(
            path,
            f"the weights hold NaN or infinite values ({', '.join(bad[:3])}); "
            "restore ssvae.prev.ckpt (alctl rollback) or train a fresh checkpoint",
        )


def _temperature(path: Path, value: Any) -> float:
    try:
        temperature = float(value)
    except (TypeError, ValueError):
        temperature = float("nan")
    if not 0.0 < temperature < float("inf"):
        raise CheckpointError(path, f"invalid temperature {value!r} (must be a positive number)")
    return temperature


def _to_cpu(obj: Any) -> Any:
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return type(obj)((k, _to_cpu(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


class _MetadataUnpickler(pickle.Unpickler):
    """Reads torch.save's pickle with every tensor replaced by None (no torch needed)."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch" or module.startswith("torch."):
            return _ignore
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid: Any) -> None:
        return None  # tensor storages live in other zip members; we skip them


def _ignore(*args: Any, **kwargs: Any) -> None:
    return None


def _read_metadata(path: Path) -> Any:
    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not names:
            raise ValueError("no data.pkl inside (not a torch.save file)")
        with archive.open(names[0]) as handle:
            return _MetadataUnpickler(handle).load()
