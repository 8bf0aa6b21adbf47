"""How many threads numpy's OpenBLAS runs, read through its own C function (no extra package)."""

from __future__ import annotations

import ctypes

# The names the function has in numpy's bundled OpenBLAS (64-bit integers) and elsewhere.
GETTERS = (
    "scipy_openblas_get_num_threads64_",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)


def blas_threads() -> int:
    """numpy's OpenBLAS thread count in this process (numpy is imported to find it)."""
    import numpy  # noqa: F401  (loads the library whose function is asked)

    with open("/proc/self/maps") as maps:
        path = next(line.split()[-1] for line in maps if "openblas" in line)
    library = ctypes.CDLL(path)
    getter = next(getattr(library, name) for name in GETTERS if hasattr(library, name))
    return int(getter())
