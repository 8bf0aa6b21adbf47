"""Run a simulation's runs on Ray: a local Ray started for the occasion, or a cluster.

Each run is one Ray task that yields its rows (rounds, or presses) (a streaming generator), with
`threads_per_run` CPUs (and torch threads) and `gpus_per_run` GPUs. The dataset and the
images' features go into the object store once; each seed's warm start is computed once,
as a task of its own, and shared by that seed's runs through the object store. Workers
read no file and write none: every row comes back to the driver
(`ssvae.runs.campaign.run_simulation`), which writes it.

Plain tasks rather than Ray Tune: see docs/ARCHITECTURE.md ("Simulations on Ray").

Faults: a run whose worker dies (killed, out of memory, its node lost) is started again up
to `retries` times; it replays its rounds and the driver keeps the rows it already has.
After that it is named in RunsFailed and the other runs go on. Ctrl+C (KeyboardInterrupt)
cancels every task and leaves; what was written stays, and the same command resumes.

Only this module imports ray, and only the Ray path imports this module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import ray

from ssvae.runs.campaign import Sink, Work, run_rows
from ssvae.runs.simulate import RunFailed, RunSpec, pretrain, torch_threads

# A worker that died: start its run again. Anything else from a task is its own error.
_LOST = (
    ray.exceptions.WorkerCrashedError,
    ray.exceptions.NodeDiedError,
    ray.exceptions.OutOfMemoryError,
    ray.exceptions.ObjectLostError,
    ray.exceptions.LocalRayletDiedError,
)
_WAIT_S = 0.5  # how often the driver looks at the stop event while runs go on


class RaySetupError(Exception):
    """No usable Ray: a bad or unreachable address, or a cluster without what a run needs."""


@dataclass
class RayExecutor:
    """Runs on Ray. No `address`: a local Ray with `workers` runs at once, shut down after."""

    workers: int | None = None  # runs at once (default: every core of a local Ray)
    address: str | None = None  # "host:port" or "auto": an existing cluster
    gpus_per_run: float = 0.0
    threads_per_run: int = 1
    retries: int = 1  # starts again of a run whose worker died

    def execute(self, work: Work, sink: Sink) -> None:
        with self.connected():
            self._check_resources()
            data = ray.put(work.dataset)
            features = None if work.features is None else ray.put(work.features)
            warm, failed = self._warm_starts(work, sink, data)
            if work.stop_event is not None and work.stop_event.is_set():
                return
            runs = []
            for spec in work.runs:
                if spec.warm_key() in failed:
                    sink.failed(spec, failed[spec.warm_key()])
                else:
                    runs.append(spec)
            rounds = _remote(_rounds_task, self.threads_per_run, self.gpus_per_run)

            def submit(spec: RunSpec) -> Any:
                return rounds.options(name=f"simulate {spec.label}").remote(
                    data,
                    work.plan,
                    spec,
                    warm.get(spec.warm_key()),
                    features,
                    self.threads_per_run,
                    self.gpus_per_run,
                )

            self._drive(work, sink, runs, submit, sink.row, sink.failed)

    def where(self) -> str:
        if self.address is None:
            return f"on a local Ray, {self.workers or os.cpu_count()} runs at once"
        limit = f", at most {self.workers} runs at once" if self.workers else ""
        return f"on the Ray cluster at {self.address}{limit}"

    def _warm_starts(
        self, work: Work, sink: Sink, data: Any
    ) -> tuple[dict[Any, Any], dict[Any, str]]:
        """Object refs of the warm starts the runs need, computed by tasks where missing
        (one per seed and settings); and why those that could not be computed failed."""
        refs: dict[Any, Any] = {}
        missing: dict[Any, RunSpec] = {}
        failed: dict[Any, str] = {}
        for spec in work.runs if work.plan.pretrain_epochs else []:
            key = spec.warm_key()
            known = work.warm.get(key)
            if known is not None and key not in refs:
                refs[key] = ray.put(known)
            elif known is None:  # a task per key; its label names the seed, not a strategy
                missing.setdefault(key, RunSpec(spec.settings, "warm start", spec.seed))
        if missing:
            task = _remote(_pretrain_task, self.threads_per_run, self.gpus_per_run)

            def submit(spec: RunSpec) -> Any:
                return task.options(name=spec.label).remote(
                    data, work.plan, spec, self.threads_per_run, self.gpus_per_run
                )

            def keep(spec: RunSpec, warm: Any) -> None:
                sink.warm_started(spec.warm_key(), warm)
                refs[spec.warm_key()] = ray.put(warm)

            def lost(spec: RunSpec, reason: str) -> None:
                failed[spec.warm_key()] = f"its warm start did not finish: {reason}"

            self._drive(work, sink, list(missing.values()), submit, keep, lost)
        return refs, failed

    def _drive(
        self,
        work: Work,
        sink: Sink,
        specs: list[RunSpec],
        submit: Callable[[RunSpec], Any],
        on_item: Callable[[RunSpec, Any], None],
        on_failed: Callable[[RunSpec, str], None],
    ) -> None:
        """Submit the tasks (at most `workers` at once), hand on what they yield in the
        order it comes, start again the ones whose worker died."""
        queue = deque(specs)
        limit = self.workers or len(specs)
        running: dict[Any, RunSpec] = {}
        starts: dict[RunSpec, int] = {}
        try:
            while queue or running:
                while queue and len(running) < limit:
                    spec = queue.popleft()
                    running[submit(spec)] = spec
                if work.stop_event is not None and work.stop_event.is_set():
                    return
                ready, _ = ray.wait(list(running), num_returns=1, timeout=_WAIT_S)
                for gen in ready:
                    spec = running[gen]
                    try:
                        item = ray.get(next(gen))
                    except StopIteration:
                        del running[gen]
                        continue
                    except _LOST as exc:
                        del running[gen]
                        starts[spec] = starts.get(spec, 0) + 1
                        reason = _why_lost(exc)
                        if starts[spec] <= self.retries:
                            sink.note(f"{spec.label}: {reason}; starting it again")
                            queue.appendleft(spec)
                        else:
                            on_failed(spec, f"{reason} ({starts[spec]} times)")
                        continue
                    except RunFailed as exc:  # a RayTaskError that is also a RunFailed
                        del running[gen]
                        on_failed(spec, str(getattr(exc, "cause", exc)))
                        continue
                    on_item(spec, item)
        finally:
            for gen in running:  # Ctrl+C, a stop, a bug: nothing keeps running for us
                with contextlib.suppress(Exception):
                    ray.cancel(gen)

    @contextlib.contextmanager
    def connected(self) -> Iterator[None]:
        """ray.init (a new local Ray, or the cluster at `address`) ... ray.shutdown."""
        if ray.is_initialized():
            raise RaySetupError("this process is already connected to a Ray; not nesting")
        saved = dict(os.environ)
        handlers = _signal_handlers()
        try:
            if self.address is None:
                self._start_local()
            else:
                self._connect(self.address)
            _restore_signal_handlers(handlers, only_functions=True)
            yield
        finally:
            with contextlib.suppress(Exception):
                ray.shutdown()
            _restore_signal_handlers(handlers)
            os.environ.clear()
            os.environ.update(saved)

    def _start_local(self) -> None:
        # Ray's usage report goes to the internet: not for a local run nobody asked to share.
        # (Its servers listen on every interface; Ray's default token authentication, with
        # the token in ~/.ray/auth_token, keeps other machines out.)
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        # Ray's note that it turned that default on, at every start: not news for a user.
        logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
            logging.ERROR
        )
        workers = self.workers or os.cpu_count() or 1
        ray.init(
            address="local",
            num_cpus=workers * self.threads_per_run,
            include_dashboard=False,
            log_to_driver=False,
            logging_level=logging.WARNING,
        )

    def _connect(self, address: str) -> None:
        check_address(address)
        try:
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError, ray.exceptions.RayError) as exc:
            raise RaySetupError(
                f"cannot join the Ray cluster at {address}: {_first_line(exc)}"
            ) from None

    def _check_resources(self) -> None:
        """Refuse runs no node could ever take (Ray would queue them forever)."""
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        cpus = max((n.get("CPU", 0) for n in nodes), default=0)
        if cpus < self.threads_per_run:
            raise RaySetupError(
                f"a run asks for {self.threads_per_run} CPUs but the largest Ray node has {cpus:g}"
            )
        gpus = max((n.get("GPU", 0) for n in nodes), default=0)
        if self.gpus_per_run > gpus:
            have = f"the largest Ray node has {gpus:g}" if gpus else "the Ray cluster has none"
            raise RaySetupError(f"a run asks for {self.gpus_per_run:g} GPU but {have}")


def _signal_handlers() -> dict[int, Any]:
    return {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(handlers: dict[int, Any], *, only_functions: bool = False) -> None:
    """Put back the caller's handlers: ray.init makes SIGTERM exit the process at once
    (sys.exit), where alctl simulate stops cleanly, as on Ctrl+C. `only_functions`: while
    connected, keep Ray's where the caller had none of its own (its exit shuts Ray down)."""
    if threading.current_thread() is not threading.main_thread():
        return  # ray.init sets none there, and none can be set
    for sig, handler in handlers.items():
        if handler is not None and (callable(handler) or not only_functions):
            signal.signal(sig, handler)


def check_address(address: str) -> None:
    """A cluster address we can use: "auto", or "host:port" that answers (one line if not)."""
    if address == "auto":
        return
    if "://" in address:
        raise RaySetupError(
            f"bad Ray address {address!r}: give the head node's host:port (as `ray start "
            "--head` prints it), not a URL"
        )
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise RaySetupError(f"bad Ray address {address!r}: want host:port, e.g. 10.0.0.5:6379")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RaySetupError(
            f"no Ray cluster answers at {address} ({reason}); start one with "
            "`ray start --head` (README: Simulations on a cluster)"
        ) from None


def _remote(fn: Callable[..., Any], threads: int, gpus: float) -> Any:
    # Our own retries (see the module docstring), so Ray's are off.
    return ray.remote(num_cpus=threads, num_gpus=gpus, max_retries=0, num_returns="streaming")(fn)


def _device(gpus: float) -> str:
    """The task's device: its GPU share when it asked for one and has it, else the CPU."""
    if gpus > 0:
        import torch

        if torch.cuda.is_available():
            return "cuda"
    return "cpu"


def _rounds_task(
    dataset: Any, plan: Any, spec: RunSpec, warm: Any, features: Any, threads: int, gpus: float
) -> Iterator[dict[str, Any]]:
    with torch_threads(threads):
        run = run_rows(plan)
        yield from run(dataset, plan, spec, warm, features=features, device=_device(gpus))


def _pretrain_task(
    dataset: Any, plan: Any, spec: RunSpec, threads: int, gpus: float
) -> Iterator[Any]:
    with torch_threads(threads):
        yield pretrain(dataset, plan, spec, _device(gpus))


def _why_lost(exc: BaseException) -> str:
    if isinstance(exc, ray.exceptions.OutOfMemoryError):
        return "its worker ran out of memory"
    if isinstance(exc, ray.exceptions.NodeDiedError):
        return "its node died"
    return "its worker died"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
