"""numpy's OpenBLAS never deadlocks a process the project starts in `fork()` or at exit.

OpenBLAS joins its worker threads before every fork and at exit; a thread inside a BLAS call
at that moment waits for workers that are gone, for good (ssvae.config.blas). The storm below
is that moment 200 times over: a thread in a numpy matmul/SVD loop while the main thread
forks. Each process runs in a child with a time limit, so a deadlock fails the test instead
of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ssvae.config.blas import BLAS_THREAD_VARIABLES
from tests.blas_probe import blas_threads

REPO = Path(__file__).resolve().parent.parent
STORM_TIMEOUT_S = 120.0  # 200 forks take a few seconds; a deadlock never ends

STORM = textwrap.dedent(
    """
    import os, threading
    import numpy as np

    stop = threading.Event()

    def compute():
        a = np.random.default_rng(0).random((300, 300))
        while not stop.is_set():
            a @ a
            np.linalg.svd(a[:100, :100])

    worker = threading.Thread(target=compute, daemon=True)
    worker.start()
    for _ in range(200):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    stop.set()
    worker.join()
    print("forked 200 times")
    """
)

BLAS_THREADS = "from tests.blas_probe import blas_threads\nprint(f'blas threads: {blas_threads()}')"

# How each kind of process the project starts begins, before it reaches numpy: the CLI's
# entry point (`alctl`, also behind `python -m alctl`, `alctl serve`, `simulate`, ...) and
# each standalone script, run far enough to parse `--help`.
ENTRIES = {
    "alctl": "from alctl.cli.main import main\nsys.argv = ['alctl', '--help']\nmain()",
    "python -m alctl": "import runpy\nsys.argv = ['alctl', '--help']\n"
    "runpy.run_module('alctl', run_name='__main__')",
    **{
        f"scripts/{name}": f"import runpy\nsys.argv = ['{name}', '--help']\n"
        f"runpy.run_path({str(REPO / 'scripts' / name)!r}, run_name='__main__')"
        for name in ("train.py", "infer.py", "view_latent.py")
    },
}


def fresh_env() -> dict[str, str]:
    """The environment of a user's shell: nothing pins numpy's threads beforehand."""
    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARIABLES}
    env.pop("OMP_NUM_THREADS", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def run_child(code: str, env: dict[str, str]) -> str:
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=STORM_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"deadlocked: no exit within {STORM_TIMEOUT_S:g} s (OpenBLAS and fork)")
    assert done.returncode == 0, done.stderr
    return done.stdout


def entry_then(entry: str, code: str) -> str:
    """Start like `entry` (which exits after --help), then run `code` in the same process."""
    start = textwrap.indent(ENTRIES[entry], "    ")
    return f"import sys\ntry:\n{start}\nexcept SystemExit:\n    pass\n{code}"


def test_forks_beside_numpy_never_hang_in_the_suites_processes() -> None:
    # The environment this suite gives its subprocesses (and had when it imported numpy).
    out = run_child(STORM, dict(os.environ))
    assert "forked 200 times" in out


def test_forks_beside_numpy_never_hang_in_alctl() -> None:
    out = run_child(entry_then("alctl", STORM), fresh_env())
    assert "forked 200 times" in out


@pytest.mark.parametrize("entry", sorted(ENTRIES))
def test_every_entry_point_runs_numpy_on_one_blas_thread(entry: str) -> None:
    out = run_child(entry_then(entry, BLAS_THREADS), fresh_env())
    assert "blas threads: 1" in out, out


def test_this_test_process_runs_numpy_on_one_blas_thread() -> None:
    # The suite's own threads (in-process servers) compute while it forks CLI children.
    assert blas_threads() == 1
