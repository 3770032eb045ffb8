"""Crops of the held-out dev brands: the measurement a trunk head is judged by.

The same protocol as ``benchmarks/trunk_crops.py``: for each of the five held-out brands
(``flickr_split``, never trained on) the 5 largest boxes are the references, its boxes in other
photos the queries; impostors are the other brands' references and random windows of ICDAR street
photos of the ``report`` half. A query's score for a brand is its best cosine over that brand's
references. top-1: the best brand is the query's own; TAR @ FAR f: genuine scores above the
threshold that only a share f of the impostor scores reach.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

Item = tuple[Path, tuple[float, float, float, float]]


@dataclass(frozen=True)
class HeldOutCrops:
    """The held-out brands' references and queries, and the report-half clutter windows."""

    brands: tuple[str, ...]
    refs: tuple[Item, ...]
    ref_brand: np.ndarray
    queries: tuple[Item, ...]
    query_brand: np.ndarray
    clutter: tuple[Item, ...]


def heldout_crops(flickr: Path, icdar: Path, clutter: int = 1500) -> HeldOutCrops:
    from .data import evaluation_half, flickr_split
    from .trunk_head import clutter_boxes

    split = flickr_split(flickr)
    images = flickr / "images"
    held = sorted(split.heldout_brands)
    by_brand: dict[str, list] = defaultdict(list)
    for b in split.boxes:
        if b.brand in held:
            by_brand[b.brand].append(b)
    refs, queries = [], []
    for bi, brand in enumerate(held):
        boxes = sorted(by_brand[brand], key=lambda b: -(b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))
        ref_photos = {b.image for b in boxes[:5]}
        refs += [(images / b.image, b.box, bi) for b in boxes[:5]]
        queries += [(images / b.image, b.box, bi) for b in boxes[5:] if b.image not in ref_photos]
    street = sorted((icdar / "images").glob("*.jpg"))
    windows = clutter_boxes([p for p in street if evaluation_half(p.name) == "report"], clutter, 1)
    return HeldOutCrops(tuple(held), tuple((p, b) for p, b, _ in refs), np.array([k for *_, k in refs]),
                        tuple((p, b) for p, b, _ in queries), np.array([k for *_, k in queries]),
                        tuple(windows))


def brand_scores(vectors: np.ndarray, refs: np.ndarray, ref_brand: np.ndarray, n_brands: int) -> np.ndarray:
    sim = vectors @ refs.T
    return np.stack([sim[:, ref_brand == b].max(axis=1) for b in range(n_brands)], axis=1)


def crop_metrics(refs: np.ndarray, ref_brand: np.ndarray, queries: np.ndarray, query_brand: np.ndarray,
                 clutter: np.ndarray) -> dict[str, float]:
    """top-1 and TAR @ FAR 1e-2 / 1e-3 of unit embeddings (see the module docstring)."""
    n = int(ref_brand.max()) + 1
    q = brand_scores(queries, refs, ref_brand, n)
    c = brand_scores(clutter, refs, ref_brand, n)
    genuine = q[np.arange(len(q)), query_brand]
    other = q[np.arange(n)[None, :] != query_brand[:, None]]
    impostors = np.concatenate([other, c.ravel()])
    out: dict[str, float] = {"top1": float(np.mean(q.argmax(axis=1) == query_brand)), "queries": int(len(q)),
                             "impostors": int(len(impostors))}
    for far in (1e-2, 1e-3):
        thr = float(np.quantile(impostors, 1.0 - far))
        out[f"tar@{far:g}"] = float(np.mean(genuine > thr))
    return out
