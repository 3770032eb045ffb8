"""The SIFT verifier alone, in variants: photos found, false brands and time, on one half of the dev photos.

Usage::

    python benchmarks/sift_variants.py ../shared/data/flickrlogos27-dev ../shared/data/icdar2015-dev
        --half fit base side=768 side=640 n=1500 checks=32 c=0.06 [--json out.json]

A variant is ``base`` (the shipped settings) or comma-separated changes to it:

- ``side=N``: the photo's long side for SIFT, larger photos shrunk and smaller ones enlarged to
  it (base: at most 1024, smaller photos enlarged to 900);
- ``n=N``: keep the N strongest photo keypoints (``cv2.SIFT_create(nfeatures=N)``);
- ``c=X``: SIFT's contrast threshold (base 0.04: weak keypoints dropped above it);
- ``checks=N``: leaves the kd-trees check per query (base ``KD_CHECKS``).

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

import cv2  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import screener.logo.sift as sift_module  # noqa: E402
from screener.io import STAGE_MAX_SIDE, resize_for_stages  # noqa: E402
from screener.logo.sift import SiftMatcher  # noqa: E402
from screener.train.data import benchmark_photos, evaluation_half  # noqa: E402


def rgb_of(path: Path):
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def parse_variant(spec: str) -> dict:
    changes = dict(part.split("=") for part in spec.split(",")) if spec != "base" else {}
    side = int(changes["side"]) if "side" in changes else None
    return {"name": spec, "side": side,
            "sift": cv2.SIFT_create(nfeatures=int(changes.get("n", 0)),
                                    contrastThreshold=float(changes.get("c", 0.04))),
            "checks": int(changes.get("checks", sift_module.KD_CHECKS))}


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
    references, truth = protocol.references, protocol.truth
    logo_photos = [p for p in protocol.photos if evaluation_half(p) == args.half]
    street = [p for p in sorted((args.icdar / "images").glob("*.jpg")) if evaluation_half(p.name) == args.half]
    crops = []
    for brand in sorted(references):
        for b in references[brand]:
            x1, y1, x2, y2 = b.box
            crops.append((brand, rgb_of(args.flickr / "images" / b.image)[y1:y2, x1:x2]))
    matcher = SiftMatcher(crops, min_inliers=args.min_inliers)
    base_side, base_min = matcher.max_side, matcher.min_side
    photos = [(p, args.flickr / "images" / p) for p in logo_photos]
    photos += [(f"icdar/{p.name}", p) for p in street]
    variants = [parse_variant(v) for v in args.variants]
    found: dict[str, dict[str, list]] = {v["name"]: {} for v in variants}
    seconds: dict[str, dict[str, float]] = {v["name"]: defaultdict(float) for v in variants}
    for name, path in photos:
        pixels, _ = resize_for_stages(rgb_of(path), STAGE_MAX_SIDE)
        for v in variants:
            matcher.max_side, matcher.min_side = (v["side"], v["side"]) if v["side"] else (base_side, base_min)
            matcher.sift, sift_module.KD_CHECKS = v["sift"], v["checks"]
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
