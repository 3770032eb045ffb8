"""The SQLite result store and the CSV/JSONL sinks, as units.

The results stored here are built by hand: the store only keeps and returns rows, so a real
pipeline would add minutes and prove nothing more (the scan tests run the real pipeline).
"""

from __future__ import annotations

import csv
import json
import os

from screener.scan.outputs import CsvSink, JsonlSink, csv_row, neutralise_cell
from screener.scan.store import FileStamp, ResultStore
from screener.types import BrandMark, Flag, ScreenResult, TextHit


def _result(path="a.jpg", sha="ab" * 32, verdict="suspect", risk=0.9, text="VELT0RA"):
    return ScreenResult(
        path=path, sha256=sha, status="ok", error=None, verdict=verdict, risk=risk,
        texts=(TextHit(text, (1, 2, 30, 40), 0.9),),
        brands=(BrandMark("Veltora", 0.9, "near", ("text",)),),
        flags=(Flag("altered_brand_name", "Veltora", text, 0.9, (1, 2, 30, 40), "looks like Veltora"),),
        size=(100, 80))


def test_results_are_keyed_by_sha_and_fingerprint_and_survive_reopening(tmp_path):
    db = tmp_path / "scan.db"
    with ResultStore(db) as store:
        assert store.journal_mode() == "wal"
        scan = store.begin_scan("fp1")
        store.put(_result(), "fp1")
        store.put(_result(), "fp1")  # written twice by mistake: still one row
        stamp = FileStamp(size=10, mtime_ns=5, inode=7)
        store.record_path("a.jpg", "a.jpg", scan, "fp1", "ab" * 32, stamp)
        store.record_path("copy.jpg", "copy.jpg", scan, "fp1", "ab" * 32, stamp)
        store.record_path("gone.jpg", "gone.jpg", scan, "fp1", None, None, error="does not exist")
    with ResultStore(db) as store:
        assert store.count_results() == 1
        assert store.get("ab" * 32, "fp1").verdict == "suspect"
        assert store.get("ab" * 32, "fp2") is None  # another pipeline: screen again
        assert store.known_sha("a.jpg", FileStamp(10, 5, 7)) == "ab" * 32
        assert store.known_sha("a.jpg", FileStamp(10, 6, 7)) is None  # touched: hash again
        rows = list(store.rows())
        assert [r.path for r in rows] == ["a.jpg", "copy.jpg", "gone.jpg"]
        assert rows[1].flags == rows[0].flags
        assert rows[2].verdict == "error" and rows[2].error == "does not exist"
        assert [r.path for r in store.rows(order="risk")][-1] == "gone.jpg"


def test_paths_that_are_not_utf8_are_stored(tmp_path):
    name = os.fsdecode(b"caf\xe9.jpg")
    with ResultStore(tmp_path / "s.db") as store:
        scan = store.begin_scan("fp")
        store.put(_result(), "fp")
        store.record_path(name, "caf\\xe9.jpg", scan, "fp", "ab" * 32, None)
        ((path, row),) = list(store.rows_with_paths())
    assert os.fsencode(path) == b"caf\xe9.jpg" and row.path == "caf\\xe9.jpg"


def test_csv_cells_cannot_become_formulas():
    for hostile in ("=HYPERLINK(\"http://x\")", "+1+1", "-2", "@SUM(A1)", "\tx", "\r=1"):
        assert neutralise_cell(hostile).startswith("'")
    assert neutralise_cell("Veltora") == "Veltora"
    row = csv_row(_result(path="=cmd|' /C calc'!A0.jpg", text="=1+2"))
    assert row["path"].startswith("'=") and row["texts"].startswith("'=")
    assert row["brands"] == "Veltora (near)"
    assert row["flags"] == "altered_brand_name:Veltora"
    assert row["risk"] == "0.9000"


def test_sinks_write_one_row_per_result(tmp_path):
    results = [_result(path="a.jpg"), _result(path="b.jpg", verdict="clear", risk=0.0),
               ScreenResult.failed("c.jpg", "", "c.jpg is corrupt")]
    with JsonlSink(tmp_path / "r.jsonl") as jsonl, CsvSink(tmp_path / "r.csv") as table:
        for result in results:
            jsonl.write(result)
            table.write(result)
    lines = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [ScreenResult.from_dict(d) for d in lines] == results
    with open(tmp_path / "r.csv", encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["verdict"] for r in rows] == ["suspect", "clear", "error"]
    assert rows[2]["error"] == "c.jpg is corrupt"
