"""Batch scans: walk folders, screen photos on a pool of workers (or Ray), keep results in SQLite.

- :mod:`.batch` orchestrates one scan (:func:`run_scan`).
- :mod:`.store` is the resumable SQLite result store.
- :mod:`.local` and :mod:`.ray_engine` run the per-photo function of :mod:`.worker`.
- :mod:`.outputs` streams JSONL and CSV rows.

Nothing is imported eagerly: a worker process imports this package before it pins its thread
pools, so numpy (and its BLAS threads) must not be loaded by the package itself.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ResultStore", "ScanStats", "run_scan"]


def __getattr__(name: str) -> Any:
    if name in ("ScanStats", "run_scan"):
        from . import batch

        return getattr(batch, name)
    if name == "ResultStore":
        from .store import ResultStore

        return ResultStore
    raise AttributeError(f"module 'screener.scan' has no attribute {name!r}")
