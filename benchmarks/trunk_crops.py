"""Crops of brands no network trained on: the shipped networks vs a pretrained trunk (raw, whitened).

The FlickrLogos-27 dev split's five held-out brands (``flickr_split``): for each brand the 5
largest boxes are the references, its boxes in other photos the queries. Impostors are the other
brands' references and random windows of ICDAR street photos of the ``report`` half (clutter).
A query's score for a brand is its best cosine over that brand's references.

- top-1: the query's best brand is its own;
- TAR @ FAR f: genuine scores (query vs its brand) above the threshold that only a share f of the
  impostor scores (query vs other brands, clutter vs every brand) reach.

The whitening is fitted only on the *trained* brands' training-photo boxes and clutter windows of
ICDAR ``fit``-half photos: never on a held-out brand (whitening on a brand's own crops flattens the
directions that tell it apart, issue 16).

    python benchmarks/trunk_crops.py --flickr ../shared/data/flickrlogos27-dev \
        --icdar ../shared/data/icdar2015-dev [--trunks trunk-effnet-lite0,trunk-effnet-lite2] [--size 128]
        [--models DIR] [--json out.json]

Trunk features are cached under ``--cache`` (default runs/trunk_crops), so reruns are cheap.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.config import Config  # noqa: E402
from screener.errors import ModelError  # noqa: E402
from screener.logo.trunk import load_trunk, pooled_crops, unit  # noqa: E402
from screener.train.data import evaluation_half, flickr_split  # noqa: E402
from screener.train.trunk_eval import crop_metrics, heldout_crops  # noqa: E402
from screener.train.trunk_head import clutter_boxes, cut_all, fit_whitening  # noqa: E402


# --- features -------------------------------------------------------------------------------------
def whiten(x: np.ndarray, mean: np.ndarray, projection: np.ndarray) -> np.ndarray:
    return unit((x - mean) @ projection)


# --- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flickr", type=Path, required=True)
    parser.add_argument("--icdar", type=Path, required=True)
    parser.add_argument("--trunks", default="trunk-opennsfw,trunk-effnet-lite0")
    parser.add_argument("--size", type=int, default=128, help="crop side fed to a trunk")
    parser.add_argument("--clutter", type=int, default=1500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path("runs/trunk_crops"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--models", type=Path, default=None,
                        help="models folder holding the trunks' manifest entries (default: the package's); "
                             "candidates exported with `python -m screener.train.trunk_export --out DIR --manifest`")
    args = parser.parse_args(argv)

    # The held-out brands' references, queries and report-half clutter: the protocol the trunk
    # head is judged by (screener.train.trunk_eval), so both report the same crops.
    held = heldout_crops(args.flickr, args.icdar, args.clutter)
    split = flickr_split(args.flickr)
    images = args.flickr / "images"
    trained = sorted(split.train_brands)
    fit_boxes = [(images / b.image, b.box) for b in split.train_boxes
                 if b.brand in trained and min(b.box[2] - b.box[0], b.box[3] - b.box[1]) >= 8]
    street = sorted((args.icdar / "images").glob("*.jpg"))
    fit_clutter = clutter_boxes([p for p in street if evaluation_half(p.name) == "fit"], args.clutter, 2)
    sets = {"refs": list(held.refs), "queries": list(held.queries), "clutter": list(held.clutter),
            "fit": fit_boxes, "fit_clutter": fit_clutter}
    ref_brand, query_brand = held.ref_brand, held.query_brand
    print(f"held-out brands {list(held.brands)}: {len(held.refs)} references, {len(held.queries)} queries, "
          f"{len(held.clutter)} clutter windows (report half); fit: {len(fit_boxes)} trained-brand boxes "
          f"+ {len(fit_clutter)} windows (fit half)", file=sys.stderr)

    args.cache.mkdir(parents=True, exist_ok=True)

    def features(method: str, embed, size: int) -> dict[str, np.ndarray]:
        out = {}
        for name, items in sets.items():
            path = args.cache / f"{method}-{size}-{name}-{len(items)}.npy"
            if path.exists():
                out[name] = np.load(path)
                continue
            t0 = time.perf_counter()
            crops = cut_all(items, size)
            t1 = time.perf_counter()
            out[name] = embed(crops)
            t2 = time.perf_counter()
            np.save(path, out[name])
            print(f"{method} {name}: {len(items)} crops, cut {t1 - t0:.1f} s, embed {(t2 - t1) / max(1, len(items)) * 1e3:.1f} ms/crop",
                  file=sys.stderr)
        return out

    rows: list[dict] = []

    def report(label: str, f: dict[str, np.ndarray]) -> None:
        m = crop_metrics(f["refs"], ref_brand, f["queries"], query_brand, f["clutter"])
        m["embedding"] = label
        rows.append(m)
        print(f"| {label} | {m['top1']:.3f} | {m['tar@0.01']:.3f} | {m['tar@0.001']:.3f} |")

    from screener.logo.weights import load_embedder

    shipped = load_embedder("logo-embed", threads=args.threads)
    print("| embedding | top-1 brand | TAR @ FAR 1e-2 | TAR @ FAR 1e-3 |\n|---|---|---|---|")
    report("shipped logo-embed (64 px)", features("logo-embed", shipped.embed, shipped.size))
    for name in [t for t in args.trunks.split(",") if t]:
        try:
            trunk = load_trunk(name, args.models, threads=args.threads)
        except ModelError as exc:  # a candidate whose wheel is not installed
            print(f"trunk_crops.py: skipping {name}: {exc}", file=sys.stderr)
            continue
        raw = features(name, lambda crops: pooled_crops(trunk, crops), args.size)
        n4 = trunk.maps(np.zeros((1, 64, 64, 3), np.uint8))[0].shape[1]  # stage 4's width
        last = {k: unit(v[:, n4:]) for k, v in raw.items()}
        report(f"{name} stage 5 GeM, {args.size} px, no training", last)
        both = {k: unit(v) for k, v in raw.items()}
        report(f"{name} stages 4+5 GeM, {args.size} px, no training", both)
        fit = np.concatenate([both["fit"], both["fit_clutter"]])
        for dims in (128, 256, both["fit"].shape[1]):
            mean, proj = fit_whitening(fit, dims)
            report(f"{name} stages 4+5 + PCA whitening {dims}-d (fit: trained brands + fit-half clutter)",
                   {k: whiten(v, mean, proj) for k, v in both.items()})
    network = Config().logo.model  # the shipped default network, as the logo stage runs it
    embedder = load_embedder(network, threads=args.threads)
    report(f"shipped {network} ({embedder.spec.arch}, trained here)", features(network, embedder.embed, embedder.size))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
