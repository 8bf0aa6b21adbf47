"""StartGate: a session's start, a rollback and adopting an outside checkpoint, one at a time.

Inside one server these three replace or read the model the next session trains, so they
exclude each other: a session never starts on a model a rollback is replacing, and a rollback
never lands while a session is being started. The checkpoint's file lock
(ssvae.io.checkpoint_lock) excludes every other process; this lock only the threads of this
one. It is never waited for: whoever finds it held is refused (409) or, for the once-a-second
checkpoint check, tries again later.

`_lock` is taken before the checkpoint's file lock and before ServedModel's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from alctl.server.served_model import SessionError
from alctl.server.training_thread import TrainingBusy, TrainingRunner


class StartGate:
    """Held while a session is started, while a rollback runs, while a checkpoint is adopted."""

    def __init__(self, training: TrainingRunner) -> None:
        self._training = training
        self._lock = threading.Lock()

    def starting(self) -> AbstractContextManager[None]:
        """Held while a session is started: 409 while a rollback runs or a session runs."""
        return self._held("a rollback is in progress; start training once it is done", "")

    def exclusive(self, what: str) -> AbstractContextManager[None]:
        """Hold off training starts for `what` (a rollback): 409 if one is starting or running."""
        return self._held(
            f"{what} is refused: a training session is starting", f"{what} is refused: "
        )

    @contextmanager
    def if_free(self) -> Iterator[bool]:
        """Held if no one holds it; yields whether it is (a caller that finds it held skips)."""
        held = self._lock.acquire(blocking=False)
        try:
            yield held
        finally:
            if held:
                self._lock.release()

    def busy_message(self) -> str:
        """Why a session runs now, and how to end it."""
        state = self._training.status()
        doing = "being saved" if state["state"] == "saving" else "already running"
        return (
            f"training session {state['session']} is {doing}; wait for it "
            "(or stop it: POST /api/train/stop) first"
        )

    @contextmanager
    def _held(self, refusal: str, busy_prefix: str) -> Iterator[None]:
        # Refused, never queued: a page's request answers at once and says what to wait for.
        if not self._lock.acquire(blocking=False):
            raise SessionError(refusal, 409)
        try:
            if not self._training.idle:
                raise TrainingBusy(busy_prefix + self.busy_message())
            yield
        finally:
            self._lock.release()
