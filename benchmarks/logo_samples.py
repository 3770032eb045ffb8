"""The logo stage on the sample listings: genuine logos vs imitations vs logo-free listings.

Usage::

    python benchmarks/logo_samples.py [sample_images] [--threads 1]

For every listing of the kinds below it prints the labelled brand's best logo score (and the best
score of any brand on listings without a registered logo), so the genuine and near (imitation)
thresholds can be read off measured distributions, and how each listing would be called at the
configured thresholds: ``genuine`` (>= genuine_threshold, or verified by ``min_inliers`` SIFT
inliers), ``near`` ([near, genuine)) or ``none``.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.brands import BrandRegistry  # noqa: E402
from screener.config import Config  # noqa: E402

KINDS = ("genuine-logo", "genuine-emblem", "imitation-logo", "imitation-emblem", "mixed-marks",
         "clean", "hard-negative", "unregistered-logo")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("samples", type=Path, nargs="?", default=Path(__file__).resolve().parents[1] / "sample_images")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=Path, default=None, help="models folder (default: the shipped one)")
    args = parser.parse_args(argv)

    import cv2

    cv2.setNumThreads(args.threads)
    from screener.logo.matcher import build_logo_stage

    config = Config()
    registry = BrandRegistry.load(args.samples / "brands")
    stage = build_logo_stage(registry, config.replace(logo__operating_point={"near_threshold": 0.0}), models_dir=args.models,
                             threads=args.threads)
    with open(args.samples / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["kind"] in KINDS]
    by_kind: dict[str, list[tuple[str, float, int, float, float, str]]] = defaultdict(list)
    for row in rows:
        if not (args.samples / row["path"]).is_file():  # the set is being regenerated
            continue
        image = np.asarray(Image.open(args.samples / row["path"]).convert("RGB"))
        hits = stage(image)
        wanted = row["brands"].split(";")[0] if row["brands"] else ""
        own = next((h for h in hits if h.brand == wanted), None)
        best = hits[0] if hits else None
        pick = own if own else (best if best and not wanted else None)
        top = best.brand if best else "-"
        by_kind[row["kind"]].append((Path(row["path"]).name, pick.score if pick else 0.0,
                                     pick.inliers if pick else 0, pick.alignment if pick else 0.0,
                                     pick.agreement if pick else 0.0, top))
    lc = config.logo.point
    g, n = lc.genuine_threshold, lc.near_threshold
    print(f"thresholds: genuine {g}, near {n}")
    for kind in KINDS:
        items = by_kind.get(kind, [])
        if not items:
            continue
        scores = np.array([item[1] for item in items])
        calls = ["genuine" if s >= g or k >= lc.min_inliers or lc.aligned_genuine(al, ag)
                 else "near" if s >= n or al >= lc.align_near else "none" for _, s, k, al, ag, _ in items]
        print(f"{kind:18s} n={len(items):2d} score min {scores.min():.3f} median {np.median(scores):.3f} "
              f"max {scores.max():.3f}; calls: " + ", ".join(f"{c} {calls.count(c)}" for c in ("genuine", "near", "none")))
        for (name, s, k, al, ag, top), call in zip(items, calls):
            print(f"    {name:34s} {s:.3f} inliers={k:3d} aligned={al:.2f} agreement={ag:5.2f} top={top:9s} {call}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
