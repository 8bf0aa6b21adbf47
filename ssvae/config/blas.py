"""numpy's BLAS on one thread, in every process the project starts.

numpy's OpenBLAS keeps a pool of worker threads, and two of its hooks join that pool: the
handler it registers to run before every `fork()`, and its clean-up at process exit. When
another thread is inside a BLAS or LAPACK call at that moment (the queue's k-means or pixel
PCA in a server thread, a matmul in a test's in-process server), the join waits for workers
that wait for the call: the process hangs in `fork()` or in `exit()`, for good. With one
thread OpenBLAS starts no pool, and both hooks have nothing to wait for. The project's numpy
work (PCA of 5,000 images, k-means, rankings) is small, so one thread costs little; torch has
its own thread pools, unaffected.

OpenBLAS reads its thread count when numpy is imported, so `one_blas_thread()` must run
before that: first thing in `alctl`'s entry point, the scripts and the test suite. The
setting is in the environment, so every child process (the test suite's servers, Ray's
workers) inherits it. Standard library only, so that importing this imports no numpy.
"""

from __future__ import annotations

import os
import sys

# OpenBLAS reads the first of these that is set; the generic OMP_NUM_THREADS is the threads
# policy's to set for torch, so only OpenBLAS's own names are pinned here.
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS")


def one_blas_thread() -> bool:
    """Pin numpy's BLAS to one thread for this process and its children.

    Returns False when numpy was imported already: then its pool exists and this call came
    too late for this process (its children are still covered).
    """
    for name in BLAS_THREAD_VARIABLES:
        os.environ[name] = "1"
    return "numpy" not in sys.modules
