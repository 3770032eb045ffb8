"""Result sinks: JSONL and CSV files written one row at a time, as photos finish.

Both are context managers that stream (nothing is held in memory) and flush every row, so a scan
stopped by Ctrl-C or a crash leaves a readable file with every finished photo. A row that cannot
be written (a full disk, a file size limit, a reader that went away) raises
:class:`~screener.errors.WriteError` naming the file; the rows before it stay in the file.

CSV cells are read by spreadsheet programs, where a cell starting with ``=``, ``+``, ``-``, ``@``
(or a tab / carriage return) is a formula: OCR text and file names come from strangers, so such
cells get a leading apostrophe (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any, Iterable, Protocol

from ..errors import WriteError
from ..types import ScreenResult

CSV_COLUMNS = ("path", "sha256", "status", "verdict", "risk", "brands", "flags", "reasons",
               "texts", "logos", "error", "notes", "width", "height")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class ResultSink(Protocol):
    def write(self, result: ScreenResult) -> None: ...

    def close(self) -> None: ...


def neutralise_cell(value: str) -> str:
    """A CSV cell a spreadsheet shows as text, never evaluates as a formula."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def csv_row(result: ScreenResult) -> dict[str, Any]:
    """One result flattened to CSV cells (lists joined with ``; ``)."""
    brands = "; ".join(f"{b.brand} ({b.match})" for b in result.brands)
    flags = "; ".join(f"{f.kind}:{f.brand}" if f.brand else f.kind for f in result.flags)
    reasons = "; ".join(f.reason for f in result.flags)
    texts = " | ".join(t.text for t in result.texts)
    logos = "; ".join(f"{h.brand} {h.score:.2f}" for h in result.logos)
    width, height = result.size or ("", "")
    row: dict[str, Any] = {
        "path": result.path, "sha256": result.sha256, "status": result.status,
        "verdict": result.verdict, "risk": f"{result.risk:.4f}", "brands": brands, "flags": flags,
        "reasons": reasons, "texts": texts, "logos": logos, "error": result.error or "",
        "notes": "; ".join(result.notes), "width": width, "height": height,
    }
    return {k: neutralise_cell(v) if isinstance(v, str) and k != "risk" else v
            for k, v in row.items()}


class _FileSink:
    """A sink that owns one open file: closing, and use as a context manager."""

    path: Path
    _file: IO[str]

    def close(self) -> None:
        """Close the file; raises :class:`WriteError` if its last bytes cannot be written."""
        if self._file.closed:
            return
        try:
            self._file.close()
        except OSError as exc:
            raise _write_error(self.path, exc) from None

    def _put(self, write: Any) -> None:
        """Run ``write`` (which writes one row) and flush, so every finished row is on disk."""
        try:
            write()
            self._file.flush()
        except OSError as exc:
            raise _write_error(self.path, exc) from None

    def __enter__(self) -> "_FileSink":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class JsonlSink(_FileSink):
    """One JSON object per line (``ScreenResult.to_dict()``)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._file: IO[str] = _open_for_writing(self.path)

    def write(self, result: ScreenResult) -> None:
        line = json.dumps(result.to_dict(), ensure_ascii=False) + "\n"
        self._put(lambda: self._file.write(line))


class CsvSink(_FileSink):
    """One row per photo with the columns in :data:`CSV_COLUMNS`."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        # newline="" as the csv module requires; utf-8-sig so spreadsheet programs read UTF-8.
        self._file = _open_for_writing(self.path, encoding="utf-8-sig", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=CSV_COLUMNS)
        self._writer.writeheader()  # buffered: it reaches the disk with the first row

    def write(self, result: ScreenResult) -> None:
        row = csv_row(result)
        self._put(lambda: self._writer.writerow(row))


def write_all(results: Iterable[ScreenResult], sinks: Iterable[ResultSink]) -> int:
    """Write every result to every sink; returns the number of rows."""
    sinks = list(sinks)
    count = 0
    for result in results:
        for sink in sinks:
            sink.write(result)
        count += 1
    return count


def _open_for_writing(path: Path, encoding: str = "utf-8", newline: str | None = None) -> IO[str]:
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding=encoding, newline=newline)
    except OSError as exc:
        raise _write_error(path, exc) from None


def _write_error(path: Path, exc: OSError) -> WriteError:
    """``cannot write PATH: No space left on device`` (one line, no errno number)."""
    return WriteError(f"cannot write {path}: {exc.strerror or exc}")
