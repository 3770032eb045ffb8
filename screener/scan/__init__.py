"""Batch scans: walk folders, screen photos on a pool of workers (or Ray), keep results in SQLite.

- :mod:`.batch` orchestrates one scan (:func:`run_scan`).
- :mod:`.store` is the resumable SQLite result store.
- :mod:`.local` and :mod:`.ray_engine` run the per-photo function of :mod:`.worker`.
- :mod:`.outputs` streams JSONL and CSV rows.
"""

from .batch import ScanStats, run_scan
from .store import ResultStore

__all__ = ["ResultStore", "ScanStats", "run_scan"]
