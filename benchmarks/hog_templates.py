"""Probe: whitened HOG exemplar templates as a training-free logo detector (not part of the screener).

Each reference crop (the same 5 per brand as ``logo_flickr.py``) becomes an exemplar LDA template
(Hariharan, Malik & Ramanan 2012): HOG of the crop at ``--cells`` cells on its long side, whitened
by the mean and spatial covariance of HOG on half the network's training photos, scaled so the
reference itself scores 1 and the background's mean 0. Templates slide over each photo at 4 sizes
per octave. A brand is reported where any of its templates reaches a score; the table also adds
these brands to a screener run (``logo_flickr.py --json``). Results: BENCHMARKS.md.

    python benchmarks/hog_templates.py ../shared/data/flickrlogos27-dev --icdar ../shared/data/icdar2015-dev \
        --screener out.json --json hog.json [--min-logo 64 --max-side 640]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from screener.train.data import benchmark_photos, flickr_split  # noqa: E402

CELL = 8  # pixels per HOG cell
BINS = 9  # unsigned orientations


def hog(grey: np.ndarray) -> np.ndarray:
    """cells_y x cells_x x 36: orientation histograms under 4 block normalisations, clipped at 0.2."""
    g = grey.astype(np.float32)
    gx, gy = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=1), cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=1)
    mag = np.sqrt(gx * gx + gy * gy)
    ang = (np.arctan2(gy, gx) % np.pi) * (BINS / np.pi)
    b0 = np.floor(ang).astype(np.int32) % BINS
    w1 = ang - np.floor(ang)
    b1 = (b0 + 1) % BINS
    ch, cw = g.shape[0] // CELL, g.shape[1] // CELL
    hist = np.zeros((BINS, ch, cw), np.float32)
    for b in range(BINS):
        m = mag * ((b0 == b) * (1 - w1) + (b1 == b) * w1)
        hist[b] = m[:ch * CELL, :cw * CELL].reshape(ch, CELL, cw, CELL).sum((1, 3))
    energy = np.pad((hist ** 2).sum(0), 1, mode="edge")
    blocks = energy[:-1, :-1] + energy[1:, :-1] + energy[:-1, 1:] + energy[1:, 1:]
    feats = [np.minimum(hist / np.sqrt(blocks[dy:dy + ch, dx:dx + cw] + 1e-4), 0.2) for dy in (0, 1) for dx in (0, 1)]
    return np.concatenate(feats, 0).transpose(1, 2, 0).copy()


def grey_of(path: Path) -> np.ndarray:
    image = cv2.imread(str(path))  # colour, then grey: the conversion the measured run used
    if image is None:
        raise SystemExit(f"hog_templates.py: cannot read {path} as an image")
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def background_stats(greys: list[np.ndarray], reach: int) -> tuple[np.ndarray, np.ndarray]:
    """HOG's mean and its covariance between cells up to ``reach`` - 1 apart."""
    d = 4 * BINS
    maps = []
    for g in greys:
        for s in (1.0, 0.6, 0.36):
            gi = g if s == 1 else cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
            if min(gi.shape) >= CELL * (reach + 2):
                maps.append(hog(gi))
    mu = np.concatenate([f.reshape(-1, d) for f in maps]).mean(0)
    cov = np.zeros((reach, 2 * reach - 1, d, d))
    count = np.zeros((reach, 2 * reach - 1))
    for f in maps:
        f = f - mu
        h, w, _ = f.shape
        for dy in range(reach):
            for j, dx in enumerate(range(-reach + 1, reach)):
                a = f[0:h - dy, max(0, -dx):w - max(0, dx)].reshape(-1, d)
                b = f[dy:h, max(0, dx):w + min(0, dx)].reshape(-1, d)
                cov[dy, j] += a.T @ b
                count[dy, j] += len(a)
    return mu, cov / count[..., None, None]


def covariance(cov: np.ndarray, th: int, tw: int, reach: int) -> np.ndarray:
    d = cov.shape[-1]
    cells = [(y, x) for y in range(th) for x in range(tw)]
    out = np.zeros((len(cells) * d, len(cells) * d))
    for i, (y1, x1) in enumerate(cells):
        for j, (y2, x2) in enumerate(cells):
            dy, dx = y2 - y1, x2 - x1
            out[i * d:(i + 1) * d, j * d:(j + 1) * d] = (cov[dy, dx + reach - 1] if dy >= 0
                                                         else cov[-dy, -dx + reach - 1].T)
    return out


def templates(data: Path, references, mu, cov, cells: int, ridge: float):
    """{(th, tw): [(brand, weights, index)]} and one (brand, photo, self-score) per template."""
    by_shape, table, cached = defaultdict(list), [], {}
    for brand in sorted(references):
        for ref in references[brand]:
            x1, y1, x2, y2 = ref.box
            crop = grey_of(data / "images" / ref.image)[y1:y2, x1:x2]
            h, w = crop.shape
            th, tw = ((int(np.clip(round(cells * h / w), 3, cells)), cells) if w >= h
                      else (cells, int(np.clip(round(cells * w / h), 3, cells))))
            f = hog(cv2.resize(crop, (tw * CELL + 2, th * CELL + 2), interpolation=cv2.INTER_AREA))[:th, :tw]
            if (th, tw) not in cached:
                cached[(th, tw)] = covariance(cov, th, tw, cells)
            sigma = cached[(th, tw)]
            x = (f - mu).reshape(-1)
            weights = np.linalg.solve(sigma + ridge * np.eye(len(sigma)) * np.mean(np.diag(sigma)), x)
            self_score = float(weights @ x)
            by_shape[(th, tw)].append((brand, weights / self_score, len(table)))
            table.append((brand, ref.image, self_score))
    return by_shape, table


def scan(args_tuple):
    """Best score of every template on each photo, and seconds per photo."""
    photos, by_shape, n, mu, cells, min_logo, max_side = args_tuple
    cv2.setNumThreads(1)
    out, secs = {}, {}
    for name, path in photos:
        t0 = time.time()
        g = grey_of(path)
        if max(g.shape) > max_side:
            f0 = max_side / max(g.shape)
            g = cv2.resize(g, None, fx=f0, fy=f0, interpolation=cv2.INTER_AREA)
        best = np.zeros(n)
        size = float(min_logo)
        while size <= max(g.shape) * 1.05:  # logo long side -> the templates' long side
            s = cells * CELL / size
            gi = cv2.resize(g, None, fx=s, fy=s, interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
            f = hog(gi) - mu
            for (th, tw), group in by_shape.items():
                if f.shape[0] < th or f.shape[1] < tw:
                    continue
                win = sliding_window_view(f, (th, tw), axis=(0, 1))
                win = win.transpose(0, 1, 3, 4, 2).reshape(win.shape[0] * win.shape[1], -1).astype(np.float32)
                scores = (win @ np.stack([w for _, w, _ in group], 1).astype(np.float32)).max(0)
                for (_, _, i), v in zip(group, scores):
                    best[i] = max(best[i], float(v))
            size *= 2 ** 0.25
        out[name], secs[name] = [round(float(v), 4) for v in best], time.time() - t0
    return out, secs


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--icdar", type=Path, required=True, help="logo-free photos (ICDAR 2015 dev)")
    parser.add_argument("--screener", type=Path, default=None, help="logo_flickr.py --json output to add to")
    parser.add_argument("--json", type=Path, default=None, help="write per-template scores here")
    parser.add_argument("--cells", type=int, default=8, help="template cells on the long side")
    parser.add_argument("--ridge", type=float, default=0.1)
    parser.add_argument("--min-logo", type=int, default=28, help="smallest logo side searched, pixels")
    parser.add_argument("--max-side", type=int, default=10 ** 9, help="photos reduced to this long side first")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    split = flickr_split(args.data, 5, 0.3, 0)
    protocol = benchmark_photos(args.data)
    references, truth, test = protocol.references, protocol.truth, protocol.photos
    mu, cov = background_stats([grey_of(args.data / "images" / p) for p in sorted(split.train_photos)[::2]],
                               args.cells)
    by_shape, table = templates(args.data, references, mu, cov, args.cells, args.ridge)
    photos = ([(p, args.data / "images" / p) for p in test]
              + [("icdar/" + p.name, p) for p in sorted((args.icdar / "images").glob("*.jpg"))])
    jobs = [(photos[k::args.workers], by_shape, len(table), mu, args.cells, args.min_logo, args.max_side)
            for k in range(args.workers)]
    found, secs = {}, {}
    with ProcessPoolExecutor(args.workers) as pool:
        for out, s in pool.map(scan, jobs):
            found.update(out)
            secs.update(s)
    if args.json:
        args.json.write_text(json.dumps({"templates": table, "found": found, "seconds": secs}))

    held = set(split.heldout_brands)
    groups = {"trained": [p for p in test if truth[p] - held], "held-out": [p for p in test if truth[p] & held]}
    street = [p for p in found if p.startswith("icdar/")]
    screener = ({k: set(v) for k, v in json.loads(args.screener.read_text())["combined"].items()}
                if args.screener else {})
    brand_of = np.array([t[0] for t in table])
    brands = sorted(set(brand_of))
    per_brand = {p: {b: float(np.max(np.array(v)[brand_of == b])) for b in brands} for p, v in found.items()}
    street_s = np.mean([secs[p] for p in street])
    logo_s = np.mean([secs[p] for p in test])
    print(f"{logo_s:.2f} s per FlickrLogos photo, {street_s:.2f} s per street photo (one core each)")
    print("| score | alone: trained R / P | held-out R / P | false marks / 100 street photos "
          "| added to the screener: trained, held-out |")
    for threshold in (0.34, 0.36, 0.38, 0.40, 0.42, 0.44):
        reported = {p: {b for b, v in s.items() if v >= threshold} for p, s in per_brand.items()}
        cells = []
        for photos_ in groups.values():
            def rate(rep):
                found_ = sum(bool(rep[p] & truth[p]) for p in photos_) / len(photos_)
                n = sum(len(rep[p]) for p in photos_)
                return found_, sum(len(rep[p] & truth[p]) for p in photos_) / max(1, n)
            cells.append(rate(reported))
            cells.append(rate({p: reported[p] | screener.get(p, set()) for p in photos_}))
        false = sum(len(reported[p]) for p in street) / len(street) * 100
        print(f"| {threshold:.2f} | {cells[0][0]:.2f} / {cells[0][1]:.2f} | {cells[2][0]:.2f} / {cells[2][1]:.2f} "
              f"| {false:.1f} | {cells[1][0]:.3f} / {cells[1][1]:.2f}, {cells[3][0]:.3f} / {cells[3][1]:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
