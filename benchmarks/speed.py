"""End-to-end speed of `Screener.screen`, and per stage, at 1024 px.

Usage::

    python benchmarks/speed.py [FOLDER] [--registry DIR] [--size 1024] [--limit N]
                               [--ocr rapidocr tesseract] [--no-logo] [--threads T] [--warmup 2]

FOLDER defaults to ``sample_images/listings`` and the registry to ``sample_images/brands``. Each
photo is first resized so its longer side is ``--size`` pixels and re-encoded as JPEG (quality 90)
in memory, so every engine screens the same bytes and decoding is part of the time. One process,
one photo at a time, ``--threads`` threads for the models (the per-worker setting of a scan, which
runs one such process per core). Stage times come from ``ScreenResult.timings`` (decode, ocr,
logo, policy, and any other stage the pipeline reports); end to end is the wall time of the
``screen`` call. Engines given together run photo by photo in turn, so they share the same load:
compare them as ratios within one run, not across runs on a busy machine.

Prints a Markdown table for BENCHMARKS.md with the date, commit and command.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


def photos_at(folder: Path, size: int, limit: int | None) -> list[tuple[str, bytes]]:
    """(name, JPEG bytes with the longer side ``size`` px) for the photos in ``folder``."""
    from PIL import Image, ImageOps

    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
    if limit:
        paths = paths[:limit]
    out = []
    for path in paths:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            scale = size / max(image.size)
            image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                                 Image.Resampling.LANCZOS)
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=90)
        out.append((path.name, buffer.getvalue()))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=REPO / "sample_images" / "listings")
    parser.add_argument("--registry", type=Path, default=REPO / "sample_images" / "brands")
    parser.add_argument("--size", type=int, default=1024, help="longer side in pixels")
    parser.add_argument("--limit", type=int, help="first N photos only")
    parser.add_argument("--ocr", nargs="+", default=["rapidocr"],
                        choices=("rapidocr", "tesseract", "none"))
    parser.add_argument("--no-logo", action="store_true", help="logo stage off")
    parser.add_argument("--threads", type=int, default=1, help="model threads (per scan worker)")
    parser.add_argument("--warmup", type=int, default=2, help="photos screened first, not timed")
    args = parser.parse_args(argv)

    # Thread pools read these when they start: set before numpy/torch/onnxruntime load.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                 "SCREENER_OCR_THREADS"):
        os.environ[name] = str(args.threads)
    sys.path.insert(0, str(REPO))
    from screener.config import Config
    from screener.pipeline import Screener

    photos = photos_at(args.folder, args.size, args.limit)
    if not photos:
        parser.error(f"no photos in {args.folder}")
    screeners = {}
    for engine in args.ocr:
        config = Config().replace(ocr__engine=engine, logo__enabled=not args.no_logo)
        started = time.perf_counter()
        screeners[engine] = Screener.from_registry(args.registry, config)
        for _, data in photos[: args.warmup]:  # model loading and first-call set-up
            screeners[engine].screen(data)
        print(f"# {engine}: set-up and {args.warmup} warm-up photos "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    import cv2  # the logo stage's network runs in onnxruntime, pinned by OMP_NUM_THREADS above

    cv2.setNumThreads(args.threads)

    walls: dict[str, list[float]] = {e: [] for e in screeners}
    stages: dict[str, dict[str, list[float]]] = {e: {} for e in screeners}
    errors: dict[str, int] = {e: 0 for e in screeners}
    for _name, data in photos:
        for engine, screener in screeners.items():  # in turn: both see the same load
            started = time.perf_counter()
            try:
                result = screener.screen(data)
            except Exception as exc:  # noqa: BLE001 - counted and shown, the run goes on
                errors[engine] += 1
                print(f"# {engine}: {_name}: {exc}", file=sys.stderr)
                continue
            walls[engine].append(time.perf_counter() - started)
            for stage, seconds in result.timings.items():
                stages[engine].setdefault(stage, []).append(seconds)

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    command = "python benchmarks/speed.py " + " ".join(argv if argv is not None else sys.argv[1:])
    print(f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}, "
          f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores, shared), "
          f"{len(photos)} photos from {args.folder.name}/ at {args.size} px, {args.threads} thread(s), "
          f"logo stage {'off' if args.no_logo else 'on'}, load average at the end "
          f"{os.getloadavg()[0]:.1f} (other jobs share the cores: compare rows, not runs).")
    print(f"Command: `{command.strip()}`\n")
    print("| OCR engine | photos/s | mean s/photo | median | p90 | "
          + " | ".join(f"{s} (mean s, share)" for s in _stage_names(stages)) + " | errors |")
    print("|---|---|---|---|---|" + "---|" * len(_stage_names(stages)) + "---|")
    for engine in screeners:
        w = walls[engine]
        if not w:
            print(f"| {engine} | - | - | - | - |" + " - |" * len(_stage_names(stages)) + f" {errors[engine]} |")
            continue
        total = sum(w)
        cells = []
        for stage in _stage_names(stages):
            values = stages[engine].get(stage, [])
            share = sum(values) / total if total else 0.0
            cells.append(f"{statistics.mean(values):.3f} ({share:.0%})" if values else "-")
        print(f"| {engine} | {len(w) / total:.2f} | {statistics.mean(w):.3f} | "
              f"{statistics.median(w):.3f} | {percentile(w, 0.9):.3f} | " + " | ".join(cells)
              + f" | {errors[engine]} |")
    return 0


def _stage_names(stages: dict[str, dict[str, list[float]]]) -> list[str]:
    order = ["decode", "ocr", "logo", "policy"]
    seen = {s for per in stages.values() for s in per}
    return [s for s in order if s in seen] + sorted(seen - set(order))


if __name__ == "__main__":
    raise SystemExit(main())
