"""One clean logo file per brand against real crops of its mark: which shipped network matches them.

Issue 16's one-shot protocol registers each brand from its owner's clean logo file. Here each of
the FlickrLogos-27 dev brands that has a simple-icons mark of the same name (the ``train`` extra's
``simple-icons-pack``, CC0; ``screener.train.icons.published_logo_files``, matched by folded name)
is registered from that file alone, embedded as the logo stage embeds a reference
(``reference_variants``: margins, light / grey / dark grounds, a low-resolution copy). Queries are
the brands' boxes in photos no network trained on (``flickr_split``), of one ``evaluation_half``;
impostors are the other brands and random windows of the same half's ICDAR street photos. Scores
are raw cosine, a query's score for a brand its best over the brand's variants
(``screener.train.trunk_eval.crop_metrics``: top-1, TAR @ FAR 1e-2 / 1e-3), over every brand's
queries and over the held-out brands' alone (never a training identity of any network).

    python benchmarks/logo_file_crops.py --flickr ../shared/data/flickrlogos27-dev \
        --icdar ../shared/data/icdar2015-dev [--half fit|report] [--networks logo-embed,logo-trunk-tuned]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.logo.matcher import reference_variants  # noqa: E402
from screener.logo.weights import MODELS_DIR, load_embedder  # noqa: E402
from screener.train.data import evaluation_half, flickr_split  # noqa: E402
from screener.train.trunk_eval import crop_metrics  # noqa: E402
from screener.train.trunk_head import clutter_boxes, cut_all  # noqa: E402

NETWORKS = "logo-embed,logo-trunk-tuned"
MIN_SIDE = 16  # query boxes smaller than this (photo pixels) are not scored


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flickr", type=Path, required=True)
    parser.add_argument("--icdar", type=Path, required=True)
    parser.add_argument("--half", choices=("fit", "report"), default="report")
    parser.add_argument("--networks", default=NETWORKS)
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--clutter", type=int, default=1500, help="street windows (impostors)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    from screener.train.icons import published_logo_files  # the train extra

    split = flickr_split(args.flickr)
    files = published_logo_files(sorted({b.brand for b in split.boxes}))
    brands = sorted(files)
    queries = [b for b in split.boxes if b.brand in files and b.image not in split.train_photos
               and evaluation_half(b.image) == args.half
               and min(b.box[2] - b.box[0], b.box[3] - b.box[1]) >= MIN_SIDE]
    query_brand = np.array([brands.index(b.brand) for b in queries])
    held = np.isin(query_brand, [brands.index(b) for b in split.heldout_brands if b in files])
    street = [p for p in sorted((args.icdar / "images").glob("*.jpg")) if evaluation_half(p.name) == args.half]
    clutter = clutter_boxes(street, args.clutter, 1)
    items = [(args.flickr / "images" / b.image, b.box) for b in queries]
    print(f"{len(brands)} brands registered from a logo file; {len(queries)} query crops "
          f"({int(held.sum())} of held-out brands: {', '.join(b for b in split.heldout_brands if b in files)}); "
          f"{len(clutter)} street windows; {args.half} half", file=sys.stderr)
    print("| network | all brands: top-1 | TAR @ 1e-2 | TAR @ 1e-3 | held-out brands: top-1 | TAR @ 1e-2 | TAR @ 1e-3 |")
    print("|---|---|---|---|---|---|---|")
    for name in args.networks.split(","):
        embedder = load_embedder(name, args.models, threads=args.threads)
        refs, ref_brand = [], []
        for k, brand in enumerate(brands):
            bgra = files[brand]
            variants = embedder.embed(reference_variants(cv2.cvtColor(bgra[..., :3], cv2.COLOR_BGR2RGB),
                                                         bgra[..., 3], embedder.size))
            refs.append(variants)
            ref_brand += [k] * len(variants)
        ref_vectors, ref_index = np.concatenate(refs), np.array(ref_brand)
        q = embedder.embed(cut_all(items, embedder.size))
        c = embedder.embed(cut_all(clutter, embedder.size))
        every = crop_metrics(ref_vectors, ref_index, q, query_brand, c)
        unseen = crop_metrics(ref_vectors, ref_index, q[held], query_brand[held], c)
        print(f"| {name} | {every['top1']:.3f} | {every['tar@0.01']:.3f} | {every['tar@0.001']:.3f} "
              f"| {unseen['top1']:.3f} | {unseen['tar@0.01']:.3f} | {unseen['tar@0.001']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
