"""Finding the photos of a scan: files and folders in, one path per photo out.

A folder of listing photos comes from strangers and from sync tools, so the walk is defensive:

- it recurses, following symbolic links to folders, but never enters the same folder twice
  (a link back up the tree cannot make it walk forever);
- inside folders it picks up image suffixes only (``screener.io.IMAGE_SUFFIXES``, any case) and
  skips hidden entries (``.cache``, ``.DS_Store``, macOS ``._x.jpg`` resource forks);
- a broken link or a *folder* whose name ends in ``.jpg`` is still yielded: the loader turns it
  into a clear error row, so every bad file the user would expect to see gets exactly one row;
- paths named on the command line are yielded whatever their suffix (the user asked for them);
- the order is deterministic (sorted by the raw bytes of each name), and names that are not
  valid UTF-8 pass through unchanged (Python's surrogate escapes), so the file still opens.

Each path is yielded once per scan even when it is named twice (``scan a a/b``, ``scan a/x.jpg a``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Iterator

from .io import IMAGE_SUFFIXES

_SUFFIXES = frozenset(IMAGE_SUFFIXES)


def is_photo_name(name: str) -> bool:
    """True for a file name a folder scan picks up (image suffix, not hidden)."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in _SUFFIXES


def display_path(path: str | os.PathLike[str]) -> str:
    """A printable, UTF-8-safe form of a path: bytes that are not UTF-8 show as ``\\xNN``.

    Result rows (JSONL, CSV, HTML) must be valid UTF-8; the path itself may not be.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def iter_photo_paths(paths: Iterable[str | os.PathLike[str]]) -> Iterator[Path]:
    """Yield every photo path under ``paths`` (files and folders), recursively, in a stable order.

    Nothing is opened or decoded here; bad entries are yielded for the loader to report. Memory
    grows with the number of folders and of paths named on the command line, never with the
    number of photos (a scan of 100,000 photos does not hold their names).
    """
    seen_dirs: set[tuple[int, int]] = set()
    named: set[tuple[object, str]] = set()  # files named on the command line, by (folder, name)
    for root in paths:
        root_path = Path(root)
        if _dir_key(root_path) is not None:
            yield from _walk(root_path, seen_dirs, named)
            continue
        # A file, a broken link or a missing path: the loader says what is wrong with it.
        parent = _dir_key(root_path.parent)
        if (parent is not None and parent in seen_dirs and is_photo_name(root_path.name)
                and os.path.lexists(root_path)):
            continue  # a folder walk already yielded it
        key = (parent if parent is not None else os.path.normpath(os.fspath(root_path.parent)),
               root_path.name)
        if key not in named:
            named.add(key)
            yield root_path


def count_photo_paths(paths: Iterable[str | os.PathLike[str]]) -> int:
    """How many paths :func:`iter_photo_paths` yields (a cheap walk for a progress bar's total)."""
    return sum(1 for _ in iter_photo_paths(paths))


def _dir_key(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the folder ``path`` names (following links), or None if not a folder."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    return (info.st_dev, info.st_ino) if stat.S_ISDIR(info.st_mode) else None


def _walk(folder: Path, seen_dirs: set[tuple[int, int]], named: set[tuple[object, str]]
          ) -> Iterator[Path]:
    # An explicit stack, not recursion: deep trees must not hit Python's recursion limit.
    stack = [folder]
    while stack:
        current = stack.pop()
        key = _dir_key(current)
        if key is None or key in seen_dirs:
            continue  # a loop back to a folder already walked, or it vanished meanwhile
        seen_dirs.add(key)
        try:
            with os.scandir(current) as handle:
                entries = sorted(handle, key=lambda e: os.fsencode(e.name))
        except OSError:
            # An unreadable folder holds no photos we can name; it is not a photo itself.
            continue
        subfolders: list[Path] = []
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if is_photo_name(entry.name):
                # Yield even when it is a folder or a broken link: the user sees an error row.
                if (key, entry.name) not in named:
                    yield current / entry.name
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError:
                is_dir = False
            if is_dir:
                subfolders.append(current / entry.name)
        # Reversed so that popping walks subfolders in sorted order (depth first).
        stack.extend(reversed(subfolders))
