"""How well the logo stage's candidate boxes frame the labelled logos, and whether framing is what
the screener's misses lack.

Usage::

    python benchmarks/candidate_coverage.py ../shared/data/flickrlogos27-dev [--half fit]
        [--screener run.json]

For each labelled logo box (the sample listings' logo marks, and FlickrLogos dev boxes of the
chosen ``evaluation_half``), in the working copy's pixels: the best IoU of the sliding windows
(``window_candidates``, the stage's budget) and of the boxes fitted to printed marks
(``mark_candidates``). With ``--screener`` (a ``logo_flickr.py --ocr --json`` run of the same half):
per (photo, brand), whether a candidate covers one of the brand's boxes at IoU >= 0.5, against
whether the screener named the brand, for trained and held-out brands.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.geometry import iou_many  # noqa: E402
from screener.logo.candidates import mark_candidates, window_candidates  # noqa: E402
from screener.logo.matcher import MAX_CANDIDATES, working_copy  # noqa: E402
from screener.train.data import evaluation_half, read_boxes  # noqa: E402

SAMPLES = Path(__file__).resolve().parents[1] / "sample_images"


def read_working_copy(path: Path) -> tuple[np.ndarray, float]:
    return working_copy(np.asarray(Image.open(path).convert("RGB")))


def best_iou(box, boxes: np.ndarray) -> float:
    return float(iou_many(np.asarray(box, float), boxes).max()) if len(boxes) else 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("flickr", type=Path)
    parser.add_argument("--half", choices=("fit", "report"), default="fit")
    parser.add_argument("--screener", type=Path, default=None)
    args = parser.parse_args(argv)

    photos: dict[str, list[list[float]]] = {}
    with open(SAMPLES / "labels.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            marks = [m["box"] for m in json.loads(row["marks"]) if m["kind"] == "logo"]
            if marks:
                photos[str(SAMPLES / row["path"])] = marks
    by_photo = defaultdict(list)
    for b in read_boxes(args.flickr):
        if evaluation_half(b.image) == args.half:
            by_photo[b.image].append(b)
    rows = []  # (set, best window IoU, best mark IoU, box side / short side)
    covered: dict[tuple[str, str], bool] = {}
    for path in [*photos, *(str(args.flickr / "images" / p) for p in sorted(by_photo))]:
        work, scale = read_working_copy(Path(path))
        windows, marks = window_candidates(work, MAX_CANDIDATES), mark_candidates(work)
        both = np.concatenate([windows, marks])
        name = Path(path).name
        labelled = photos.get(path) or [b.box for b in by_photo[name]]
        for k, box in enumerate(labelled):
            box = np.asarray(box, float) * scale
            if min(box[2] - box[0], box[3] - box[1]) < 8:
                continue
            side = float(np.sqrt((box[2] - box[0]) * (box[3] - box[1])) / min(work.shape[:2]))
            rows.append(("samples" if path in photos else "flickr", best_iou(box, windows), best_iou(box, marks), side))
            if path not in photos:
                key = (name, by_photo[name][k].brand)
                covered[key] = covered.get(key, False) or best_iou(box, both) >= 0.5
    print("| labelled logo boxes | best window IoU >= 0.7 | best mark box IoU >= 0.7 | either |")
    print("|---|---|---|---|")
    for group in ("samples", "flickr"):
        r = [x for x in rows if x[0] == group]
        w, m = np.array([x[1] for x in r]), np.array([x[2] for x in r])
        print(f"| {group} ({len(r)}) | {np.mean(w >= 0.7):.2f} | {np.mean(m >= 0.7):.2f} | "
              f"{np.mean(np.maximum(w, m) >= 0.7):.2f} |")
    flickr = [x for x in rows if x[0] == "flickr"]
    for lo, hi in ((0, 0.13), (0.13, 0.2), (0.2, 0.5), (0.5, 9)):
        r = [x[1] for x in flickr if lo <= x[3] < hi]
        if r:
            print(f"FlickrLogos boxes {lo}-{hi} of the short side: {len(r)}, window IoU >= 0.5 for "
                  f"{np.mean(np.array(r) >= 0.5):.2f}")
    if args.screener:
        run = json.loads(args.screener.read_text())
        held = set(run["report"]["heldout_brands"])
        print("| brands | photos | named | covered | named, where covered | named, where not |")
        print("|---|---|---|---|---|---|")
        for label, want in (("trained", False), ("held-out", True)):
            keys = [(p, b) for (p, b) in covered if (b in held) == want and p in run["truth"]]
            named = {k: k[1] in run["named"].get(k[0], []) for k in keys}
            # a photo counts once per brand group, as logo_halves.py counts recall
            per_photo: dict[str, tuple[bool, bool]] = {}
            for (p, b) in keys:
                n, c = per_photo.get(p, (False, False))
                per_photo[p] = (n or named[(p, b)], c or covered[(p, b)])
            v = np.array(list(per_photo.values()), bool)
            yes, no = v[v[:, 1]], v[~v[:, 1]]
            print(f"| {label} | {len(v)} | {v[:, 0].mean():.3f} | {v[:, 1].mean():.3f} ({len(yes)}) | "
                  f"{yes[:, 0].mean() if len(yes) else 0:.2f} | {no[:, 0].mean() if len(no) else 0:.2f} ({len(no)}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
