"""A whole first ``screener screen`` with a warm cache, at many registered brands: seconds and peak
memory of a fresh process, then the logo stage's seconds per photo once it is up.

Usage::

    python benchmarks/warm_start.py runs/scale --brands 1000 [--runs 2] [--checkout DIR]

The registry is ``logo_speed.py``'s (``--brands`` random synthetic brands, 5 logo files each, seed 0),
made in the work folder with its cache the first time (a cold build: minutes at 1,000 brands), and
kept there. ``--checkout`` runs another checkout of screener against the same registry and cache
(e.g. a ``git worktree`` of an older commit: the reference keypoints and embeddings are shared, each
version builds its own index once); run it and this one alternately to compare them on a shared
machine. Per photo: the rendered photo and six sample listings, screened in one warm process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PER_PHOTO = """
import glob, statistics, sys
import numpy as np
from PIL import Image
from screener import Screener
from screener.config import Config
screener = Screener.from_registry({registry!r}, Config().replace(logo__cache_dir={cache!r}))
paths = [{photo!r}] + sorted(glob.glob({samples!r}))[:6]
photos = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
screener.screen(photos[0])  # the first waits for the SIFT index
seconds = [screener.screen(p).timings["logo"] for p in photos]
print(f"logo stage per photo: median {{statistics.median(seconds):.3f}} s, each {{[round(s, 3) for s in seconds]}}")
"""


def timed(command: list[str], cwd: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one fresh process."""
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = child.stdout.read()  # type: ignore[union-attr]
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        sys.exit(f"{command} exited {child.returncode}")
    return time.perf_counter() - started, usage.ru_maxrss // 1024, out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("work", type=Path)
    parser.add_argument("--brands", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--checkout", type=Path, default=REPO, help="the screener checkout to run")
    args = parser.parse_args(argv)
    work = args.work.resolve() / f"b{args.brands}"
    registry, cache, photo = work / "reg", work / "cache", work / "photo.png"
    if not photo.exists():
        sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]
        from PIL import Image

        from logo_speed import make_photo, make_registry

        work.mkdir(parents=True, exist_ok=True)
        _, specs = make_registry(registry, args.brands, 5, seed=0)
        Image.fromarray(make_photo(specs[0], 1)).save(photo)
    screen = [sys.executable, "-m", "screener", "screen", str(photo), "--registry", str(registry),
              "--set", f"logo.cache_dir={cache}"]
    first = "cold" if not cache.exists() else "first"
    checkout = args.checkout.resolve()
    for run in range(args.runs + 1):
        seconds, peak, _ = timed(screen, checkout)
        print(f"{checkout.name}, {args.brands} brands, {first if run == 0 else 'warm'} screen: {seconds:.2f} s, "
              f"peak {peak} MiB")
    code = PER_PHOTO.format(registry=str(registry), cache=str(cache), photo=str(photo),
                            samples=str(REPO / "sample_images/listings/0[3-5]*-genuine-*.jpg"))
    print(timed([sys.executable, "-c", code], checkout)[2].strip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
