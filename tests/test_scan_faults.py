"""Faults in the middle of a scan (issue 19): one clear line, exit 2 (130 for Ctrl-C), nothing lost.

Each test runs the real `screener scan` in a child process, injects one fault by a real mechanism
(no special mount, no test hook in the code), and asserts:

- stderr is the one line ``screener: error: cannot write FILE: REASON; N photos are safely stored
  in DB; run the same command again to resume`` (no traceback), and the exit code;
- the store passes ``PRAGMA integrity_check`` and holds exactly the N results the line promises;
- running the same command again, with the fault gone, reuses those N and gives the outputs of an
  uninterrupted scan: one row per photo, none repeated, the same rows (timings aside).

Faults: a file size limit (``RLIMIT_FSIZE``, SIGXFSZ ignored: writes fail with EFBIG as on a full
disk) that the store's write-ahead log reaches mid-scan; ``/dev/full`` (ENOSPC, the kernel's own
full disk) behind the JSONL, the CSV and the report; a report path under a regular file (an
open-time error at the end of the scan; chmod would not stop root); a worker killed midway (as the
OOM killer does) while the scan's address space is capped (``RLIMIT_AS`` via ``prlimit``), so its
replacement cannot load the pipeline; Ctrl-C while the report is being written (a FIFO holds the
scan in its final writes until the signal comes, so the timing is not left to chance).

The registry has names only (no logo model), four small listings and one broken file: each scan
costs a worker start and a few seconds of real OCR.
"""

from __future__ import annotations

import csv
import json
import os
import re
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screener.brands import BrandRegistry

from helpers import REPO, render_listing, worker_pids

LISTINGS = {
    "a-clear.jpg": ["Soft leather tote"],
    "b-mark.jpg": ["VELTORA", "Leather tote"],
    "c-altered.jpg": ["V3LTORA bag"],
    "d-cue.jpg": ["Novalux", "1:1 replica"],
    "e-plain.jpg": ["Handmade wallet"],
}
PHOTOS = len(LISTINGS) + 1  # and broken.jpg

# Relative, so messages name them as the user typed them; every run has its own folder.
OUT, CSV, REPORT, DB = "o/r.jsonl", "o/r.csv", "o/r.html", "o/r.db"

FAULT_LINE = re.compile(
    r"^screener: error: (?P<what>.+); (?P<stored>\d+) photos? (?:is|are) safely stored in "
    + re.escape(DB) + r"; run the same command again to resume$")
SUMMARY = re.compile(r"^screened=(\d+) reused=(\d+) errors=(\d+) seconds=[\d.]+$")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("faults")
    photos = root / "photos"
    photos.mkdir()
    for seed, (name, lines) in enumerate(LISTINGS.items()):
        render_listing(lines, photos / name, size=(720, 320), seed=seed)
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    registry = BrandRegistry(root / "brands")
    registry.add("Veltora")
    registry.add("Novalux")
    registry.save()
    return photos, registry.root


def _command(world: tuple[Path, Path], report: str = REPORT) -> list[str]:
    photos, registry = world
    return [sys.executable, "-m", "screener", "scan", str(photos), "--registry", str(registry),
            "--out", OUT, "--csv", CSV, "--report", report, "--db", DB, "--workers", "1",
            "--quiet"]


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(REPO))


def _run(world, cwd: Path, preexec_fn=None, report: str = REPORT) -> subprocess.CompletedProcess:
    return subprocess.run(_command(world, report), cwd=cwd, env=_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec_fn)


def _start(world, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen(
        _command(world), cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own process group, like a terminal job
        # A test run started in the background has SIGINT ignored, which children inherit.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _outputs(cwd: Path, report_path: str = REPORT) -> dict[str, object]:
    """JSONL rows by path (without timings), CSV rows by path, and the report's row tags."""
    rows = [json.loads(line) for line in (cwd / OUT).read_text(encoding="utf-8").splitlines()]
    jsonl = {}
    for row in rows:
        row.pop("timings", None)
        jsonl[row["path"]] = row
    assert len(jsonl) == len(rows) == PHOTOS, "one JSONL row per photo, none repeated"
    with open(cwd / CSV, encoding="utf-8-sig", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len({r["path"] for r in table}) == len(table) == PHOTOS, "one CSV row per photo"
    report = re.findall(r'<tr class="row"[^>]*>', (cwd / report_path).read_text(encoding="utf-8"))
    assert len(report) == PHOTOS
    return {"jsonl": jsonl, "csv": sorted(table, key=lambda r: r["path"]), "report": report}


@pytest.fixture(scope="module")
def reference_scan(world, tmp_path_factory) -> Path:
    """The folder of one uninterrupted scan (its outputs and store under o/)."""
    cwd = tmp_path_factory.mktemp("reference")
    done = _run(world, cwd)
    assert done.returncode == 0, done.stderr
    return cwd


@pytest.fixture(scope="module")
def reference(reference_scan) -> dict[str, object]:
    """The outputs of one uninterrupted scan."""
    return _outputs(reference_scan)


def _one_fault_line(done, code: int = 2) -> tuple[str, int]:
    """The fault's one stderr line: (what failed, photos stored)."""
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    match = FAULT_LINE.match(lines[0])
    assert match, lines[0]
    return match["what"], int(match["stored"])


def _store_is_consistent(cwd: Path, stored: int) -> None:
    with sqlite3.connect(cwd / DB) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM results").fetchone()[0] == stored


def _resumes_exactly(world, cwd: Path, stored: int, reference, report: str = REPORT) -> None:
    """The same command, the fault gone: the stored photos are reused, the outputs are whole."""
    done = _run(world, cwd, report=report)
    assert done.returncode == 0, done.stderr
    match = SUMMARY.match(done.stderr.strip().splitlines()[-1])
    assert match, done.stderr
    screened, reused, _ = (int(g) for g in match.groups())
    assert (screened, reused) == (PHOTOS - stored, stored)
    assert _outputs(cwd, report) == reference
    _store_is_consistent(cwd, PHOTOS)
    assert not list(cwd.rglob(".*.partial")), "no partial report left behind"


def _file_size_limit(limit: int):
    def set_limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail with EFBIG instead of dying
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return set_limit


def test_store_reaches_a_file_size_limit_mid_scan(world, reference, tmp_path):
    # The store's write-ahead log is the largest file the scan writes: it passes 95 KB with the
    # first photo and grows about 15 KB per photo after it, so 120 KB stops the scan after two
    # (any limit from 100 to 125 KB gave one or two on 2026-12-02).
    done = _run(world, tmp_path, preexec_fn=_file_size_limit(120_000))
    what, stored = _one_fault_line(done)
    assert what.startswith(f"cannot write {DB}: ")
    assert 1 <= stored < PHOTOS, "the fault must land mid-scan"
    _store_is_consistent(tmp_path, stored)
    _resumes_exactly(world, tmp_path, stored, reference)


@pytest.mark.parametrize("output", [OUT, CSV, REPORT])
def test_an_output_on_a_full_disk(world, reference, tmp_path, output):
    (tmp_path / "o").mkdir()
    (tmp_path / output).symlink_to("/dev/full")  # every write: ENOSPC
    done = _run(world, tmp_path)
    what, stored = _one_fault_line(done)
    assert what == f"cannot write {output}: No space left on device"
    # Rows reach the store before the outputs: the row that could not be written is stored.
    assert stored == (PHOTOS if output == REPORT else 1)
    _store_is_consistent(tmp_path, stored)
    (tmp_path / output).unlink()
    _resumes_exactly(world, tmp_path, stored, reference)


def test_a_report_that_cannot_be_created_after_the_scan(world, reference, tmp_path):
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x").write_text("a file where the report's folder should be")
    report = "o/x/r.html"
    done = _run(world, tmp_path, report=report)
    what, stored = _one_fault_line(done)
    assert what == f"cannot write {report}: Not a directory"
    assert stored == PHOTOS  # the report comes last
    _store_is_consistent(tmp_path, stored)
    (tmp_path / "o" / "x").unlink()  # the report's folder is made
    _resumes_exactly(world, tmp_path, stored, reference, report)


_REPORT_UNDER_A_LIMIT = """
import resource, signal, sys
from screener.errors import WriteError
from screener.report import write_report
from screener.scan.store import ResultStore

store = ResultStore(sys.argv[1])  # opened first: its shared-memory file is 32 KB
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
try:
    write_report(store, sys.argv[2])
except WriteError as exc:
    print(exc)
    sys.exit(2)
"""


def test_a_report_that_fills_the_disk_leaves_the_previous_one(reference_scan, tmp_path):
    shutil.copytree(reference_scan / "o", tmp_path / "o")
    before = (tmp_path / REPORT).read_bytes()
    assert len(before) > 8192
    done = subprocess.run([sys.executable, "-c", _REPORT_UNDER_A_LIMIT, DB, REPORT], cwd=tmp_path,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == f"cannot write {REPORT}: File too large"
    assert (tmp_path / REPORT).read_bytes() == before  # the new one was written aside, and dropped
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["r.csv", "r.db", "r.html",
                                                                 "r.jsonl"]


def _count(db: Path, table: str, where: str = "") -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table} {where}").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return 0


def _wait_for(predicate, what: str, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _vm_size(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmSize for {pid}")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_a_worker_that_cannot_start_midway(world, reference, tmp_path):
    """The OOM killer takes the worker and memory stays short: its replacement cannot load."""
    process = _start(world, tmp_path)
    try:
        _wait_for(lambda: _count(tmp_path / DB, "results") >= 1 or process.poll() is not None,
                  "a first stored result")
        workers = worker_pids(process.pid)
        assert len(workers) == 1, workers
        # Room for the scan process itself to go on, far too little for a worker that loads the
        # OCR models (about 600 MB of address space); children inherit the limit.
        limit = _vm_size(process.pid) + 100 * 2**20
        assert limit < _vm_size(workers[0])
        resource.prlimit(process.pid, resource.RLIMIT_AS, (limit, limit))
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    done = subprocess.CompletedProcess(process.args, process.returncode, "", stderr)
    what, stored = _one_fault_line(done)
    assert what.startswith("a replacement scan worker could not start midway through the scan")
    assert "out of memory" in what
    assert 1 <= stored < PHOTOS
    _store_is_consistent(tmp_path, stored)
    _resumes_exactly(world, tmp_path, stored, reference)


def _blocked_opening_a_fifo(pid: int) -> bool:
    try:
        wchan = Path(f"/proc/{pid}/wchan").read_text().strip()
    except OSError:
        return True  # cannot tell: the finished scan is enough (the FIFO holds it)
    return wchan in ("wait_for_partner", "0", "")  # "0": the kernel hides it


def test_ctrl_c_during_the_final_writes(world, reference, tmp_path):
    (tmp_path / "o").mkdir()
    os.mkfifo(tmp_path / REPORT)  # nobody reads it: the scan waits in open() until the signal
    process = _start(world, tmp_path)
    try:
        _wait_for(lambda: _count(tmp_path / DB, "scans", "WHERE finished IS NOT NULL") >= 1
                  or process.poll() is not None, "the scan to finish its photos")
        _wait_for(lambda: _blocked_opening_a_fifo(process.pid) or process.poll() is not None,
                  "the report to be opened", timeout=60)
        os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    message, summary = stderr.strip().splitlines()
    assert message == (f"screener: interrupted while writing {REPORT}; {PHOTOS} photos are safely "
                       f"stored in {DB}; run the same command again to resume")
    assert SUMMARY.match(summary)
    _store_is_consistent(tmp_path, PHOTOS)
    (tmp_path / REPORT).unlink()
    _resumes_exactly(world, tmp_path, PHOTOS, reference)


def test_a_store_that_cannot_be_created_is_one_line(tmp_path):
    from screener.errors import WriteError
    from screener.scan.store import ResultStore

    (tmp_path / "file").write_text("x")
    with pytest.raises(WriteError, match=r"^cannot write .*file/r\.db: "):
        ResultStore(tmp_path / "file" / "r.db")
