"""How many threads this process may use: one rule for every stage that starts its own.

Scan workers pin every pool by setting ``OMP_NUM_THREADS`` before the heavy imports
(:mod:`screener.scan.worker`), so N workers on N cores do not each start N threads. Libraries
that do not read that variable themselves (onnxruntime's pip build, the logo stage's SIFT thread)
ask :func:`thread_budget` instead. NumPy's BLAS reads it only when NumPy is first imported, so a
stage that runs its own threads holds BLAS to one with :func:`one_blas_thread`.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from typing import Any, Iterator

_blas_lock = threading.Lock()
_blas_depth = 0  # callers inside one_blas_thread() right now
_blas_limiter: Any = None
_blas_controller: Any = None


def thread_budget(threads: int | None = None) -> int:
    """``threads`` when given, else ``$OMP_NUM_THREADS``, else the number of CPU cores."""
    if threads:
        return max(1, int(threads))
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """NumPy's BLAS (OpenBLAS) on one thread inside the block, restored after it.

    The logo stage's matrix products are small, and OpenBLAS's idle threads spin: beside the
    stage's SIFT thread they took the cores SIFT and the network needed (30 brands on 2 cores:
    174 ms a photo with BLAS on two threads, 123-126 ms on one; ``benchmarks/logo_speed.py``). The
    limit is process-wide, so overlapping blocks from several threads share one limit, set by
    the first to enter and restored by the last to leave. (OpenBLAS may ignore a limit set from
    a thread other than the main one once the main thread has set its own: then the block
    changes nothing.)"""
    global _blas_depth, _blas_limiter, _blas_controller
    with _blas_lock:
        if _blas_depth == 0:
            if _blas_controller is None:
                from threadpoolctl import ThreadpoolController

                _blas_controller = ThreadpoolController()  # sees the BLAS NumPy has loaded
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
