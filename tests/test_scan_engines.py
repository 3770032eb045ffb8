"""Scan engines give the pipeline's own results: the local pool and Ray against an in-process Screener.

On the sample set (default pipeline: rapidocr + the CNN logo stage, since the sample registry has
logos) when it has been generated; otherwise on rendered listings with a names-only registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from screener.brands import BrandRegistry
from screener.cli import main

from helpers import SAMPLES, render_listing

_VOLATILE = ("timings",)


def _comparable(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _VOLATILE}


def _scan(args: list[str], out: Path) -> dict[str, dict]:
    assert main(args + ["--out", str(out), "--quiet"]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {r["path"]: _comparable(r) for r in rows}


@pytest.fixture(scope="module")
def photo_set(tmp_path_factory) -> tuple[Path, list[Path]]:
    """(registry, three photos): from sample_images/ when generated, else rendered here."""
    listings = sorted((SAMPLES / "listings").glob("*.jpg")) if (SAMPLES / "labels.csv").exists() else []
    if listings:
        return SAMPLES / "brands", listings[:3]
    root = tmp_path_factory.mktemp("engines")
    registry = BrandRegistry(root / "brands")
    registry.add("Veltora")
    registry.save()
    photos = []
    for i, lines in enumerate((["VELTORA tote"], ["V3LTORA", "replica"], ["Leather belt"])):
        photos.append(root / f"p{i}.jpg")
        render_listing(lines, photos[-1], size=(720, 320), seed=i)
    return registry.root, photos


@pytest.fixture(scope="module")
def local_rows(photo_set, tmp_path_factory) -> dict[str, dict]:
    registry, photos = photo_set
    out = tmp_path_factory.mktemp("local") / "local.jsonl"
    return _scan(["scan", *map(str, photos), "--registry", str(registry), "--workers", "2"], out)


def test_local_workers_match_the_in_process_screener(photo_set, local_rows):
    from screener import Screener

    registry, photos = photo_set
    screener = Screener.from_registry(registry)
    for photo in photos:
        expected = _comparable(screener.screen_file(photo).to_dict())
        assert local_rows[str(photo)] == expected


@pytest.mark.ray
def test_ray_engine_matches_the_local_engine(photo_set, local_rows, tmp_path):
    pytest.importorskip("ray")
    registry, photos = photo_set
    rows = _scan(["scan", *map(str, photos), "--registry", str(registry), "--engine", "ray",
                  "--workers", "2", "--db", str(tmp_path / "ray.db")], tmp_path / "ray.jsonl")
    assert rows == local_rows


@pytest.mark.ray
def test_a_ray_actor_killed_mid_photo_costs_only_that_photo(photo_set, local_rows):
    """An actor that dies while screening (the kernel's OOM killer, a crash in native code, a lost
    node) is replaced: the photo it held gets a clear error row that is not stored (the next scan
    tries it again), and the photos after it are screened by the new actor as before."""
    ray = pytest.importorskip("ray")
    import os
    import signal
    import time

    from screener.config import Config
    from screener.scan.ray_engine import RayEngine

    registry, photos = photo_set

    def finish(engine: RayEngine) -> list:
        outcomes, deadline = [], time.monotonic() + 240
        while engine.busy() and time.monotonic() < deadline:
            outcomes += engine.poll(1.0)
        assert not engine.busy(), "the engine never answered"
        return outcomes

    with RayEngine(registry, Config(), workers=1) as engine:
        engine.start()
        # White-box: the engine's one actor, to SIGKILL its process as the OOM killer would.
        (actor,) = engine._actors
        pid = ray.get(actor.__ray_call__.remote(lambda body: os.getpid()))
        engine.submit("held", photos[0])
        os.kill(pid, signal.SIGKILL)
        (lost,) = finish(engine)
        assert lost.key == "held" and not lost.cacheable
        assert lost.result["status"] == "error" and "Ray actor failed" in lost.result["error"]
        assert engine._actors and engine._actors[0] is not actor  # replaced
        engine.submit("next", photos[1])
        (after,) = finish(engine)
        assert after.cacheable and _comparable(after.result) == local_rows[str(photos[1])]
