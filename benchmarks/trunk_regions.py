"""Region features for the trunk: one crop per window vs one trunk pass per photo + ROI pooling.

Both modes score the same sliding windows (``screener.logo.matcher.window_candidates`` on the
640 px working copy) against the same references (5 per brand, ``logo_flickr.py``'s choice,
embedded through ``--model``'s trunk and head, the default network unless named), with no refinement, text, SIFT or alignment:

- ``crops``: each window squashed to 128 px and run through trunk + head (what the logo stage
  did before windows were pooled), for the ``--crops`` densest windows;
- ``pooled``: the trunk runs over the working copy at a few scales (``--scales``); every window
  is GeM-pooled from the stage-4 and stage-5 maps of the scale where its short side comes closest
  to 128 px (integral images of x^p, so thousands of windows cost almost nothing), then the head;
- ``proposed``: ``pooled`` proposes, and only its ``--propose`` best windows (by their best
  brand's score) are re-embedded as crops and scored; the cost is one pooled pass plus a few crops.

Photos: the ``fit`` half (``evaluation_half``) of the FlickrLogos test photos and of the ICDAR
street photos. Reported per mode: recall / precision on logo photos at the lowest threshold with
at most ``--max-false`` false brands per 100 street photos, and milliseconds per photo.

    python benchmarks/trunk_regions.py ../shared/data/flickrlogos27-dev ../shared/data/icdar2015-dev
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from screener.train.data import choose_references  # noqa: E402
from screener.logo.matcher import cut, window_candidates, working_copy  # noqa: E402
from screener.logo.trunk import PooledRegions  # noqa: E402
from screener.logo.weights import load_embedder  # noqa: E402
from screener.train.data import evaluation_half, flickr_split, read_boxes  # noqa: E402


def pooled_windows(embedder, work: np.ndarray, boxes: np.ndarray, scales: tuple[float, ...],
                   target: float = 128.0, p: float = 3.0) -> np.ndarray:
    """Head embeddings of ``boxes`` (work-image coordinates) from whole-image trunk passes: the
    stage's own ROI pooling (:class:`screener.logo.trunk.PooledRegions`)."""
    return embedder._head(PooledRegions(embedder.trunk, work, scales, target, p).descriptors(boxes))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("flickr", type=Path)
    parser.add_argument("icdar", type=Path)
    parser.add_argument("--crops", type=int, default=200, help="windows embedded as crops per photo")
    parser.add_argument("--windows", type=int, default=2000, help="windows pooled per photo")
    parser.add_argument("--scales", default="2,1,0.5,0.25")
    parser.add_argument("--limit", type=int, default=60, help="photos of each kind (logo, street)")
    parser.add_argument("--max-false", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--normalise", action="store_true", help="subtract each window's similarity to street clutter")
    parser.add_argument("--k", type=int, default=10, help="bank neighbours for --normalise")
    parser.add_argument("--model", default="logo-trunk-tuned", help="a trunk + head logo network")
    parser.add_argument("--propose", type=int, default=24, help="pooled windows re-embedded as crops (proposed)")
    parser.add_argument("--per-brand", type=int, default=0, help="and each brand's best pooled windows (proposed)")
    args = parser.parse_args(argv)
    scales = tuple(float(s) for s in args.scales.split(","))
    cv2.setNumThreads(args.threads)

    embedder = load_embedder(args.model, threads=args.threads)
    split = flickr_split(args.flickr)
    boxes = read_boxes(args.flickr)
    brands = sorted({b.brand for b in boxes})
    refs = {**choose_references(boxes, split.train_brands, 5, 0, split.train_photos),
            **choose_references(boxes, split.heldout_brands, 5, 0)}
    ref_photos = {b.image for v in refs.values() for b in v}
    ref_vecs, ref_brand = [], []
    for bi, brand in enumerate(brands):
        for b in refs[brand]:
            rgb = cv2.cvtColor(cv2.imread(str(args.flickr / "images" / b.image)), cv2.COLOR_BGR2RGB)
            x1, y1, x2, y2 = b.box
            ref_vecs.append(cv2.resize(rgb[y1:y2, x1:x2], (embedder.size, embedder.size), interpolation=cv2.INTER_AREA))
            ref_brand.append(bi)
    R = embedder.embed(np.stack(ref_vecs))
    ref_brand_a = np.asarray(ref_brand)
    truth: dict[str, set[str]] = defaultdict(set)
    for b in boxes:
        truth[b.image].add(b.brand)
    logo = [p for p in sorted(truth) if p not in split.train_photos and p not in ref_photos
            and evaluation_half(p) == "fit"][:args.limit]
    street = [p for p in sorted((args.icdar / "images").glob("*.jpg")) if evaluation_half(p.name) == "fit"][:args.limit]
    # (the bank photos below are the fit-half street photos after these)
    photos = [(p, args.flickr / "images" / p) for p in logo] + [(f"icdar/{p.name}", p) for p in street]
    print(f"{len(logo)} logo photos, {len(street)} street photos (fit half); scales {scales}", file=sys.stderr)

    def window_vectors(mode: str, work: np.ndarray, budget: int) -> np.ndarray:
        wins = window_candidates(work, budget)
        if mode == "crops":
            return embedder.embed(cut(work, wins, embedder.size))
        return pooled_windows(embedder, work, wins, scales)

    def read_working_copy(path: Path) -> np.ndarray:
        return working_copy(cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB))[0]

    # Hubness bank (``--normalise``): windows of fit-half street photos *not* screened here. A
    # window's score for a reference loses its mean similarity to its ``k`` nearest bank windows,
    # so windows that look like street clutter in general must beat clutter to score.
    fit_street = [p for p in sorted((args.icdar / "images").glob("*.jpg")) if evaluation_half(p.name) == "fit"]
    bank_photos = fit_street[args.limit:]
    banks: dict[str, np.ndarray] = {}
    if args.normalise:
        rng = np.random.default_rng(0)
        for mode in ("crops", "pooled"):
            parts = []
            for path in bank_photos:
                v = window_vectors(mode, read_working_copy(path), 200)
                parts.append(v[rng.choice(len(v), size=min(len(v), 20), replace=False)])
            banks[mode] = np.concatenate(parts)
        print(f"hubness banks: {len(bank_photos)} photos, {len(banks['crops'])} windows", file=sys.stderr)

    best: dict[str, dict[str, np.ndarray]] = {"crops": {}, "pooled": {}, "proposed": {}}
    seconds: dict[str, list[float]] = {"crops": [], "pooled": [], "proposed": []}
    for name, path in photos:
        work = read_working_copy(path)
        for mode, budget in (("crops", args.crops), ("pooled", args.windows), ("proposed", args.windows)):
            t0 = time.perf_counter()
            if mode == "proposed":
                wins = window_candidates(work, budget)
                pooled = pooled_windows(embedder, work, wins, scales)
                psim = pooled @ R.T
                chosen_rows = set(np.argsort(-psim.max(axis=1))[:args.propose].tolist())
                for b in range(len(brands)):  # and each brand's own best pooled windows
                    chosen_rows.update(np.argsort(-psim[:, ref_brand_a == b].max(axis=1))[:args.per_brand].tolist())
                top = np.asarray(sorted(chosen_rows))
                v = embedder.embed(cut(work, wins[top], embedder.size))
            else:
                v = window_vectors(mode, work, budget)
            raw = v @ R.T
            seconds[mode].append(time.perf_counter() - t0)
            variants = {mode: raw}
            if args.normalise and mode in banks:
                near = np.sort(v @ banks[mode].T, axis=1)[:, -args.k:]
                variants[f"{mode}+hubness"] = raw - near.mean(axis=1, keepdims=True)
            for key, sim in variants.items():
                per_brand = np.stack([sim[:, ref_brand_a == b].max(axis=1) for b in range(len(brands))], axis=1)
                # One region, one brand: a window votes only for its best brand.
                top = per_brand.argmax(axis=1)
                score = np.full(len(brands), -1.0, np.float32)
                for b in range(len(brands)):
                    rows = top == b
                    if rows.any():
                        score[b] = per_brand[rows, b].max()
                best.setdefault(key, {})[name] = score

    street_names = [f"icdar/{p.name}" for p in street]
    print("| mode | windows per photo | ms per photo | threshold (<= %.1f false / 100 street) | recall | precision |" % args.max_false)
    print("|---|---|---|---|---|---|")
    for mode in best:
        values = np.unique(np.concatenate([v for v in best[mode].values()]))
        chosen = 1.01
        for t in values:
            false = sum(int((best[mode][p] >= t).sum()) for p in street_names)
            if 100 * false / max(1, len(street_names)) <= args.max_false:
                chosen = float(t)
                break
        found = tp = reported = 0
        for p in logo:
            got = {brands[b] for b in np.nonzero(best[mode][p] >= chosen)[0]}
            reported += len(got)
            tp += len(got & truth[p])
            found += bool(got & truth[p])
        base = mode.split("+")[0]
        budget = {"crops": args.crops, "pooled": args.windows}.get(base, f"{args.windows} -> {args.propose} + {args.per_brand}/brand")
        print(f"| {mode} | {budget} | {1e3 * np.mean(seconds[base]):.0f} | {chosen:.3f} | "
              f"{found / max(1, len(logo)):.3f} | {tp / reported if reported else 1.0:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
