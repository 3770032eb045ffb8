"""The per-photo function every scan engine runs: build the Screener once, then screen paths.

The same :class:`PhotoWorker` runs in a local worker process and inside a Ray actor, so both
engines give the same results. A worker pins its thread pools to one thread first: N workers on
N cores must not each start N OpenMP/onnxruntime/torch threads and fight over the cores.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config

# Read by OpenMP, MKL, OpenBLAS and numexpr when they start, so they must be set before torch,
# numpy or cv2 are imported in the worker; SCREENER_OCR_THREADS pins the rapidocr engine's
# onnxruntime sessions (onnxruntime's pip build ignores OMP_NUM_THREADS).
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                   "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "SCREENER_OCR_THREADS")


def pin_thread_env(threads: int = 1) -> None:
    """Set the thread-count environment variables (call before heavy imports)."""
    for name in THREAD_ENV_VARS:
        os.environ[name] = str(threads)


def pin_loaded_libraries(threads: int = 1) -> None:
    """Pin the pools of libraries already imported (torch, OpenCV) to ``threads``."""
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(threads)
        except RuntimeError:  # only allowed before the first inter-op work; then it is set
            pass
    if "cv2" in sys.modules:
        sys.modules["cv2"].setNumThreads(threads)


@dataclass(frozen=True)
class Outcome:
    """One photo's result as it comes back from an engine.

    ``cacheable`` is False for failures of the run rather than of the photo (a timeout, a crashed
    worker, a bug): those rows are reported but not stored, so the next scan tries again.
    """

    key: str
    result: dict[str, Any]  # ScreenResult.to_dict()
    cacheable: bool


class PhotoWorker:
    """Holds one Screener and screens one path at a time."""

    def __init__(self, registry_dir: str | Path, config: Config, threads: int = 1):
        pin_thread_env(threads)
        from ..pipeline import Screener  # heavy: imported here, in the worker

        self.screener = Screener.from_registry(registry_dir, config)
        pin_loaded_libraries(threads)
        self.fingerprint: str = self.screener.fingerprint

    def screen(self, key: str, path: str | Path) -> Outcome:
        """Screen one photo; never raises (a bug in a stage becomes an uncached error row)."""
        try:
            result = self.screener.screen_file(path)
        except Exception as exc:  # noqa: BLE001 - one photo's failure must not end the scan
            from ..types import ScreenResult

            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            failed = ScreenResult.failed(str(path), "", f"internal error while screening: {detail}")
            return Outcome(key, failed.to_dict(), cacheable=False)
        return Outcome(key, result.to_dict(), cacheable=True)
