"""How many threads this process may use: one rule for every stage that starts its own.

Scan workers pin every pool by setting ``OMP_NUM_THREADS`` before the heavy imports
(:mod:`screener.scan.worker`), so N workers on N cores do not each start N threads. Libraries
that do not read that variable themselves (onnxruntime's pip build, the logo stage's SIFT thread)
ask :func:`thread_budget` instead.
"""

from __future__ import annotations

import os


def thread_budget(threads: int | None = None) -> int:
    """``threads`` when given, else ``$OMP_NUM_THREADS``, else the number of CPU cores."""
    if threads:
        return max(1, int(threads))
    value = os.environ.get("OMP_NUM_THREADS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1
