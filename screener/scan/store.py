"""The scan result store: an embedded SQLite database that makes scans resumable and re-scans cheap.

Two tables:

- ``results``: one row per (photo sha256, pipeline fingerprint) with the result as JSON. A photo
  whose bytes and pipeline are unchanged is never screened again; a new registry, model or config
  changes the fingerprint, so every photo is screened again under the new key.
- ``paths``: one row per file path: the sha256 it had (with the size, mtime and inode it was hashed
  at, so an unchanged file is not even re-read), the fingerprint and scan it was last seen by, and
  for files that could not be read at all (missing, a folder, a broken link) the error.

Durability: WAL journal, one transaction per screened photo (cheap in WAL mode), so a scan killed
at any moment, even with ``kill -9`` or a power cut, loses at most the photos in flight; rows are
keyed, so nothing is ever written twice. Only the scanning process writes.

Write faults (a full disk, a file size limit, an I/O error) raise :class:`~screener.errors.WriteError`
naming the database file. SQLite may roll a transaction back by itself on such an error, so the
store asks the connection whether a transaction is open instead of remembering it, and rolls back
what is left: every transaction committed before the fault stays, and the file stays consistent.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import ScreenerError, WriteError
from ..types import ScreenResult

_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    sha256 TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    verdict TEXT NOT NULL,
    risk REAL NOT NULL,
    result TEXT NOT NULL,            -- ScreenResult.to_dict() as JSON
    created REAL NOT NULL,
    PRIMARY KEY (sha256, fingerprint)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS scans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,                   -- NULL while running or when interrupted
    summary TEXT                     -- JSON counts once finished
);
CREATE TABLE IF NOT EXISTS paths (
    path BLOB PRIMARY KEY,           -- os.fsencode(path): names need not be UTF-8
    display TEXT NOT NULL,           -- printable form used in outputs
    scan_id INTEGER NOT NULL,
    fingerprint TEXT NOT NULL,
    sha256 TEXT,                     -- NULL when the file could not be read
    size INTEGER, mtime_ns INTEGER, inode INTEGER,
    error TEXT                       -- set when there is no stored result for this path
);
CREATE INDEX IF NOT EXISTS paths_by_scan ON paths (scan_id);
CREATE TABLE IF NOT EXISTS fingerprints (
    quick TEXT PRIMARY KEY,          -- a key computed without loading models (see batch.quick_key)
    fingerprint TEXT NOT NULL        -- the pipeline fingerprint the workers reported for it
);
"""


class StoreError(ScreenerError):
    """The result database cannot be opened or is not a screener store."""


# SQLite's primary result codes that mean "this file cannot be written now" rather than "this file
# is not a screener store": the fix is space, permissions or a path, not a new --db file.
_WRITE_FAULTS = {3: "SQLITE_PERM", 7: "SQLITE_NOMEM", 8: "SQLITE_READONLY", 10: "SQLITE_IOERR",
                 13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL"}


def _is_write_fault(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and (code & 0xFF) in _WRITE_FAULTS


@dataclass(frozen=True)
class FileStamp:
    """What a file looked like when it was hashed: if it still looks so, its sha256 is reused."""

    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, info: os.stat_result) -> "FileStamp":
        return cls(size=info.st_size, mtime_ns=info.st_mtime_ns, inode=info.st_ino)


class ResultStore:
    """The SQLite store of one scan database file (see the module docstring)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            if self.path.parent and not self.path.parent.exists():
                self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        try:
            # isolation_level=None: we open transactions ourselves and know when each commits.
            self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode: a committed transaction survives a killed process; a power cut
            # may lose the last few commits but never corrupts the database.
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            if _is_write_fault(exc):
                raise WriteError(f"cannot write {self.path}: {exc}") from None
            raise StoreError(f"{self.path} is not a usable screener result database: {exc}") from exc
        self._pending = 0
        self._last_commit = time.monotonic()
        self._closed = False

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(_SCHEMA_VERSION),))
        elif int(row[0]) != _SCHEMA_VERSION:
            raise StoreError(f"{self.path} has store schema {row[0]}; this screener reads "
                             f"{_SCHEMA_VERSION} (use a new --db file)")

    # --- transactions ---------------------------------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Turn a failed write into a WriteError naming this file, leaving no transaction open."""
        try:
            yield
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK")
                except sqlite3.Error:  # already rolled back by SQLite itself
                    pass
            self._pending = 0
            raise WriteError(f"cannot write {self.path}: {exc}") from None

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")

    def commit(self) -> None:
        """Commit the open transaction, if any (raises :class:`WriteError` when it cannot)."""
        if self._db.in_transaction:
            with self._writing():
                self._db.execute("COMMIT")
        self._pending = 0
        self._last_commit = time.monotonic()

    def _maybe_commit(self, every: int = 500, seconds: float = 0.5) -> None:
        """Group cheap writes (reused rows) into few transactions; they are redone if lost."""
        self._pending += 1
        if self._pending >= every or time.monotonic() - self._last_commit >= seconds:
            self.commit()

    def close(self) -> None:
        """Commit and close (again: nothing); raises :class:`WriteError` if the commit fails."""
        if self._closed:
            return
        try:
            self.commit()
        finally:
            self._closed = True
            self._db.close()

    def __enter__(self) -> "ResultStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- scans ------------------------------------------------------------------------------------
    def begin_scan(self, fingerprint: str) -> int:
        self.commit()
        with self._writing():
            cur = self._db.execute("INSERT INTO scans (fingerprint, started) VALUES (?, ?)",
                                   (fingerprint, time.time()))
        return int(cur.lastrowid)

    def finish_scan(self, scan_id: int, summary: dict[str, object]) -> None:
        with self._writing():
            self._begin()
            self._db.execute("UPDATE scans SET finished=?, summary=? WHERE id=?",
                             (time.time(), json.dumps(summary), scan_id))
        self.commit()

    def latest_scan(self) -> int | None:
        row = self._db.execute("SELECT MAX(id) FROM scans").fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def scan_info(self, scan_id: int) -> dict[str, object] | None:
        """When a scan ran, with which fingerprint, and its counts (None if unknown)."""
        row = self._db.execute("SELECT fingerprint, started, finished, summary FROM scans WHERE id=?",
                               (scan_id,)).fetchone()
        if row is None:
            return None
        return {"id": scan_id, "fingerprint": row[0], "started": row[1], "finished": row[2],
                "summary": json.loads(row[3]) if row[3] else None}

    def fingerprint_for(self, quick: str) -> str | None:
        """The pipeline fingerprint last seen with this quick key (None: start the workers)."""
        row = self._db.execute("SELECT fingerprint FROM fingerprints WHERE quick=?",
                               (quick,)).fetchone()
        return str(row[0]) if row else None

    def remember_fingerprint(self, quick: str, fingerprint: str) -> None:
        with self._writing():
            self._begin()
            self._db.execute("INSERT INTO fingerprints (quick, fingerprint) VALUES (?, ?) ON "
                             "CONFLICT (quick) DO UPDATE SET fingerprint=excluded.fingerprint",
                             (quick, fingerprint))
        self.commit()

    # --- results ----------------------------------------------------------------------------------
    def get(self, sha256: str, fingerprint: str) -> ScreenResult | None:
        row = self._db.execute("SELECT result FROM results WHERE sha256=? AND fingerprint=?",
                               (sha256, fingerprint)).fetchone()
        return ScreenResult.from_dict(json.loads(row[0])) if row else None

    def put(self, result: ScreenResult, fingerprint: str) -> None:
        """Store a screened photo's result and commit at once (it cost seconds to compute).

        When this returns, the result is on disk; when it raises :class:`WriteError`, it is not.
        """
        with self._writing():
            self._begin()
            self._db.execute(
                "INSERT INTO results (sha256, fingerprint, verdict, risk, result, created) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sha256, fingerprint) DO UPDATE SET "
                "verdict=excluded.verdict, risk=excluded.risk, result=excluded.result, "
                "created=excluded.created",
                (result.sha256, fingerprint, result.verdict, float(result.risk),
                 json.dumps(result.to_dict(), ensure_ascii=False), time.time()))
        self.commit()

    # --- paths ------------------------------------------------------------------------------------
    def known_sha(self, path: str | os.PathLike[str], stamp: FileStamp) -> str | None:
        """The sha256 recorded for ``path`` if the file still has the same size, mtime and inode."""
        row = self._db.execute("SELECT sha256, size, mtime_ns, inode FROM paths WHERE path=?",
                               (os.fsencode(path),)).fetchone()
        if row and row[0] and (row[1], row[2], row[3]) == (stamp.size, stamp.mtime_ns, stamp.inode):
            return str(row[0])
        return None

    def record_path(self, path: str | os.PathLike[str], display: str, scan_id: int,
                    fingerprint: str, sha256: str | None, stamp: FileStamp | None,
                    error: str | None = None, commit: bool = False) -> None:
        """Remember which result a path's row is (``error`` when no stored result stands for it)."""
        with self._writing():
            self._begin()
            self._db.execute(
                "INSERT INTO paths (path, display, scan_id, fingerprint, sha256, size, mtime_ns, "
                "inode, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                "display=excluded.display, scan_id=excluded.scan_id, "
                "fingerprint=excluded.fingerprint, sha256=excluded.sha256, size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, inode=excluded.inode, error=excluded.error",
                (os.fsencode(path), display, scan_id, fingerprint, sha256 or None,
                 stamp.size if stamp else None, stamp.mtime_ns if stamp else None,
                 stamp.inode if stamp else None, error))
        if commit:
            self.commit()
        else:
            self._maybe_commit()

    def rows(self, scan_id: int | None = None, order: str = "path") -> Iterator[ScreenResult]:
        """The result rows of one scan (default: the latest), streamed from disk.

        ``order`` is ``"path"`` or ``"risk"`` (highest first, errors last).
        """
        for _, result in self.rows_with_paths(scan_id, order):
            yield result

    def rows_with_paths(self, scan_id: int | None = None, order: str = "path"
                        ) -> Iterator[tuple[Path, ScreenResult]]:
        """Like :meth:`rows`, with each row's real file path (which may not be valid UTF-8)."""
        self.commit()
        if scan_id is None:
            scan_id = self.latest_scan()
            if scan_id is None:
                return
        order_sql = {
            "path": "p.path",
            "risk": "CASE WHEN r.result IS NULL OR r.verdict = 'error' THEN 1 ELSE 0 END, "
                    "r.risk DESC, p.path",
        }[order]
        # A second connection: the caller may keep writing through this one while reading.
        reader = sqlite3.connect(str(self.path), timeout=30.0)
        try:
            cursor = reader.execute(
                "SELECT p.path, p.display, p.sha256, p.error, r.result FROM paths p "
                "LEFT JOIN results r "
                "ON r.sha256 = p.sha256 AND r.fingerprint = p.fingerprint AND p.error IS NULL "
                f"WHERE p.scan_id = ? ORDER BY {order_sql}", (scan_id,))
            for raw, display, sha256, error, blob in cursor:
                path = Path(os.fsdecode(raw))
                if blob is not None:
                    yield path, ScreenResult.from_dict(json.loads(blob)).with_path(display)
                else:
                    yield path, ScreenResult.failed(display, sha256 or "",
                                                    error or "no stored result for this photo")
        finally:
            reader.close()

    def count_results(self, fingerprint: str | None = None) -> int:
        if fingerprint is None:
            return int(self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0])
        return int(self._db.execute("SELECT COUNT(*) FROM results WHERE fingerprint=?",
                                    (fingerprint,)).fetchone()[0])

    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])
