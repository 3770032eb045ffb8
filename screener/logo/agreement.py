"""Cell-by-cell agreement between a reference logo and a photo region already aligned onto it.

Both verifiers (:mod:`screener.logo.sift`, :mod:`screener.logo.align`) end here: a genuine mark
agrees with its reference in every cell, an imitation that keeps most of the mark but changes a
letter, a side of an emblem or its fill leaves a cell that disagrees. Cells are about
letter-sized; only cells where the reference has something drawn count; the score per cell is
the zero-mean normalised cross-correlation (1 = same, 0 = unrelated, -1 = inverted).
"""

from __future__ import annotations

import cv2
import numpy as np

CELL_MIN_CONTRAST = 12.0  # grey-level std: a reference cell flatter than this holds nothing to compare


def cell_agreement(reference: np.ndarray, aligned: np.ndarray, valid: np.ndarray,
                   min_cell: int = 24, blur: float = 1.5) -> tuple[float, float]:
    """Worst and median cell correlation of two same-sized grey images; (0, 0) when no cell counts.

    ``valid``: where ``aligned`` holds photo pixels (the rest fell outside the photo)."""
    h, w = reference.shape
    a = cv2.GaussianBlur(reference.astype(np.float32), (0, 0), blur)
    b = cv2.GaussianBlur(aligned.astype(np.float32), (0, 0), blur)
    cell = int(max(min_cell, min(min(h, w) / 2, max(h, w) / 6)))
    scores = []
    for y in range(0, h - cell // 2, cell):
        for x in range(0, w - cell // 2, cell):
            ca, cb = a[y:y + cell, x:x + cell], b[y:y + cell, x:x + cell]
            if valid[y:y + cell, x:x + cell].mean() < 0.8 or ca.std() < CELL_MIN_CONTRAST:
                continue
            da, db = ca - ca.mean(), cb - cb.mean()
            denominator = float(np.sqrt((da * da).sum() * (db * db).sum()))
            scores.append(float((da * db).sum() / denominator) if denominator > 1e-6 else 0.0)
    if not scores:
        return 0.0, 0.0
    return float(min(scores)), float(np.median(scores))


def soften_to(reference: np.ndarray, scale: float) -> np.ndarray:
    """The reference as it looks at ``scale`` times its size, brought back to its size: a small,
    soft mark in a photo is not punished for lacking detail it could never have had."""
    if scale >= 1.0:
        return reference
    h, w = reference.shape
    small = (max(4, int(w * scale)), max(4, int(h * scale)))
    return cv2.resize(cv2.resize(reference, small, interpolation=cv2.INTER_AREA), (w, h),
                      interpolation=cv2.INTER_LINEAR)
