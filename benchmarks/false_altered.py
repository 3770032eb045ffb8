"""False ``altered_brand_name`` flags on real photos that advertise no counterfeit.

Usage::

    python benchmarks/false_altered.py ../shared/data/icdar2015-dev [--engine rapidocr tesseract bare]
                                       [--limit N] [--cache DIR]

The 300 ICDAR 2015 dev photos (malls and streets) carry ordinary signs, not knock-offs, so every
``altered_brand_name`` flag on them is a false alarm. We register 20 common brand names (the
FlickrLogos-27 dev brands: names only, no logos) and run the screener's policy on

- ``groundtruth``: the photos' own transcriptions as if OCR were perfect (one hit per box), which
  isolates the name matcher, and
- each OCR engine's output, read through ``benchmarks/ocr_icdar.py`` and its per-photo cache
  (run that script first to fill the cache; missing photos are read here).

Reported per source: photos with at least one false altered flag (rate over all photos), the
number of flags, and each flagged text with the brand it was taken for; exact ``brand_mark``
flags are counted too (real brands do appear on these streets).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ocr_icdar import DEFAULT_CACHE, photo_ids, run  # noqa: E402

# The 20 FlickrLogos-27 dev brands (../shared/data/README.md), written as a brand team would.
BRANDS = ("Adidas", "BMW", "Citroen", "Cocacola", "DHL", "Fedex", "Ford", "Google", "HP", "Intel",
          "McDonalds", "Mini", "Nike", "Pepsi", "Porsche", "Puma", "RedBull", "Sprite", "Unicef",
          "Yahoo")


def ground_truth_hits(data_dir: Path, photo: str):
    """The photo's transcriptions as text hits (box from the quad, confidence 1)."""
    from screener.types import TextHit

    hits = []
    path = data_dir / "gt" / f"gt_{photo}.txt"
    for line in path.read_text(encoding="utf-8-sig").splitlines():
        parts = line.strip().split(",", 8)
        if len(parts) < 9 or parts[8] == "###":
            continue
        xs = [int(float(v)) for v in parts[0:8:2]]
        ys = [int(float(v)) for v in parts[1:8:2]]
        hits.append(TextHit(parts[8], (min(xs), min(ys), max(xs), max(ys)), 1.0))
    return hits


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--engine", nargs="*", default=["rapidocr", "tesseract", "bare"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--skip", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args(argv)

    from screener.brands import Brand, BrandRegistry
    from screener.config import Config
    from screener.policy import Policy
    from screener.types import ALTERED_BRAND_NAME, BRAND_MARK, TextHit

    registry = BrandRegistry(tempfile.mkdtemp(prefix="false-altered-"),
                             [Brand(name) for name in BRANDS])
    policy = Policy(registry, Config())
    ids = photo_ids(args.data_dir, args.limit, args.skip)
    # Fill (or reuse) the OCR cache; the word-spotting tallies are not needed here.
    if args.engine:
        run(args.data_dir, args.engine, args.limit, args.threads, args.cache, progress=False,
            skip=args.skip)

    sources = ["groundtruth", *args.engine]
    for source in sources:
        flagged_photos, altered, exact = 0, Counter(), Counter()
        for photo in ids:
            if source == "groundtruth":
                hits = ground_truth_hits(args.data_dir, photo)
            else:
                import json

                record = json.loads((args.cache / source / f"{photo}.json").read_text())
                hits = [TextHit.from_dict(h) for h in record["hits"]]
            flags = policy(hits).flags
            bad = [f for f in flags if f.kind == ALTERED_BRAND_NAME]
            flagged_photos += bool(bad)
            altered.update(f"{f.text!r}->{f.brand}" for f in bad)
            exact.update(f"{f.text!r}={f.brand}" for f in flags if f.kind == BRAND_MARK)
        print(f"{source:<12} photos={len(ids)} photos_with_false_altered={flagged_photos} "
              f"rate={flagged_photos / len(ids):.3f} altered_flags={sum(altered.values())} "
              f"brand_marks={sum(exact.values())}")
        if altered:
            print("    altered: " + ", ".join(f"{k} x{v}" if v > 1 else k
                                              for k, v in altered.most_common()))
        if exact:
            print("    exact:   " + ", ".join(f"{k} x{v}" if v > 1 else k
                                              for k, v in exact.most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
