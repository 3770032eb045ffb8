"""How often SIFT's nearest-neighbour search finds the exact nearest reference descriptor, and at
what cost: OpenCV FLANN's kd-trees (what the matcher used before issue 16) against faiss's inverted
file (``IndexIVFFlat``, what it uses now) at several cell and probe counts.

Usage::

    python benchmarks/sift_index.py ../shared/data/flickrlogos27-dev [--photos 20]

The references are ``logo_flickr.py``'s (every FlickrLogos-27 dev brand from 5 seeded crops, with
the tilted views); the queries are the RootSIFT descriptors of the first ``--photos`` fitting-half
photos, as the matcher computes them. "top-1" is the share of queries whose first neighbour is the
exact nearest reference descriptor (faiss ``IndexFlatL2``), "top-8" the share of the exact 8
nearest among the 8 found. Times are one thread, per 3,000 queries (a photo gives 1,000-5,000).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.io import STAGE_MAX_SIDE, resize_for_stages  # noqa: E402
from screener.logo.sift import SiftMatcher, inverted_file, ivf_cells, root_sift  # noqa: E402
from screener.train.data import benchmark_photos, evaluation_half  # noqa: E402


def rgb_of(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("flickr", type=Path)
    parser.add_argument("--photos", type=int, default=20)
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    faiss.omp_set_num_threads(1)
    protocol = benchmark_photos(args.flickr)
    crops = protocol.reference_crops(args.flickr)
    matcher = SiftMatcher(crops)
    references = np.ascontiguousarray(matcher.ref_descriptors)
    queries = []
    for name in [p for p in protocol.photos if evaluation_half(p) == "fit"][:args.photos]:
        pixels, _ = resize_for_stages(rgb_of(args.flickr / "images" / name), STAGE_MAX_SIDE)
        grey = cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
        f = min(matcher.max_side / max(grey.shape), max(1.0, matcher.min_side / max(grey.shape)))
        grey = cv2.resize(grey, None, fx=f, fy=f)
        queries.append(root_sift(matcher.sift.detectAndCompute(grey, None)[1]))
    queries = np.ascontiguousarray(np.vstack(queries))
    exact = faiss.IndexFlatL2(128)
    exact.add(references)
    _, truth = exact.search(queries, 8)
    print(f"{len(references)} reference descriptors, {len(queries)} photo descriptors "
          f"(the matcher's rule: {ivf_cells(len(references))} cells)\n")
    print("| search | top-1 exact | top-8 exact | ms per 3,000 queries | build s |")
    print("|---|---|---|---|---|")

    def row(name: str, search, build: float) -> None:
        started = time.perf_counter()
        found = search()
        ms = 1000 * (time.perf_counter() - started) / len(queries) * 3000
        top1 = float(np.mean(found[:, 0] == truth[:, 0]))
        top8 = float(np.mean([len(set(a) & set(b)) / 8 for a, b in zip(found, truth)]))
        print(f"| {name} | {top1:.3f} | {top8:.3f} | {ms:.0f} | {build:.1f} |")

    for trees, checks in ((8, 64), (8, 128)):
        started = time.perf_counter()
        cv2.setRNGSeed(0)
        kd = cv2.flann_Index(references, {"algorithm": 1, "trees": trees})
        built = time.perf_counter() - started
        row(f"kd-trees, {trees} trees, {checks} checks",
            lambda: kd.knnSearch(queries, 8, params={"checks": checks})[0], built)
    for cells in sorted({256, 1024, 4096, ivf_cells(len(references))}):
        started = time.perf_counter()
        ivf = inverted_file(references, cells, storage=None)
        built = time.perf_counter() - started
        for probes in (4, 8, 16):
            ivf.nprobe = probes
            row(f"inverted file, {cells} cells, {probes} probes", lambda: ivf.search(queries, 8)[1], built)
    # Descriptors stored in 8 or 16 bits a dimension instead of 32: a quarter or half the file to
    # map and read per probe, at approximate distances.
    cells = ivf_cells(len(references))
    for label, kind in (("8-bit", faiss.ScalarQuantizer.QT_8bit), ("16-bit float", faiss.ScalarQuantizer.QT_fp16)):
        started = time.perf_counter()
        sq = inverted_file(references, cells, storage=kind, probes=8)
        built = time.perf_counter() - started
        row(f"inverted file, {cells} cells, 8 probes, {label} descriptors", lambda: sq.search(queries, 8)[1], built)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
