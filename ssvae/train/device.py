"""Pick the torch device: CUDA when present, else CPU (ALCTL_DEVICE or an argument overrides)."""

from __future__ import annotations

import os

import torch

from ssvae.records.formats import plural


def pick_device(preference: str | torch.device | None = None) -> torch.device:
    """Resolve "auto"/None (CUDA if available, else CPU), "cpu", "cuda" or "cuda:N".

    `ALCTL_DEVICE` in the environment is used when no preference is given. Asking
    for CUDA on a machine without it is an error, not a silent fallback.
    """
    if isinstance(preference, torch.device):
        choice = str(preference)
    else:
        choice = (preference or os.environ.get("ALCTL_DEVICE") or "auto").strip().lower()
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(choice)
    except RuntimeError as exc:
        raise ValueError(f"unknown device {choice!r}: use auto, cpu or cuda[:N]") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {choice!r} asked for, but CUDA is not available here; use cpu")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"unsupported device {choice!r}: use auto, cpu or cuda[:N]")
    return device


def describe_device(device: torch.device, threads: int | None = None) -> str:
    """Human text for logs and the page, e.g. "cuda:0 (NVIDIA H100)" or "cpu (2 threads)".

    `threads`: the trainer's count (ssvae.train.threads); by default the calling thread's,
    which is only the trainer's when called from the trainer's own thread.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    return f"cpu ({plural(threads or torch.get_num_threads(), 'thread')})"
