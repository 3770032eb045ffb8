"""The Ray scan engine: the same per-photo function as the local pool, run by Ray actors.

``ray.init()`` starts a local Ray instance by default; ``address`` joins a cluster (``"auto"`` or
``"ray://head:10001"``). Each actor builds one Screener (the models stay loaded in the actor) and
screens paths, so every node must see the photos and the registry at the same paths (shared
storage); paths are sent absolute. Results come back to this process, which alone writes the
store and the outputs. Ray is an optional extra: ``pip install 'screener[ray]'``.
"""

from __future__ import annotations

import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from ..config import Config
from ..errors import EngineUnavailableError, ScreenerError
from ..types import ScreenResult
from .worker import THREAD_ENV_VARS, Outcome, PhotoWorker


class _ActorBody:
    """What each Ray actor runs (wrapped with ``ray.remote`` at start-up, when Ray is imported)."""

    def __init__(self, registry_dir: str, config: Config):
        self.worker = PhotoWorker(registry_dir, config)

    def fingerprint(self) -> str:
        return self.worker.fingerprint

    def screen(self, key: str, path: str) -> Outcome:
        return self.worker.screen(key, path)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise EngineUnavailableError(
            "the ray engine needs Ray: pip install 'screener[ray]' (or pip install ray)") from None
    return ray


class RayEngine:
    """``workers`` Ray actors (default: one per CPU of the cluster)."""

    name = "ray"

    def __init__(self, registry_dir: str | Path, config: Config, workers: int | None = None,
                 address: str | None = None):
        self.registry_dir = str(Path(registry_dir).absolute())
        self.config = config
        self.address = address
        self.requested_workers = workers
        self.workers = 0
        self.timeout_s = float(config.limits.photo_timeout_s)
        self.fingerprint = ""
        self.startup_seconds = 0.0
        self._ray: Any = None
        self._actor_class: Any = None
        self._actors: list[Any] = []
        self._idle: deque[Any] = deque()
        self._running: dict[Any, tuple[Any, str, Path, float]] = {}  # ref -> (actor, key, path, t0)
        self._pending: deque[tuple[str, Path]] = deque()
        self._started_ray = False

    # --- life cycle -----------------------------------------------------------------------------
    def start(self) -> str:
        started = time.monotonic()
        ray = self._ray = _import_ray()
        env = {name: "1" for name in THREAD_ENV_VARS}
        if not ray.is_initialized():
            kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False,
                                          runtime_env={"env_vars": env})
            if self.address:
                kwargs["address"] = self.address
            elif self.requested_workers:
                kwargs["num_cpus"] = max(self.requested_workers, os.cpu_count() or 1)
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise EngineUnavailableError(f"cannot start or reach Ray ({self.address or 'local'}):"
                                             f" {exc}") from exc
            self._started_ray = True
        count = self.requested_workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._actor_class = ray.remote(num_cpus=1, max_restarts=0)(_ActorBody)
        self._actors = [self._new_actor() for _ in range(count)]
        self.workers = count
        try:
            prints = ray.get([a.fingerprint.remote() for a in self._actors])
        except Exception as exc:  # noqa: BLE001 - Ray wraps the actor's start-up error
            self.close()
            raise ScreenerError(f"a Ray scan actor could not start: {_cause(exc)}") from None
        if len(set(prints)) != 1:
            self.close()
            raise ScreenerError(f"Ray actors disagree on the pipeline fingerprint: {sorted(set(prints))}"
                                " (do all nodes see the same registry and models?)")
        self.fingerprint = prints[0]
        self._idle.extend(self._actors)
        self.startup_seconds = time.monotonic() - started
        return self.fingerprint

    def _new_actor(self) -> Any:
        return self._actor_class.remote(self.registry_dir, self.config)

    def close(self) -> None:
        ray = self._ray
        if ray is None:
            return
        for actor in self._actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - already gone
                pass
        self._actors.clear()
        self._idle.clear()
        self._running.clear()
        if self._started_ray:
            ray.shutdown()
        self._ray = None

    # --- work -----------------------------------------------------------------------------------
    def free_slots(self) -> int:
        return max(0, 2 * self.workers - self.busy())

    def busy(self) -> int:
        return len(self._pending) + len(self._running)

    def submit(self, key: str, path: Path) -> None:
        self._pending.append((key, Path(path).absolute()))
        self._dispatch()

    def _dispatch(self) -> None:
        while self._pending and self._idle:
            actor = self._idle.popleft()
            key, path = self._pending.popleft()
            ref = actor.screen.remote(key, str(path))
            self._running[ref] = (actor, key, path, time.monotonic())

    def poll(self, timeout: float) -> list[Outcome]:
        ray = self._ray
        outcomes: list[Outcome] = []
        if self._running:
            now = time.monotonic()
            earliest = min(t0 for _, _, _, t0 in self._running.values())
            wait_for = max(0.0, min(timeout, earliest + self.timeout_s - now))
            refs = list(self._running)
            ready, _ = ray.wait(refs, num_returns=1, timeout=wait_for)
            if ready:
                ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            for ref in ready:
                actor, key, path, _ = self._running.pop(ref)
                try:
                    outcomes.append(ray.get(ref))
                    self._idle.append(actor)
                except Exception as exc:  # noqa: BLE001 - the actor died (crash, node lost)
                    outcomes.append(self._failed(key, path, f"the Ray actor failed while screening "
                                                            f"this photo: {_cause(exc)}"))
                    self._replace(actor)
            now = time.monotonic()
            for ref, (actor, key, path, t0) in list(self._running.items()):
                if now - t0 > self.timeout_s:
                    del self._running[ref]
                    outcomes.append(self._failed(key, path, f"screening took longer than "
                                                 f"{self.timeout_s:g} s (limits.photo_timeout_s); "
                                                 "the actor was stopped and replaced"))
                    self._replace(actor)
        elif timeout:
            time.sleep(min(timeout, 0.05))
        self._dispatch()
        return outcomes

    def _failed(self, key: str, path: Path, error: str) -> Outcome:
        return Outcome(key, ScreenResult.failed(str(path), key, error).to_dict(), cacheable=False)

    def _replace(self, actor: Any) -> None:
        try:
            self._ray.kill(actor)
        except Exception:  # noqa: BLE001 - already dead
            pass
        self._actors.remove(actor)
        fresh = self._new_actor()
        self._actors.append(fresh)
        self._idle.append(fresh)

    def __enter__(self) -> "RayEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _cause(exc: BaseException) -> str:
    text = str(exc).strip()
    # Ray's messages carry the remote traceback; its last line is the actual error.
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
