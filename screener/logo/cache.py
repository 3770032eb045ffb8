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
key: only its own entries are computed again, and the stack and inverted file are rebuilt.

Entries of references, models or recipes no longer in use stay until :meth:`EmbeddingCache.prune`
(``screener cache prune``) removes them: every entry the logo stage needs is *claimed* when the
stage is built (:meth:`EmbeddingCache.entry`), whether or not it is read then (a warm worker reads
the stack, not each reference's keypoints), and pruning keeps the claimed ones.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np

# What the logo stage writes: <32 hex digits><suffix>, and its writers' temporary files. Pruning
# touches nothing else in the folder. (.flann and .descriptors.npy: entries of earlier versions.)
ENTRY_NAME = re.compile(r"[0-9a-f]{32}(\.npy|\.faiss|\.flann|\.points\.npy|\.owner\.npy|\.descriptors\.npy)")
TEMPORARY_NAME = re.compile(r"\.[0-9a-f]{32}[.\w]*\.\d+\.tmp(\.npy)?")


class EmbeddingCache:
    """A folder of ``<key>.npy`` arrays; ``hits`` / ``misses`` count lookups since creation."""

    def __init__(self, folder: str | Path | None) -> None:
        self.folder = Path(folder) if folder else None
        self.hits = 0
        self.misses = 0
        self.claimed: set[str] = set()  # file names of the entries this cache's users need

    def entry(self, key: str, suffix: str = ".npy") -> Path | None:
        """Where the entry ``key`` lives (None without a folder), claimed as needed: :meth:`prune`
        keeps it."""
        if self.folder is None:
            return None
        path = self.folder / f"{key}{suffix}"
        self.claimed.add(path.name)
        return path

    def prune(self, dry_run: bool = False, temporary_age_s: float = 3600.0) -> list[tuple[Path, int]]:
        """Remove the entries nobody claimed, and writers' temporary files older than
        ``temporary_age_s`` (a younger one may be a worker writing now); returns each removed
        (or, with ``dry_run``, removable) file and its size. Only files named like the cache's
        own are touched. A folder shared by several registries or configurations keeps only the
        entries claimed in this process: build every stage that shares it first."""
        if self.folder is None or not self.folder.is_dir():
            return []
        removed = []
        for path in sorted(self.folder.iterdir()):
            try:
                if path.name in self.claimed or not path.is_file():
                    continue
                stat = path.stat()
                temporary = TEMPORARY_NAME.fullmatch(path.name) and time.time() - stat.st_mtime > temporary_age_s
                if not (ENTRY_NAME.fullmatch(path.name) or temporary):
                    continue
                if not dry_run:
                    # A worker that has the file mapped keeps its pages; the name goes now.
                    path.unlink()
            except FileNotFoundError:  # removed meanwhile by another pruner or writer
                continue
            removed.append((path, stat.st_size))
        return removed

    @staticmethod
    def key(model_sha256: str, reference_sha256: str, recipe: str) -> str:
        return hashlib.sha256(f"{model_sha256}:{reference_sha256}:{recipe}".encode()).hexdigest()[:32]

    def get(self, key: str, columns: int | None = None) -> np.ndarray | None:
        """The array stored under ``key``, or None (a miss) when it is absent, torn, or not a
        2-d array with ``columns`` columns: a cache file is never trusted beyond its shape."""
        path = self.entry(key)
        if path is None:
            self.misses += 1
            return None
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
        """Where a non-array entry (the SIFT inverted file) lives, or None without a folder (claimed)."""
        return self.entry(key, suffix)

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
        path = self.entry(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{key}.{os.getpid()}.tmp.npy")
            np.save(tmp, array.astype(np.float32), allow_pickle=False)
            os.replace(tmp, path)
        except OSError:  # a read-only registry still screens; it just embeds every time
            pass

