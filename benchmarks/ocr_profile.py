"""Where the screener's time goes, per stage and OCR sub-step, against bare RapidOCR on the same photos.

Usage::

    python benchmarks/ocr_profile.py [--icdar DIR --half report --limit 40]
                                     [--samples sample_images/listings --sample-limit 20]
                                     [--registry sample_images/brands | --flickr DIR --refs 5]
                                     [--set ocr.enlarge=whole ...] [--scan --workers 2]

**Profile** (always): one process, one thread for every model (a scan worker's setting). Photo
by photo, bare RapidOCR 1.4.4 (``RapidOCR()`` with its defaults) and then ``Screener.screen``
read the same JPEG bytes, in turn, so both see the same load on a shared machine: read the
ratio, not the seconds. The screener's time is split into its stages (``ScreenResult.timings``)
and the OCR stage into its sub-steps, timed by wrapping the engine's own methods:

- ``detector 1x``: the detector pass at RapidOCR's size (short side 736 px);
- ``detector enlarged``: the pass(es) at ``det_scale`` (1.5x) - the whole photo with
  ``ocr.enlarge = "whole"``, only the small-text regions with ``"small-text"``;
- ``crop``, ``angle classifier``, ``recogniser``, ``word splitting`` (ink gaps and the split);
- ``second reading`` and ``glyph check`` (with everything they call);
- the logo stage's own sub-steps (``logo:candidates``, ``logo:embed``, ``logo:sift`` ...).

Bare RapidOCR's own per-stage times (det, cls, rec) are printed beside it.

**Scan** (``--scan``): end to end as a user runs them, on the same photo files, in one run:
bare RapidOCR in ``--workers`` processes of one thread each over the photos (a multiprocessing
pool, models loaded once per process), then ``screener scan --workers N`` with a fresh store;
both timed from the command's start (Python start, model loading and all) to its end. Rounds
alternate (bare, screener, bare, screener ...) so a change of load hits both.

``--flickr DIR`` builds a registry of every FlickrLogos-27 dev brand with ``--refs`` reference
crops each, chosen as ``benchmarks/logo_flickr.py`` chooses them (kept under ``--workdir``, so
its cached reference embeddings and keypoints are reused from the second run on).

Prints Markdown for BENCHMARKS.md with the date, commit and command.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
OCR_STEPS = ("detector 1x", "detector enlarged", "crop", "angle classifier", "recogniser",
             "word splitting", "second reading", "glyph check")


def _pin_threads(threads: int) -> None:
    # Thread pools read these when they start: set before numpy/onnxruntime/cv2 load.
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "SCREENER_OCR_THREADS"):
        os.environ[name] = str(threads)


def _evaluation_half() -> Callable[[str], str]:
    try:
        from screener.train.data import evaluation_half
    except ImportError:  # before the training code moved to screener.train
        from screener.train.data import evaluation_half
    return evaluation_half


def choose_photos(args: argparse.Namespace) -> list[Path]:
    """ICDAR dev photos of one evaluation half (numeric order), then sample listings."""
    photos: list[Path] = []
    if args.icdar:
        half = _evaluation_half()
        ids = sorted((args.icdar / "images").glob("img_*.jpg"), key=lambda p: int(p.stem.split("_")[1]))
        ids = [p for p in ids if not args.half or half(p.name) == args.half]
        photos += ids[: args.limit] if args.limit else ids
    if args.samples and args.sample_limit != 0:
        listed = sorted(p for p in args.samples.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())
        photos += listed[: args.sample_limit] if args.sample_limit else listed
    return photos


def flickr_registry(data: Path, refs: int, workdir: Path) -> Path:
    """A registry of every FlickrLogos dev brand, ``refs`` reference crops each (built once)."""
    import cv2

    from screener.brands import BrandRegistry
    from screener.train.data import benchmark_photos  # the logo benchmarks' own choice of crops

    root = workdir / f"flickr-registry-{refs}"
    if (root / "brands.toml").exists():
        return root
    references = benchmark_photos(data, refs).references
    registry = BrandRegistry(root)
    with tempfile.TemporaryDirectory() as tmp:
        for brand in sorted(references):
            files = []
            for i, box in enumerate(references[brand]):
                bgr = cv2.imread(str(data / "images" / box.image))
                x1, y1, x2, y2 = box.box
                path = Path(tmp) / f"{brand}-{i}.png"
                cv2.imwrite(str(path), bgr[y1:y2, x1:x2])
                files.append(path)
            registry.add(brand, logos=files)
        registry.save()
    return root


# --- the profile -------------------------------------------------------------------------------
class StepClock:
    """Seconds per named step, summed. Steps called inside an ``opaque`` step count towards it
    only (the second reading runs the whole OCR engine again on a crop)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._opaque = 0

    def wrap(self, fn: Callable[..., Any], name: str | Callable[..., str], opaque: bool = False) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._opaque:
                return fn(*args, **kwargs)
            key = name(*args, **kwargs) if callable(name) else name
            self._opaque += opaque
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[key] += time.perf_counter() - started
                self.calls[key] += 1
                self._opaque -= opaque
        return timed


class _Wrapped:
    """A callable object (second reading, glyph check) with its calls timed."""

    def __init__(self, inner: Callable[..., Any], timed: Callable[..., Any]) -> None:
        self.inner, self.timed = inner, timed

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.timed(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def instrument(screener: Any, clock: StepClock) -> None:
    """Wrap the screener's OCR engine methods and helpers with ``clock`` (rapidocr engine only)."""
    import screener.ocr.rapid as rapid

    engine = screener.ocr
    if isinstance(engine, rapid.RapidOcrEngine):
        current: dict[str, tuple[int, int]] = {}
        detect = engine.detect

        def detect_and_note(bgr: Any) -> Any:
            current["size"] = bgr.shape[:2]
            return detect(bgr)

        engine.detect = detect_and_note  # type: ignore[method-assign]

        def pass_name(image: Any, ratio: float) -> str:
            h, w = current.get("size", image.shape[:2])
            return "detector enlarged" if ratio > engine._scale(h, w, 1.0) * 1.05 else "detector 1x"

        engine._detect_pass = clock.wrap(engine._detect_pass, pass_name)  # type: ignore[method-assign]
        engine._recognise = clock.wrap(engine._recognise, "recogniser")  # type: ignore[method-assign]
        engine._cls = clock.wrap(engine._cls, "angle classifier")
        rapid._crop = clock.wrap(rapid._crop, "crop")
        rapid.strip_ink = clock.wrap(rapid.strip_ink, "word splitting")
        rapid.split_words = clock.wrap(rapid.split_words, "word splitting")
    if screener.second_reading is not None:
        screener.second_reading = _Wrapped(screener.second_reading,
                                           clock.wrap(screener.second_reading, "second reading", opaque=True))
    if screener.glyphs is not None:
        screener.glyphs = _Wrapped(screener.glyphs, clock.wrap(screener.glyphs, "glyph check", opaque=True))


def profile(photos: list[tuple[str, bytes]], registry: Path, overrides: dict[str, Any],
            warmup: int) -> dict[str, Any]:
    import numpy as np
    from PIL import Image
    from rapidocr_onnxruntime import RapidOCR

    from screener.config import Config
    from screener.pipeline import Screener

    config = Config().with_dotted(overrides) if overrides else Config()
    started = time.perf_counter()
    screener = Screener.from_registry(registry, config)
    setup = time.perf_counter() - started
    bare = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)
    for _, data in photos[:warmup]:  # first-call set-up of both, not timed
        screener.screen(data)
        bare(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1].copy())
    clock = StepClock()
    instrument(screener, clock)
    stages: dict[str, float] = defaultdict(float)
    bare_steps: dict[str, float] = defaultdict(float)
    wall = bare_wall = 0.0
    enlarged = 0
    for _, data in photos:
        started = time.perf_counter()
        bgr = np.ascontiguousarray(np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))[:, :, ::-1])
        _, elapse = bare(bgr)
        bare_wall += time.perf_counter() - started
        for step, seconds in zip(("det", "cls", "rec"), elapse or (0.0, 0.0, 0.0)):
            bare_steps[step] += seconds
        calls_before = clock.calls.get("detector enlarged", 0)
        started = time.perf_counter()
        result = screener.screen(data)
        wall += time.perf_counter() - started
        enlarged += clock.calls.get("detector enlarged", 0) > calls_before
        for stage, seconds in result.timings.items():
            stages[stage] += seconds
        for step, seconds in (getattr(screener.logo, "last_timings", None) or {}).items():
            if step != "total":
                stages[f"logo:{step}"] += seconds
    return {"setup": setup, "wall": wall, "bare": bare_wall, "stages": dict(stages),
            "steps": dict(clock.seconds), "bare_steps": dict(bare_steps), "enlarged": enlarged}


# --- end to end ----------------------------------------------------------------------------------
BARE_SCAN = """
import os, sys, time
from multiprocessing import get_context
started = time.perf_counter()

def init():
    global ocr
    from rapidocr_onnxruntime import RapidOCR
    ocr = RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)

def read(path):
    import cv2
    result, _ = ocr(cv2.imread(path))
    return len(result or [])

if __name__ == "__main__":
    paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    with get_context("spawn").Pool(int(sys.argv[2]), initializer=init) as pool:
        lines = sum(pool.imap_unordered(read, paths, chunksize=1))
    print(lines, time.perf_counter() - started)
"""


def scan_round(paths: list[Path], registry: Path, workers: int, overrides: list[str],
               workdir: Path) -> tuple[float, float]:
    """(bare seconds, screener scan seconds), each a fresh command timed from start to end."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    listing = workdir / "photos.txt"
    listing.write_text("".join(f"{p}\n" for p in paths))
    script = workdir / "bare_scan.py"
    script.write_text(BARE_SCAN)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(script), str(listing), str(workers)], check=True, env=env,
                   capture_output=True)
    bare = time.perf_counter() - started
    db = workdir / "scan.db"
    for stale in workdir.glob("scan.db*"):
        stale.unlink()
    command = [str(Path(sys.executable).parent / "screener"), "scan", *map(str, paths), "--registry",
               str(registry), "--out", str(workdir / "scan.jsonl"), "--db", str(db), "--workers",
               str(workers), "--quiet"]
    for item in overrides:
        command += ["--set", item]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    screener = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"screener scan failed:\n{done.stderr[-2000:]}")
    return bare, screener


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--icdar", type=Path, help="icdar2015-dev folder (images/, gt/)")
    parser.add_argument("--half", choices=("fit", "report"), default="report")
    parser.add_argument("--limit", type=int, default=40, help="ICDAR photos (0: all of the half)")
    parser.add_argument("--samples", type=Path, default=REPO / "sample_images" / "listings")
    parser.add_argument("--sample-limit", type=int, default=20, help="sample listings (0: none)")
    parser.add_argument("--registry", type=Path, default=REPO / "sample_images" / "brands")
    parser.add_argument("--flickr", type=Path, help="build a FlickrLogos-27 dev registry from this folder")
    parser.add_argument("--refs", type=int, default=5, help="reference crops per brand with --flickr")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--scan", action="store_true", help="also time scans end to end")
    parser.add_argument("--no-profile", action="store_true", help="only the end-to-end scans")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="bare/screener scan pairs")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/screener-ocr-profile"))
    args = parser.parse_args(argv)
    _pin_threads(1)
    sys.path.insert(0, str(REPO))
    import cv2

    cv2.setNumThreads(1)
    from screener.config import parse_cli_value

    args.workdir.mkdir(parents=True, exist_ok=True)
    paths = choose_photos(args)
    if not paths:
        parser.error("no photos: give --icdar and/or --samples")
    registry = flickr_registry(args.flickr, args.refs, args.workdir) if args.flickr else args.registry
    overrides = {k: parse_cli_value(v) for k, _, v in (o.partition("=") for o in args.overrides)}

    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "screener"],
                           capture_output=True, text=True).stdout.strip()
    command = "python benchmarks/ocr_profile.py " + " ".join(argv if argv is not None else sys.argv[1:])
    what = (f"{sum(1 for p in paths if p.name.startswith('img_'))} ICDAR dev photos ({args.half} half) and "
            f"{sum(1 for p in paths if not p.name.startswith('img_'))} sample listings; registry "
            f"{registry.name}" + (f"; {' '.join(args.overrides)}" if args.overrides else ""))
    print(f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}"
          f"{' + working copy' if dirty else ''}, {platform.machine()} ({os.cpu_count()} cores, shared), "
          f"load average at the start {os.getloadavg()[0]:.1f}; {what}.")
    print(f"Command: `{command.strip()}`\n")

    if not args.no_profile:
        photos = [(p.name, p.read_bytes()) for p in paths]
        r = profile(photos, registry, overrides, args.warmup)
        n = len(photos)
        print(f"Profile, one process, one thread, s per photo (set-up {r['setup']:.1f} s; enlarged "
              f"pass on {r['enlarged']} of {n} photos):\n")
        print("| what | s/photo | share of the screener |\n|---|---|---|")
        print(f"| **bare RapidOCR** (det {r['bare_steps'].get('det', 0) / n:.3f}, cls "
              f"{r['bare_steps'].get('cls', 0) / n:.3f}, rec {r['bare_steps'].get('rec', 0) / n:.3f}) | "
              f"{r['bare'] / n:.3f} | - |")
        print(f"| **screener** (ratio to bare: {r['bare'] / r['wall']:.2f}x) | {r['wall'] / n:.3f} | 100% |")
        for stage in ("decode", "ocr", "logo", "policy"):
            if stage in r["stages"]:
                print(f"| {stage} | {r['stages'][stage] / n:.3f} | {r['stages'][stage] / r['wall']:.0%} |")
            if stage == "ocr":
                for step in OCR_STEPS:
                    if step in r["steps"]:
                        print(f"| - ocr: {step} | {r['steps'][step] / n:.3f} | {r['steps'][step] / r['wall']:.0%} |")
            if stage == "logo":
                for step in sorted(s for s in r["stages"] if s.startswith("logo:")):
                    print(f"| - {step} | {r['stages'][step] / n:.3f} | {r['stages'][step] / r['wall']:.0%} |")
        print()
    if args.scan:
        print(f"End to end, {len(paths)} photo files, {args.workers} processes x 1 thread, seconds from "
              "the command's start to its end:\n")
        print("| round | bare RapidOCR s | photos/s | screener scan s | photos/s | ratio (bare s / screener s) |")
        print("|---|---|---|---|---|---|")
        for round_ in range(1, args.rounds + 1):
            bare, scan = scan_round(paths, registry, args.workers, args.overrides, args.workdir)
            print(f"| {round_} | {bare:.1f} | {len(paths) / bare:.2f} | {scan:.1f} | {len(paths) / scan:.2f} | "
                  f"{bare / scan:.2f} |", flush=True)
        print(f"\nload average at the end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
