"""`screener scan` end to end: real OCR (rapidocr) on rendered listings, real worker processes.

The registry has brand names but no logos, so the logo stage is not built: these tests are about
the scan machinery (store, resume, dedupe, outputs, workers), and every photo costs seconds of
real OCR on a shared 2-core machine. The default pipeline with the logo model runs in
``test_scan_default_pipeline_on_samples``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screener.brands import BrandRegistry
from screener.cli import main

from helpers import REPO, render_listing, worker_pids

SUMMARY = re.compile(r"^screened=(\d+) reused=(\d+) errors=(\d+) seconds=[\d.]+$")

LISTINGS = {
    "clear.jpg": ["Soft leather tote"],
    "mark.jpg": ["VELTORA", "Leather tote"],
    "altered.jpg": ["V3LTORA bag"],
    "cue.jpg": ["Novalux", "1:1 replica"],
    "sub/other.jpg": ["Handmade wallet"],
    "sub/mark2.jpg": ["Novalux belt"],
}


def _make_photos(folder: Path) -> Path:
    for seed, (name, lines) in enumerate(LISTINGS.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        render_listing(lines, path, size=(720, 320), seed=seed)
    shutil.copyfile(folder / "mark.jpg", folder / "sub" / "same-bytes-as-mark.jpg")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return folder


def _registry(root: Path) -> Path:
    registry = BrandRegistry(root)
    registry.add("Veltora")
    registry.add("Novalux")
    registry.save()
    return root


def _summary(stderr: str) -> tuple[int, int, int]:
    last = stderr.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, f"last stderr line is {last!r}"
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def _rows(jsonl: Path) -> dict[str, dict]:
    rows = [json.loads(line) for line in jsonl.read_text(encoding="utf-8").splitlines()]
    by_path = {r["path"]: r for r in rows}
    assert len(by_path) == len(rows), "one row per photo"
    return by_path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Photos, a registry and one uninterrupted reference scan (shared: each costs real OCR)."""
    root = tmp_path_factory.mktemp("scan")
    photos = _make_photos(root / "photos")
    registry = _registry(root / "brands")
    return root, photos, registry


@pytest.fixture(scope="module")
def reference(world):
    root, photos, registry = world
    out = root / "reference.jsonl"
    code = main(["scan", str(photos), "--registry", str(registry), "--out", str(out),
                 "--workers", "2", "--quiet"])
    assert code == 0
    return _rows(out)


def test_scan_writes_one_row_per_photo_and_reuses_the_store(world, reference, capsys, tmp_path):
    root, photos, registry = world
    assert len(reference) == len(LISTINGS) + 2
    verdicts = {Path(p).name: r["verdict"] for p, r in reference.items()}
    assert verdicts["mark.jpg"] == verdicts["same-bytes-as-mark.jpg"]
    assert verdicts["cue.jpg"] == "suspect"  # "1:1 replica" is a counterfeit cue
    assert verdicts["broken.jpg"] == "error"
    assert reference[str(photos / "broken.jpg")]["error"]

    # Same folder, same pipeline: nothing is screened again; outputs still hold every photo.
    out, table = tmp_path / "again.jsonl", tmp_path / "again.csv"
    capsys.readouterr()
    code = main(["scan", str(photos), "--registry", str(registry), "--out", str(out),
                 "--csv", str(table), "--db", str(root / "reference.db"), "--workers", "1"])
    assert code == 0
    screened, reused, errors = _summary(capsys.readouterr().err)
    assert (screened, reused, errors) == (0, len(reference), 1)
    again = _rows(out)
    assert {p: r["verdict"] for p, r in again.items()} == {p: r["verdict"] for p, r in reference.items()}
    with open(table, encoding="utf-8-sig", newline="") as handle:
        assert sorted(r["path"] for r in csv.DictReader(handle)) == sorted(reference)

    # The store can be exported at any time, with the same rows.
    capsys.readouterr()
    assert main(["export", "--db", str(root / "reference.db"), "--out", str(tmp_path / "e.jsonl")]) == 0
    assert _rows(tmp_path / "e.jsonl").keys() == reference.keys()


def test_rescan_of_unchanged_photos_starts_no_worker(world, reference, tmp_path):
    from screener.config import Config
    from screener.scan.batch import run_scan
    from screener.scan.local import LocalEngine
    from screener.scan.store import ResultStore

    root, photos, registry = world
    db = tmp_path / "copy.db"
    shutil.copyfile(root / "reference.db", db)
    engine = LocalEngine(registry, Config(), workers=2)
    with ResultStore(db) as store:
        stats = run_scan([photos], config=Config(), store=store, engine=engine,
                         registry_dir=registry)
    assert (stats.screened, stats.reused) == (0, len(reference))
    assert engine.fingerprint == "" and stats.startup_seconds == 0  # no model was loaded


def test_identical_photos_are_screened_once(world, reference):
    root, photos, registry = world
    with sqlite3.connect(root / "reference.db") as db:
        results = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        paths = db.execute("SELECT COUNT(*) FROM paths").fetchone()[0]
    # 8 files: one duplicate shares a result, broken.jpg is stored as a (deterministic) error.
    assert paths == len(reference) == 8
    assert results == 7
    mark, same = reference[str(photos / "mark.jpg")], reference[str(photos / "sub" / "same-bytes-as-mark.jpg")]
    assert mark["sha256"] == same["sha256"] and mark["flags"] == same["flags"]


def test_registry_change_rescreens(world, reference, tmp_path, capsys):
    root, photos, registry = world
    changed = shutil.copytree(registry, tmp_path / "brands")
    reg = BrandRegistry.load(changed)
    reg.add("Handmade")
    reg.save()
    db = tmp_path / "r.db"
    shutil.copyfile(root / "reference.db", db)
    out = tmp_path / "r.jsonl"
    capsys.readouterr()
    assert main(["scan", str(photos / "sub"), "--registry", str(changed), "--out", str(out),
                 "--db", str(db), "--workers", "1", "--quiet"]) == 0
    screened, reused, errors = _summary(capsys.readouterr().err)
    assert (screened, reused) == (3, 0)  # every photo again, under the new fingerprint
    assert len(_rows(out)) == 3
    with sqlite3.connect(db) as conn:  # old results are kept beside the new fingerprint's
        assert conn.execute("SELECT COUNT(DISTINCT fingerprint) FROM results").fetchone()[0] == 2


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:  # the table is being created
        return 0


def _scan_process(photos: Path, registry: Path, out: Path, db: Path) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "-m", "screener", "scan", str(photos), "--registry", str(registry),
         "--out", str(out), "--db", str(db), "--workers", "1", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # its own process group, like a terminal job: kill it whole
        # A terminal job gets Ctrl-C; a test run started in the background (`cmd &`) has SIGINT
        # ignored, which children inherit and Python then never turns into KeyboardInterrupt.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_kill_9_mid_scan_then_resume(world, reference, tmp_path, capsys):
    root, photos, registry = world
    out, db = tmp_path / "k.jsonl", tmp_path / "k.db"
    process = _scan_process(photos, registry, out, db)
    try:
        _wait_for(lambda: _count(db, "results") >= 2 or process.poll() is not None, 240,
                  "two stored results")
    finally:
        os.killpg(process.pid, signal.SIGKILL)  # the scan and its worker, no chance to clean up
        process.communicate()
    kept = _count(db, "results")
    assert 2 <= kept < 7, "the kill must land mid-scan"

    capsys.readouterr()
    assert main(["scan", str(photos), "--registry", str(registry), "--out", str(out),
                 "--db", str(db), "--workers", "2", "--quiet"]) == 0
    screened, reused, errors = _summary(capsys.readouterr().err)
    assert reused >= kept and screened + reused == len(reference)
    resumed = _rows(out)
    assert {p: r["verdict"] for p, r in resumed.items()} == {p: r["verdict"] for p, r in reference.items()}
    assert _count(db, "results") == 7  # nothing written twice


def test_ctrl_c_stops_cleanly_keeping_finished_rows(world, tmp_path):
    root, photos, registry = world
    out, db = tmp_path / "c.jsonl", tmp_path / "c.db"
    process = _scan_process(photos, registry, out, db)
    _wait_for(lambda: (out.exists() and out.read_text().count("\n") >= 3) or process.poll() is not None,
              240, "three finished rows")
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "run the same command again to resume" in stderr
    screened, reused, errors = _summary(stderr)
    rows = _rows(out)
    assert len(rows) == screened + reused < 8
    with sqlite3.connect(db) as conn:  # every row written out is in the store
        assert conn.execute("SELECT COUNT(*) FROM paths").fetchone()[0] == len(rows)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker process through /proc")
def test_a_worker_killed_mid_scan_costs_at_most_its_photo(world, reference, tmp_path):
    """A worker that dies (the kernel's OOM killer, a crash in native code) is replaced: the photo
    it held gets an error row saying so, and every other photo is screened as usual."""
    root, photos, registry = world
    out, db = tmp_path / "w.jsonl", tmp_path / "w.db"
    process = _scan_process(photos, registry, out, db)
    try:
        _wait_for(lambda: _count(db, "results") >= 1 or process.poll() is not None, 240, "a first stored result")
        workers = worker_pids(process.pid)
        assert len(workers) == 1, workers
        os.kill(workers[0], signal.SIGKILL)
        _, stderr = process.communicate(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, stderr
    rows = _rows(out)
    assert len(rows) == len(reference)  # no photo lost
    crashed = {p: r for p, r in rows.items() if "worker crashed" in (r.get("error") or "")}
    assert len(crashed) <= 1  # the photo the worker held, unless it died between two photos
    assert all(r["verdict"] == "error" for r in crashed.values())
    assert {p: r["verdict"] for p, r in rows.items() if p not in crashed} == \
        {p: r["verdict"] for p, r in reference.items() if p not in crashed}


def test_a_stalled_photo_gets_an_error_row_and_the_scan_goes_on(world, tmp_path, capsys):
    root, photos, registry = world
    one = tmp_path / "two"
    one.mkdir()
    shutil.copyfile(photos / "mark.jpg", one / "a.jpg")
    shutil.copyfile(photos / "clear.jpg", one / "b.jpg")
    out = tmp_path / "t.jsonl"
    args = ["scan", str(one), "--registry", str(registry), "--out", str(out), "--workers", "1",
            "--quiet", "--set", "limits.photo_timeout_s=0.01"]  # real OCR takes far longer
    assert main(args + ["--fail-on", "error"]) == 1
    assert _summary(capsys.readouterr().err) == (2, 0, 2)
    for row in _rows(out).values():
        assert row["verdict"] == "error" and "limits.photo_timeout_s" in row["error"]
    # Timeouts are not stored: the next scan tries those photos again.
    assert main(args) == 0
    assert _summary(capsys.readouterr().err)[:2] == (2, 0)


def test_fail_on_and_usage_errors(world, reference, tmp_path, capsys):
    root, photos, registry = world
    base = ["scan", str(photos), "--registry", str(registry), "--db", str(root / "reference.db"),
            "--quiet", "--workers", "1"]
    assert main(base + ["--out", str(tmp_path / "a.jsonl"), "--fail-on", "suspect"]) == 1
    assert "--fail-on" in capsys.readouterr().err
    assert main(["scan", str(photos / "clear.jpg"), "--registry", str(registry), "--db",
                 str(root / "reference.db"), "--quiet", "--fail-on", "review"]) == 0
    assert main(["scan", str(photos), "--registry", str(registry), "--quiet"]) == 2  # no output
    assert main(base + ["--set", "policy.nope=1"]) == 2
    assert main(base + ["--workers", "0"]) == 2
    assert main(base + ["--registry", str(tmp_path / "missing")]) == 2
    assert main(base + ["--ray-address", "auto"]) == 2  # needs --engine ray
    capsys.readouterr()


def _run_in_terminal(args: list[str]) -> str:
    """Run the CLI on a pseudo-terminal (120 columns) and return what it drew."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen([sys.executable, "-m", "screener", *args], stdin=subprocess.DEVNULL,
                               stdout=follower, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the other side closed
            break
        if not chunk:
            break
        drawn += chunk
    process.wait(timeout=120)
    os.close(leader)
    return drawn.decode("utf-8", "replace")


def test_progress_bar_on_a_terminal_only(world, tmp_path):
    root, photos, registry = world
    # --ocr none: this is about what the terminal shows, not about reading text.
    args = ["scan", str(photos / "sub"), "--registry", str(registry), "--ocr", "none",
            "--workers", "1", "--out", str(tmp_path / "p.jsonl")]
    drawn = _run_in_terminal(args)
    assert "3/3" in drawn and "photo" in drawn and "suspect=" in drawn and "errors=" in drawn
    assert SUMMARY.match(drawn.replace("\r", "\n").strip().splitlines()[-1])
    quiet = _run_in_terminal(args + ["--quiet"])
    assert "3/3" not in quiet and SUMMARY.match(quiet.strip().splitlines()[-1])
