"""A batch scan: walk paths → hash files → look up the store → screen what is missing → write rows.

Memory stays flat however many photos there are: paths are walked lazily, at most
``engine.free_slots()`` photos are in flight, and every finished row goes straight to the store
and the output files. Identical bytes under several names are screened once (the other names wait
for that result, or take it from the store) and each name still gets its own row.

Counts in :class:`ScanStats`: ``screened`` rows were computed in this run (including files that
could not be read), ``reused`` rows came from the store or from an identical photo screened in
this run, ``errors`` is the number of error rows among both; ``stored`` counts the rows whose
result is committed to the store (what a resumed scan will not screen again).

A fault mid-scan (a write error on the store or an output, a worker that cannot start) propagates
as its :class:`~screener.errors.ScreenerError` after the workers are stopped and what can still be
committed is; pass ``stats`` to keep the counts of a scan that stops that way.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Protocol, Sequence

from ..config import Config
from ..errors import InputError, ScreenerError
from ..files import display_path, iter_photo_paths
from ..io import read_file, sha256_bytes
from ..types import ERROR, REVIEW, SUSPECT, ScreenResult
from .outputs import ResultSink
from .store import FileStamp, ResultStore
from .worker import Outcome


class Engine(Protocol):
    """What :func:`run_scan` needs from an engine (local process pool or Ray)."""

    name: str
    workers: int
    startup_seconds: float

    def start(self) -> str: ...

    def free_slots(self) -> int: ...

    def busy(self) -> int: ...

    def submit(self, key: str, path: Path) -> None: ...

    def poll(self, timeout: float) -> list[Outcome]: ...

    def close(self) -> None: ...


@dataclass
class ScanStats:
    """What a scan did; ``summary_line()`` is the last line a scan prints on stderr."""

    screened: int = 0
    reused: int = 0
    errors: int = 0
    stored: int = 0
    verdicts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    startup_seconds: float = 0.0
    interrupted: bool = False
    scan_id: int = 0
    fingerprint: str = ""

    @property
    def total(self) -> int:
        return self.screened + self.reused

    @property
    def suspects(self) -> int:
        return self.verdicts.get(SUSPECT, 0)

    def count(self, result: ScreenResult, reused: bool, stored: bool = False) -> None:
        if stored:
            self.stored += 1
        if reused:
            self.reused += 1
        else:
            self.screened += 1
        if result.verdict == ERROR or not result.ok:
            self.errors += 1
        self.verdicts[result.verdict] = self.verdicts.get(result.verdict, 0) + 1

    def summary_line(self) -> str:
        return (f"screened={self.screened} reused={self.reused} errors={self.errors} "
                f"seconds={self.seconds:.1f}")

    def to_dict(self) -> dict[str, Any]:
        return {"screened": self.screened, "reused": self.reused, "errors": self.errors,
                "verdicts": dict(self.verdicts), "seconds": round(self.seconds, 3),
                "interrupted": self.interrupted}


Progress = Callable[[ScreenResult, ScanStats], None]


@dataclass
class _Waiting:
    """Paths waiting for the result of one sha256 being screened now."""

    entries: list[tuple[Path, str, FileStamp | None]]


def quick_key(registry_dir: str | os.PathLike[str], config: Config) -> str:
    """A key for the pipeline computed without loading a model: package version, config hash,
    registry digest and the model manifest (which pins every model file's sha256).

    The store maps it to the fingerprint the workers reported last time, so a re-scan of
    unchanged photos starts no worker and loads no model; the first photo that needs screening
    starts them, and their fingerprint is checked against the remembered one.
    """
    import hashlib

    from .. import __version__
    from ..brands import BrandRegistry

    manifest = Path(__file__).resolve().parents[1] / "models" / "manifest.toml"
    digest = hashlib.sha256()
    for part in (__version__, config.fingerprint(), BrandRegistry.load(registry_dir).digest()):
        digest.update(part.encode() + b"\0")
    digest.update(manifest.read_bytes() if manifest.is_file() else b"no manifest")
    return digest.hexdigest()[:32]


def run_scan(paths: Sequence[str | os.PathLike[str]], *, config: Config, store: ResultStore,
             engine: Engine, sinks: Iterable[ResultSink] = (),
             progress: Progress | None = None,
             registry_dir: str | os.PathLike[str] | None = None,
             stats: ScanStats | None = None) -> ScanStats:
    """Scan ``paths`` with ``engine``; every row goes to the store and the sinks as it finishes.

    With ``registry_dir``, the engine is started only when a photo needs screening (see
    :func:`quick_key`); without it, at once. Counts go to ``stats`` (a new one by default), which
    the caller still holds when the scan stops on an error.

    ``KeyboardInterrupt`` stops the scan cleanly: finished rows are kept (store and outputs),
    photos in flight are dropped, and the stats come back with ``interrupted=True``. Any other
    error stops the workers, commits what the store still can, and propagates; the scan is then
    not marked finished in the store.
    """
    sinks = list(sinks)
    stats = stats if stats is not None else ScanStats()
    started = time.monotonic()
    waiting: dict[str, _Waiting] = {}
    quick = quick_key(registry_dir, config) if registry_dir is not None else None
    fingerprint = store.fingerprint_for(quick) if quick else None
    engine_started = False

    def start_engine() -> str:
        nonlocal engine_started
        engine_started = True
        real = engine.start()
        stats.startup_seconds = engine.startup_seconds
        if quick:
            store.remember_fingerprint(quick, real)
        if fingerprint is not None and real != fingerprint:
            raise ScreenerError(
                "the pipeline changed in a way its quick key did not show (a code change without "
                "a version change?); rows reused so far may be stale: run the scan again")
        return real

    def emit(result: ScreenResult, reused: bool, stored: bool) -> None:
        stats.count(result, reused, stored)  # before the sinks: a sink fault leaves it stored
        for sink in sinks:
            sink.write(result)
        if progress is not None:
            progress(result, stats)

    def finish(outcome: Outcome) -> None:
        result = ScreenResult.from_dict(outcome.result)
        stored = outcome.cacheable and bool(result.sha256)
        if stored:
            store.put(result, fingerprint)
        group = waiting.pop(outcome.key, None)
        for index, (path, display, stamp) in enumerate(group.entries if group else ()):
            row = result.with_path(display)
            store.record_path(path, display, scan_id, fingerprint, result.sha256 or outcome.key,
                              stamp, error=None if stored else (result.error or "not stored"))
            emit(row, reused=index > 0, stored=stored)

    def drain(timeout: float) -> None:
        for outcome in engine.poll(timeout):
            finish(outcome)

    completed = False
    try:
        if fingerprint is None:
            fingerprint = start_engine()
        stats.fingerprint = fingerprint
        scan_id = store.begin_scan(fingerprint)
        stats.scan_id = scan_id
        for path in iter_photo_paths(paths):
            display = display_path(path)
            try:
                sha256, stamp = _hash(path, store, config)
            except InputError as exc:
                # Unreadable (missing, a folder, a broken link, over the size limit): an error
                # row now, not stored as a result, so the next scan looks at the file again.
                store.record_path(path, display, scan_id, fingerprint, None, None, error=str(exc))
                emit(ScreenResult.failed(display, "", str(exc)), reused=False, stored=False)
                drain(0.0)
                continue
            cached = store.get(sha256, fingerprint)
            if cached is not None:
                store.record_path(path, display, scan_id, fingerprint, sha256, stamp)
                emit(cached.with_path(display), reused=True, stored=True)
            elif sha256 in waiting:
                waiting[sha256].entries.append((path, display, stamp))
            else:
                if not engine_started:
                    start_engine()
                while engine.free_slots() <= 0:
                    drain(0.5)
                waiting[sha256] = _Waiting([(path, display, stamp)])
                engine.submit(sha256, path)
            drain(0.0)
        while engine.busy():
            drain(0.5)
        completed = True
    except KeyboardInterrupt:
        stats.interrupted = True
    finally:
        try:
            engine.close()
        finally:
            stats.seconds = time.monotonic() - started
            if completed or stats.interrupted:
                store.commit()
            else:  # stopped by an error, which must be the one reported: commit what still can be
                try:
                    store.commit()
                except ScreenerError:
                    pass
    if completed and stats.scan_id:
        store.finish_scan(stats.scan_id, stats.to_dict())
    return stats


def _hash(path: Path, store: ResultStore, config: Config) -> tuple[str, FileStamp | None]:
    """The sha256 of a photo's bytes, from the store when the file is unchanged since last time."""
    try:
        info = os.stat(path)
    except OSError:
        info = None
    stamp = FileStamp.of(info) if info is not None and _is_regular(info) else None
    if stamp is not None:
        known = store.known_sha(path, stamp)
        if known:
            return known, stamp
    data = read_file(path, config.limits)  # raises InputError with the loader's own message
    return sha256_bytes(data), stamp


def _is_regular(info: os.stat_result) -> bool:
    import stat

    return stat.S_ISREG(info.st_mode)


def fail_on_triggered(stats: ScanStats, fail_on: Iterable[str]) -> list[str]:
    """The ``--fail-on`` conditions a scan met (``review`` also fires on suspects)."""
    met = []
    for condition in fail_on:
        if condition == ERROR and stats.errors:
            met.append(f"{stats.errors} error row(s)")
        elif condition == SUSPECT and stats.verdicts.get(SUSPECT, 0):
            met.append(f"{stats.verdicts[SUSPECT]} suspect photo(s)")
        elif condition == REVIEW and (stats.verdicts.get(REVIEW, 0) or stats.verdicts.get(SUSPECT, 0)):
            met.append(f"{stats.verdicts.get(REVIEW, 0) + stats.verdicts.get(SUSPECT, 0)} "
                       "photo(s) to review or suspect")
    return met
