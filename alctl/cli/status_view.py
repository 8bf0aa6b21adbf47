"""`alctl status`: one facts dict for both modes, and its human rendering.

Facts: `{workspace, dataset: {name, n_samples, source?}, labels: {labeled, coverage,
per_class, path}, checkpoint: {path, exists, epochs_trained?, train_loss?, val_loss?,
test_accuracy?, ...}, evaluations: [{session, status, test_accuracy, previous_test_accuracy,
blind_accuracy, blind_n, test_ece, labeled_accuracy, n_labeled}] (the accuracy-vs-labels
curve, oldest first), server: null |
{url, pid, state, session, epoch, epochs, ...}}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alctl.cli.server_client import ApiClient, LiveServer, ServerError
from ssvae.records import formats


def _last_losses(client: ApiClient) -> dict[str, Any]:
    try:
        records = client.history().get("records") or []
    except ServerError:
        return {}
    if not records:
        return {}
    last = records[-1]
    return {
        "train_loss": (last.get("train") or {}).get("loss"),
        "val_loss": (last.get("val") or {}).get("loss"),
    }


def server_status(workspace: Path, server: LiveServer) -> dict[str, Any]:
    """The facts from a live server (its status answer plus the last history record)."""
    from ssvae.io.workspace import Workspace

    s = server.status
    labels = s.get("labels") or {}
    checkpoint = dict(s.get("checkpoint") or {})
    checkpoint.update(_last_losses(server.client))
    training = s.get("training") or {}
    return {
        "workspace": str(workspace),
        "dataset": {
            "name": s.get("dataset"),
            "n_samples": s.get("n_samples"),
            "source": s.get("dataset_source"),
        },
        "labels": {
            "labeled": labels.get("labeled"),
            "coverage": labels.get("coverage"),
            "per_class": labels.get("per_class"),
            "path": str(Workspace(workspace, str(s.get("dataset"))).labels_csv),
            "file_error": labels.get("file_error"),
        },
        "model": s.get("model"),
        "checkpoint": checkpoint,
        "evaluations": s.get("evaluations") or [],
        "threads": s.get("threads"),
        "server": {
            "url": server.client.url,
            "pid": (s.get("server") or {}).get("pid"),
            "device": s.get("device"),
            **{
                k: training.get(k)
                for k in ("state", "session", "epoch", "epochs", "batch", "batches", "eta_s")
            },
        },
    }


def _checkpoint_line(c: dict[str, Any]) -> str:
    if not c.get("exists"):
        return f"none yet ({c.get('path')}); train with `alctl train`"
    parts = [str(c.get("path"))]
    if c.get("epochs_trained") is not None:
        parts.append(f"{formats.plural(c['epochs_trained'], 'epoch')} trained")
    if c.get("train_loss") is not None or c.get("val_loss") is not None:
        train, val = formats.number(c.get("train_loss")), formats.number(c.get("val_loss"))
        parts.append(f"loss {train} train / {val} val")
    if c.get("test_accuracy") is not None:
        parts.append(f"test accuracy {formats.percent_short(c['test_accuracy'])}")
    if c.get("error"):
        parts.append(f"unusable: {c['error']} (serve and train refuse it: move it away)")
    unsaved = c.get("unsaved") or {}
    if unsaved.get("epochs"):
        epochs = formats.plural(unsaved["epochs"], "more epoch")
        parts.append(f"the server holds {epochs} NOT saved ({unsaved.get('error')})")
    return ", ".join(parts)


def _backup_lines(c: dict[str, Any]) -> list[str]:
    return [f"  warning   {c['backup_warning']}"] if c.get("backup_warning") else []


def _curve_lines(curve: list[dict[str, Any]]) -> list[str]:
    """The accuracy-vs-labels curve as a small table, one row per evaluated session."""
    if not curve:
        return ["progress    no evaluated session yet (each training session adds one)"]
    lines = ["progress    test accuracy by labels (one row per session); blind: the labels new"]
    lines.append("            to a session, as the model predicted them before training on them")
    head = f"  {'session':>7}  {'labels':>6}  {'test':>6}  {'change':>6}  {'blind':>6}  {'of':>4}"
    lines.append(head)
    for point in curve:
        test, before = point.get("test_accuracy"), point.get("previous_test_accuracy")
        change = "" if test is None or before is None else f"{(test - before) * 100:+.1f}"
        labels = point.get("n_labeled")
        blind_n = point.get("blind_n") or 0
        blind = formats.percent_short(point.get("blind_accuracy"), missing="-") if blind_n else "-"
        lines.append(
            f"  {point.get('session')!s:>7}  {'?' if labels is None else labels:>6}"
            f"  {formats.percent_short(test):>6}  {change:>6}  {blind:>6}"
            f"  {blind_n if blind_n else '':>4}"
        )
    return lines


def _threads_line(t: dict[str, Any] | None, server: bool) -> str:
    """`threads     2 torch threads for training (all 2 cores: nothing else needs them)`."""
    if not t:
        return "threads     unknown (an older server)"
    if t.get("error"):
        return f"threads     {t['error']}"
    whose = "the server's trainer" if server else "training here"
    count = formats.plural(t.get("in_use"), "torch thread")
    return f"threads     {count} for {whose} ({t.get('why')})"


def _server_line(s: dict[str, Any] | None) -> str:
    if not s:
        return "none running (working on the files)"
    head = f"{s.get('url')} (pid {s.get('pid')})"
    state = s.get("state") or "?"
    if state == "idle":
        return f"{head}: idle"
    progress = (
        f"epoch {s.get('epoch')}/{s.get('epochs')}, batch {s.get('batch')}/{s.get('batches')}"
    )
    eta = formats.duration(s.get("eta_s"))
    return f"{head}: {state} session {s.get('session')}, {progress}, ETA {eta}"


def render_status(facts: dict[str, Any]) -> str:
    """Human-readable lines for a facts dict."""
    d, lab = facts.get("dataset") or {}, facts.get("labels") or {}
    source = f" ({d['source']})" if d.get("source") else ""
    per_class = lab.get("per_class") or []
    if lab.get("error"):
        label_lines = [f"labels      unreadable: {lab['error']}"]
    else:
        label_lines = [
            f"labels      {lab.get('labeled')} labeled "
            f"({formats.percent_short(lab.get('coverage'))})"
            f" in {lab.get('path')}",
            "  per class " + "  ".join(f"{i}:{n}" for i, n in enumerate(per_class)),
        ]
    if lab.get("file_error"):
        label_lines.append(
            f"  warning   the file cannot be read (the server keeps the labels above in memory "
            f"and refuses new ones until it is fixed): {lab['file_error']}"
        )
    model = facts.get("model") or {}
    model_lines = (
        [f"model       failed to load: {model.get('error')}"]
        if model.get("state") == "failed"
        else []
    )
    lines = [
        f"workspace   {facts.get('workspace')}",
        f"dataset     {d.get('name')}, {d.get('n_samples')} training images{source}",
        *label_lines,
        f"checkpoint  {_checkpoint_line(facts.get('checkpoint') or {})}",
        *_backup_lines(facts.get("checkpoint") or {}),
        *model_lines,
        *_curve_lines(facts.get("evaluations") or []),
        _threads_line(facts.get("threads"), facts.get("server") is not None),
        f"server      {_server_line(facts.get('server'))}",
    ]
    return "\n".join(lines)
