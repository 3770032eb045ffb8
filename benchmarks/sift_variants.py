"""The SIFT verifier alone, in variants: photos found, false brands and time, on one half of the dev photos.

Usage::

    python benchmarks/sift_variants.py ../shared/data/flickrlogos27-dev ../shared/data/icdar2015-dev
        --half fit base kd probes=4 probes=16 side=640 n=1500 c=0.06 [--json out.json]

A variant is ``base`` (the shipped settings) or comma-separated changes to it:

- ``side=N``: the photo's long side for SIFT, larger photos shrunk and smaller ones enlarged to
  it (base: at most 1024, smaller photos enlarged to 900);
- ``n=N``: keep the N strongest photo keypoints (``cv2.SIFT_create(nfeatures=N)``);
- ``c=X``: SIFT's contrast threshold (base 0.04: weak keypoints dropped above it);
- ``probes=N``: cells of the inverted file searched per photo descriptor (base ``IVF_PROBES``);
- ``k=N``: reference descriptors found per photo descriptor (base ``NEIGHBOURS``), among which
  the ratio test looks for the nearest of another brand;
- ``ratio=X``: the ratio test's threshold (base ``RATIO``);
- ``store=fp32`` / ``store=fp16`` / ``store=sq8``: the inverted file's descriptors kept as 32-bit
  floats, 16-bit floats (base) or in 8 bits a dimension;
- ``kd``: OpenCV FLANN's randomised kd-trees (8 trees, 64 checks) instead of the inverted file,
  as the matcher searched before issue 16 (``kd=T/C`` for T trees and C checks).

The registry is ``logo_flickr.py``'s: every FlickrLogos-27 dev brand from 5 seeded reference crops
(trained brands' crops from training photos), and the photos are the ones it screens, of the
chosen half, plus that half's ICDAR 2015 photos (logo-free street scenes). Every variant runs on
each photo in turn, so all see the same load on a shared machine: compare their seconds, not runs.
A photo is found when the verifier matches its brand with at least K inliers (K = 5, the shipped
``min_inliers``, 8 and 12); a wrong brand is a match of another brand on a logo photo; a street
false brand is any match on a street photo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from concurrent.futures import Future  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import screener.logo.sift as sift_module  # noqa: E402
from screener.io import STAGE_MAX_SIDE, resize_for_stages  # noqa: E402
from screener.logo.sift import SiftMatcher  # noqa: E402
from screener.train.data import benchmark_photos, evaluation_half  # noqa: E402


def rgb_of(path: Path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


class KdTrees:
    """OpenCV FLANN's randomised kd-trees behind faiss's ``search`` (what the matcher used before
    the inverted file), seeded as the matcher seeded them."""

    def __init__(self, descriptors: np.ndarray, trees: int, checks: int) -> None:
        cv2.setRNGSeed(0)
        self.flann = cv2.flann_Index(np.ascontiguousarray(descriptors), {"algorithm": 1, "trees": trees})
        self.checks = checks

    def search(self, queries: np.ndarray, k: int):
        neighbours, squared = self.flann.knnSearch(queries, k, params={"checks": self.checks})
        return squared, neighbours


def parse_variant(spec: str) -> dict:
    parts = [part.split("=") for part in spec.split(",")] if spec != "base" else []
    changes = {part[0]: part[1] if len(part) > 1 else "8/64" for part in parts}
    side = int(changes["side"]) if "side" in changes else None
    return {"name": spec, "side": side,
            "sift": cv2.SIFT_create(nfeatures=int(changes.get("n", 0)),
                                    contrastThreshold=float(changes.get("c", 0.04))),
            "probes": int(changes.get("probes", sift_module.IVF_PROBES)),
            "k": int(changes.get("k", sift_module.NEIGHBOURS)), "ratio": float(changes.get("ratio", sift_module.RATIO)),
            "kd": tuple(int(x) for x in changes["kd"].split("/")) if "kd" in changes else None,
            "store": changes.get("store")}


def stored_as(descriptors: np.ndarray, cells: int, store: str, probes: int):
    """An inverted file like the matcher's whose descriptors are kept in ``store`` ("fp32": 32-bit
    floats, "fp16": 16-bit floats, "sq8": 8 bits a dimension)."""
    import faiss

    kind = {"fp32": None, "fp16": faiss.ScalarQuantizer.QT_fp16, "sq8": faiss.ScalarQuantizer.QT_8bit}[store]
    return sift_module.inverted_file(descriptors, cells, kind, probes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("flickr", type=Path)
    parser.add_argument("icdar", type=Path)
    parser.add_argument("variants", nargs="+")
    parser.add_argument("--half", choices=("fit", "report"), default="fit")
    parser.add_argument("--json", type=Path, default=None, help="every variant's matches per photo")
    parser.add_argument("--min-inliers", type=int, default=5,
                        help="matches kept from this many inliers; below the shipped 5 the inlier curve "
                             "shows what a lower min_inliers would add")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)

    protocol = benchmark_photos(args.flickr)
    truth = protocol.truth
    logo_photos = [p for p in protocol.photos if evaluation_half(p) == args.half]
    street = [p for p in sorted((args.icdar / "images").glob("*.jpg")) if evaluation_half(p.name) == args.half]
    crops = protocol.reference_crops(args.flickr)
    matcher = SiftMatcher(crops, min_inliers=args.min_inliers)
    base_side, base_min = matcher.max_side, matcher.min_side
    photos = [(p, args.flickr / "images" / p) for p in logo_photos]
    photos += [(f"icdar/{p.name}", p) for p in street]
    variants = [parse_variant(v) for v in args.variants]
    inverted_file = matcher.index
    searchers = {}  # per variant: what finds each photo descriptor's neighbours
    for v in variants:
        searchers[v["name"]] = Future()
        searchers[v["name"]].set_result(
            KdTrees(matcher.ref_descriptors, *v["kd"]) if v["kd"]
            else stored_as(matcher.ref_descriptors, inverted_file.nlist, v["store"], v["probes"]) if v["store"]
            else inverted_file)
    print(f"{len(matcher.ref_descriptors)} reference descriptors, {inverted_file.nlist} cells")
    found: dict[str, dict[str, list]] = {v["name"]: {} for v in variants}
    seconds: dict[str, dict[str, float]] = {v["name"]: defaultdict(float) for v in variants}
    for name, path in photos:
        pixels, _ = resize_for_stages(rgb_of(path), STAGE_MAX_SIDE)
        for v in variants:
            matcher.max_side, matcher.min_side = (v["side"], v["side"]) if v["side"] else (base_side, base_min)
            matcher.sift, matcher._index = v["sift"], searchers[v["name"]]
            inverted_file.nprobe = v["probes"]
            matcher.neighbours, matcher.ratio = v["k"], v["ratio"]
            started = time.perf_counter()
            matches = matcher.match(pixels)
            seconds[v["name"]]["street" if name.startswith("icdar/") else "logo"] += time.perf_counter() - started
            found[v["name"]][name] = [(m.brand, m.inliers) for m in matches]

    print(f"{len(logo_photos)} logo photos and {len(street)} street photos, {args.half} half\n")
    print("| variant | found (>= 5 / 8 / 12 inliers) | wrong brand at >= 5 | street false brands at >= 5 "
          "| s/photo, logo photos | s/photo, street photos (ratio to base) |")
    print("|---|---|---|---|---|---|")
    base_street = seconds[variants[0]["name"]]["street"] or 1.0
    for v in variants:
        result = found[v["name"]]
        hits = [sum(1 for p in logo_photos if any(b in truth[p] and i >= k for b, i in result[p])) for k in (5, 8, 12)]
        wrong = sum(1 for p in logo_photos for b, i in result[p] if i >= 5 and b not in truth[p])
        false = sum(1 for p in street for b, i in result[f"icdar/{p.name}"] if i >= 5)
        t = seconds[v["name"]]
        print(f"| {v['name']} | {' / '.join(str(n) for n in hits)} of {len(logo_photos)} | {wrong} | {false} of "
              f"{len(street)} | {t['logo'] / len(logo_photos):.3f} | {t['street'] / len(street):.3f} "
              f"({t['street'] / base_street:.2f}) |")
    # The inlier curve: what each min_inliers would give, per variant (fit it on the fit half only).
    print("\n| variant | min inliers | logo photos found | wrong brands | street false brands (per 100) |")
    print("|---|---|---|---|---|")
    for v in variants:
        result = found[v["name"]]
        for k in range(args.min_inliers, 13):
            hits = sum(1 for p in logo_photos if any(b in truth[p] and i >= k for b, i in result[p]))
            wrong = sum(1 for p in logo_photos for b, i in result[p] if i >= k and b not in truth[p])
            false = sum(1 for p in street for b, i in result[f"icdar/{p.name}"] if i >= k)
            print(f"| {v['name']} | {k} | {hits} of {len(logo_photos)} | {wrong} | {false} "
                  f"({100 * false / max(1, len(street)):.2f}) |")
    if args.json:
        args.json.write_text(json.dumps(found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
