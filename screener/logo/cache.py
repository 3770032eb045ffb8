"""On-disk cache of reference-logo embeddings.

Each reference logo is embedded at several scales and augmentations once per model: the entry is
keyed by the model's sha256, the reference file's sha256 and the variant recipe version, so a
scan (and every scan worker) embeds each reference once, and a retrained model or an edited logo
file never reuses stale vectors. Entries are plain ``.npy`` files written atomically.

The SIFT verifier keeps its reference keypoints here too (``screener.logo.sift.feature_key``),
and, keyed by the references' keys in order (so by their files' sha256), every keypoint's point
and owning reference stacked (``.points.npy``, ``.owner.npy``) and the inverted file over their
descriptors as a ``.faiss`` file: a warm worker reads the stack and memory-maps the inverted file
instead of reading every entry and building the file again. An edited or added reference is a new
key: only its own entries are computed again, and the stack and inverted file are rebuilt (the
old ones stay until the folder is cleared).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np


class EmbeddingCache:
    """A folder of ``<key>.npy`` arrays; ``hits`` / ``misses`` count lookups since creation."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(model_sha256: str, reference_sha256: str, recipe: str) -> str:
        return hashlib.sha256(f"{model_sha256}:{reference_sha256}:{recipe}".encode()).hexdigest()[:32]

    def get(self, key: str, columns: int | None = None) -> np.ndarray | None:
        """The array stored under ``key``, or None (a miss) when it is absent, torn, or not a
        2-d array with ``columns`` columns: a cache file is never trusted beyond its shape."""
        if self.folder is None:
            self.misses += 1
            return None
        path = self.folder / f"{key}.npy"
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # absent, or a torn/corrupt file: recompute it
            self.misses += 1
            return None
        if array.ndim != 2 or (columns is not None and array.shape[1] != columns) or array.dtype.kind != "f":
            self.misses += 1
            return None
        self.hits += 1
        return array

    def blob_path(self, key: str, suffix: str) -> Path | None:
        """Where a non-array entry (the SIFT inverted file) lives, or None without a folder."""
        return self.folder / f"{key}{suffix}" if self.folder is not None else None

    def write_blob(self, path: Path, write: Callable[[Path], object]) -> None:
        """Store an entry that ``write(tmp_path)`` writes, atomically (readers never see half a
        file); an unwritable folder only means it is rebuilt next time."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            write(tmp)
            os.replace(tmp, path)
        except Exception:  # noqa: BLE001 - OSError, or cv2.error from a writer on a full disk
            pass

    def put(self, key: str, array: np.ndarray) -> None:
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = self.folder / f".{key}.{os.getpid()}.tmp.npy"
            np.save(tmp, array.astype(np.float32), allow_pickle=False)
            os.replace(tmp, self.folder / f"{key}.npy")
        except OSError:  # a read-only registry still screens; it just embeds every time
            pass

