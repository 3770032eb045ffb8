"""The local scan engine: a pool of worker processes, each holding its own Screener.

Why not ``concurrent.futures`` or ``multiprocessing.Pool``: neither can stop *one* stalled task.
A photo that hangs a decoder or a stage must cost one error row, not the scan, so each worker
here has its own pipe, main knows which photo each worker holds and since when, and a worker
that overruns ``limits.photo_timeout_s`` (or crashes) is killed and replaced; killing it cannot
corrupt a queue the other workers share.

Workers are started with ``spawn`` (a clean interpreter: no inherited threads or half-initialised
OpenMP pools), build the Screener once, pin their thread pools to one thread, and ignore SIGINT so
that Ctrl-C is handled by the main process alone.
"""

from __future__ import annotations

import multiprocessing as mp
import multiprocessing.connection as mp_connection
import signal
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import ScreenerError, WorkerStartError
from ..types import ScreenResult
from .worker import Outcome, PhotoWorker, pin_thread_env

# A worker that dies this many times in a row before it is ready means the pipeline cannot start
# (a bad model file, out of memory); say so instead of restarting it forever.
_MAX_START_FAILURES = 3


def _worker_main(conn: Any, registry_dir: str, config: Config, threads: int) -> None:
    """Entry point of a worker process: build the Screener, then screen paths until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process handles Ctrl-C
    pin_thread_env(threads)
    try:
        worker = PhotoWorker(registry_dir, config, threads)
    except BaseException as exc:  # noqa: BLE001 - report any start-up failure to the main process
        conn.send(("init_error", _one_line(f"{type(exc).__name__}: {exc}"),
                   isinstance(exc, ScreenerError)))
        return
    conn.send(("ready", worker.fingerprint))
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):  # the main process is gone (killed): stop
            return
        if message is None:
            return
        key, path = message
        conn.send(("result", worker.screen(key, path)))


def _one_line(message: str) -> str:
    """The line of a (possibly multi-line) error message that says what went wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if not lines:
        return message.strip()
    # An exception whose text is a whole traceback: its last line is the error itself.
    return lines[-1] if len(lines) > 1 and "Traceback (most recent call last)" in lines[0] \
        else lines[0]


@dataclass
class _Slot:
    process: Any
    conn: Any
    ready: bool = False
    task: tuple[str, Path] | None = None
    started: float = 0.0
    spawned: float = field(default_factory=time.monotonic)


class LocalEngine:
    """``workers`` processes on this machine (see the module docstring)."""

    name = "local"

    def __init__(self, registry_dir: str | Path, config: Config, workers: int,
                 threads_per_worker: int = 1):
        if workers < 1:
            raise ScreenerError(f"--workers must be at least 1, got {workers}")
        self.registry_dir = str(registry_dir)
        self.config = config
        self.workers = workers
        self.threads = threads_per_worker
        self.timeout_s = float(config.limits.photo_timeout_s)
        self.fingerprint = ""
        self.startup_seconds = 0.0  # until the first worker was ready (for benchmarks)
        self._ctx = mp.get_context("spawn")
        self._slots: list[_Slot] = []
        self._pending: deque[tuple[str, Path]] = deque()
        self._outbox: list[Outcome] = []
        self._start_failures = 0
        self._closed = False

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> str:
        """Start the workers; returns the pipeline fingerprint once the first one is ready."""
        started = time.monotonic()
        for _ in range(self.workers):
            self._spawn()
        while not self.fingerprint:
            self._outbox.extend(self._collect(timeout=0.5))
        self.startup_seconds = time.monotonic() - started
        return self.fingerprint

    def _spawn(self) -> None:
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(target=_worker_main, name="screener-worker", daemon=True,
                                    args=(child, self.registry_dir, self.config, self.threads))
        try:
            process.start()
        except OSError as exc:  # fork/exec refused: no memory or too many processes
            parent.close()
            child.close()
            noun, note = self._which()
            raise WorkerStartError(f"cannot start a {noun} process{note}: "
                                   f"{exc.strerror or exc}") from None
        child.close()  # our copy: the worker's end must be the only one, so EOF reaches us
        self._slots.append(_Slot(process=process, conn=parent))

    def close(self) -> None:
        """Stop every worker (photos in flight are abandoned: they are not in the store)."""
        if self._closed:
            return
        self._closed = True
        for slot in self._slots:
            try:
                slot.conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + 2.0
        for slot in self._slots:
            if slot.task is not None:  # busy: do not wait for the photo to finish
                slot.process.kill()
            slot.process.join(max(0.0, deadline - time.monotonic()))
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join(1.0)
            slot.conn.close()
        self._slots.clear()

    def __enter__(self) -> "LocalEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- work -----------------------------------------------------------------------------------
    def free_slots(self) -> int:
        """How many more photos may be submitted now (bounded: memory stays flat)."""
        return max(0, 2 * self.workers - self.busy())

    def busy(self) -> int:
        """Photos submitted and not yet returned by :meth:`poll`."""
        return len(self._pending) + sum(1 for s in self._slots if s.task) + len(self._outbox)

    def submit(self, key: str, path: Path) -> None:
        self._pending.append((key, path))
        self._dispatch()

    def poll(self, timeout: float) -> list[Outcome]:
        """Outcomes that finished (waiting at most ``timeout`` seconds for one)."""
        outcomes, self._outbox = self._outbox, []
        outcomes.extend(self._collect(0.0 if outcomes else timeout))
        self._dispatch()
        return outcomes

    def _dispatch(self) -> None:
        for slot in self._slots:
            if not self._pending:
                return
            if slot.ready and slot.task is None:
                key, path = self._pending.popleft()
                try:
                    slot.conn.send((key, path))
                except (OSError, ValueError):  # died just now; _collect replaces it
                    self._pending.appendleft((key, path))
                    continue
                slot.task, slot.started = (key, path), time.monotonic()

    def _collect(self, timeout: float) -> list[Outcome]:
        outcomes: list[Outcome] = []
        now = time.monotonic()
        deadlines = [s.started + self.timeout_s - now for s in self._slots if s.task]
        wait_for = max(0.0, min([timeout, *deadlines]))
        waitables: dict[Any, _Slot] = {}
        for slot in self._slots:
            waitables[slot.conn] = slot
            waitables[slot.process.sentinel] = slot
        ready = mp_connection.wait(list(waitables), timeout=wait_for)
        dead: list[_Slot] = []
        for obj in ready:
            slot = waitables[obj]
            if slot in dead:
                continue
            if obj is slot.conn:
                try:
                    while slot.conn.poll():
                        self._handle(slot, slot.conn.recv(), outcomes)
                except (EOFError, OSError):
                    dead.append(slot)
            elif not slot.conn.poll():  # the process ended and left no message behind
                dead.append(slot)
        for slot in dead:
            self._replace(slot, outcomes, reason=None)
        now = time.monotonic()
        for slot in list(self._slots):
            if slot.task and now - slot.started > self.timeout_s:
                self._replace(slot, outcomes, reason="timeout")
        return outcomes

    def _handle(self, slot: _Slot, message: tuple[Any, ...], outcomes: list[Outcome]) -> None:
        kind = message[0]
        if kind == "ready":
            slot.ready = True
            self._start_failures = 0
            if self.fingerprint and message[1] != self.fingerprint:
                raise ScreenerError("scan workers disagree on the pipeline fingerprint "
                                    f"({self.fingerprint} vs {message[1]}): did the registry or "
                                    "the models change during the scan?")
            self.fingerprint = message[1]
        elif kind == "result":
            outcome: Outcome = message[1]
            slot.task = None
            outcomes.append(outcome)
        elif kind == "init_error":
            self.close()
            noun, note = self._which()
            raise WorkerStartError(f"a {noun} could not start{note}: {message[1]}")

    def _replace(self, slot: _Slot, outcomes: list[Outcome], reason: str | None) -> None:
        """Kill ``slot``'s process, give its photo an error row, start a fresh worker."""
        slot.process.kill()
        slot.process.join(5.0)
        slot.conn.close()
        self._slots.remove(slot)
        if slot.task is not None:
            key, path = slot.task
            if reason == "timeout":
                error = (f"screening took longer than {self.timeout_s:g} s "
                         "(limits.photo_timeout_s); the worker was stopped and replaced")
            else:
                error = (f"the worker crashed (exit code {slot.process.exitcode}) while screening "
                         "this photo; it was replaced")
            failed = ScreenResult.failed(str(path), key, error)
            outcomes.append(Outcome(key, failed.to_dict(), cacheable=False))
        elif not slot.ready:
            self._start_failures += 1
            if self._start_failures >= _MAX_START_FAILURES:
                self.close()
                noun, note = self._which()
                raise WorkerStartError(
                    f"{noun}s keep dying while starting{note} (exit code {slot.process.exitcode}; "
                    "what it printed, if anything, is above): out of memory, or a script that "
                    "starts a scan without an `if __name__ == '__main__':` guard?")
        if not self._closed:
            self._spawn()


    def _which(self) -> tuple[str, str]:
        """The worker's name and a note: one that fails after another was ready points at the
        machine (memory, processes), not at the install, whatever the error it died of says."""
        if not self.fingerprint:
            return "scan worker", ""
        return ("replacement scan worker", " midway through the scan (the first ones started, so "
                "this machine is likely out of memory or processes now)")


def default_workers() -> int:
    import os

    return os.cpu_count() or 1

