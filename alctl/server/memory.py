"""Hand memory the allocator keeps after big temporaries back to the operating system.

torch and numpy free their large temporaries (a prediction pass over every image, a training
epoch's batches) with glibc's free(), which keeps much of it in its arenas: the server's resident
memory then ratchets up session after session. `malloc_trim(0)` returns the free pages. With a full
garbage collection before it, it takes tens of milliseconds: it runs after start-up, after each
session's save, and once a burst of heavy requests (decode grids, reports, evaluations) has
passed (`AfterBurst`), never per request.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import sys
import threading
import time
from collections.abc import Iterator


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        libc.malloc_trim  # noqa: B018  (musl has none: then there is nothing to trim)
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> bool:
    """Return the allocator's free pages to the system; False where that is not possible."""
    libc = _libc()
    if libc is None:
        return False
    gc.collect()  # first free what only the cycle collector frees (matplotlib figures)
    libc.malloc_trim(0)
    return True


QUIET_S = 2.0  # a burst is over once no heavy request has run for this long


class AfterBurst:
    """When to release memory after heavy requests: once none has run for `quiet_s`.

    Twenty parallel 32×32 decode grids and a few reports raised the server's resident memory
    by about 0.4 GB, which glibc then kept for good; released after the burst, it returns.
    Every method is thread-safe.
    """

    def __init__(self, quiet_s: float = QUIET_S) -> None:
        self.quiet_s = quiet_s
        self._lock = threading.Lock()
        self._running = 0
        self._last_end: float | None = None  # None: nothing to release

    @contextlib.contextmanager
    def heavy(self) -> Iterator[None]:
        """Wrap a request whose temporaries are large."""
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._last_end = time.monotonic()

    def due(self) -> bool:
        """True once per burst, when it is over (the caller then releases)."""
        with self._lock:
            quiet = self._last_end is not None and time.monotonic() - self._last_end >= self.quiet_s
            if self._running or not quiet:
                return False
            self._last_end = None
            return True


M_ARENA_MAX = -8  # glibc's mallopt parameter number
ARENAS = 2


def limit_arenas() -> bool:
    """Let glibc keep at most ARENAS malloc arenas; False where that is not possible.

    glibc gives threads arenas of their own (up to 8 per core), and each one keeps its share
    of freed memory: with a trainer thread per session and the queue's warm-up thread, the
    server's resident memory crept up for a dozen sessions before it levelled off, longer on a
    busy machine. Call before the first thread starts.
    """
    libc = _libc()
    return bool(libc is not None and libc.mallopt(M_ARENA_MAX, ARENAS))


def keep_triton_out() -> None:
    """Make `import triton` fail in this process, before torch first looks for it.

    Creating a torch optimizer imports torch._dynamo, which imports triton when it is installed
    (it is, with the CUDA build of torch): about 100 MB of resident libraries for a compiler
    the server never uses (nothing here calls torch.compile). torch treats the ImportError as
    "no triton". Set before the first training session.
    """
    sys.modules.setdefault("triton", None)  # type: ignore[arg-type]
