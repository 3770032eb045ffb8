"""Where a photo's logos may be: the candidate regions the logo stage embeds.

Three sources, in working-copy pixels (x1, y1, x2, y2):

- **Sliding windows** (:func:`window_candidates`): several sizes and aspects, ranked by edge
  density (logos are compact, high-contrast regions; plain walls and sky are not), the best of
  each size kept, big windows first. They cover large marks in any scene, but their grid lands
  on a small mark only by chance.
- **Printed marks** (:func:`mark_candidates`): a mark printed on a product sits on a plainer
  surface, so its colour edges, closed over small gaps, form one connected region that touches
  nothing else. Its box fits the mark, whatever its size, which is what alignment needs; the
  stage aligns on these first and makes no network-only hit from them (the fitted decision
  weighs a region's share of the photo, learnt on windows).
- **Text neighbourhoods** (:func:`text_candidates`): OCR's words, and the space an emblem
  beside or above them would use.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from ..geometry import iou_many
from ..types import TextHit

SIZES = (0.13, 0.19, 0.27, 0.38, 0.54, 0.76, 1.0)  # window side (sqrt of area) / short side
ASPECTS = (1.0, 2.2, 0.55, 4.0)  # width / height
MIN_EDGE_DENSITY = 2.0  # mean Sobel magnitude (0-255 scale): flatter windows hold no mark
# Printed marks (mark_candidates), found at half the working copy's resolution (7 ms a photo
# against 28 at full, the same sample emblems framed): a colour edge is a Sobel magnitude over
# MARK_EDGE on any Lab channel (8-bit scale; a step of about 10 grey levels); gaps up to twice
# each of MARK_GAPS working-copy pixels are closed, so a mark of separate parts (bars, letters,
# rays) becomes one region at some gap. A region is a candidate when its side (sqrt of its box's
# area) is MARK_MIN_SIDE working-copy pixels to MARK_MAX_SHARE of the photo's short side, its
# aspect at most MARK_MAX_ASPECT, and it touches no border of the photo; its box grows by
# MARK_MARGIN a side. At most MARK_LIMIT a photo, the most solid and edge-dense first, none
# overlapping a kept one by IoU over MARK_IOU.
MARK_EDGE = 40.0
MARK_GAPS = (2, 6, 10)
MARK_MIN_SIDE = 12
MARK_MAX_SHARE = 0.6
MARK_MAX_ASPECT = 6.0
MARK_MARGIN = 0.03
MARK_LIMIT = 16
MARK_IOU = 0.7


def window_candidates(image: np.ndarray, budget: int) -> np.ndarray:
    """Sliding windows ranked by edge density; returns K x 4 float boxes (x1, y1, x2, y2)."""
    h, w = image.shape[:2]
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    edges = np.minimum(np.sqrt(gx * gx + gy * gy), 255.0)
    integral = cv2.integral(edges)  # (h/2+1) x (w/2+1)
    short = min(h, w)
    per_size: list[tuple[np.ndarray, np.ndarray]] = []
    for size in SIZES:
        boxes = []
        for aspect in ASPECTS:
            bw = size * short * np.sqrt(aspect)
            bh = size * short / np.sqrt(aspect)
            if bw > w * 1.02 or bh > h * 1.02 or bw < 12 or bh < 12:
                continue
            xs = np.arange(0, max(1.0, w - bw) + 1e-6, max(4.0, bw * 0.4))
            ys = np.arange(0, max(1.0, h - bh) + 1e-6, max(4.0, bh * 0.4))
            if xs[-1] < w - bw - 2:
                xs = np.append(xs, w - bw)
            if ys[-1] < h - bh - 2:
                ys = np.append(ys, h - bh)
            gx_, gy_ = np.meshgrid(xs, ys)
            x1, y1 = gx_.ravel(), gy_.ravel()
            boxes.append(np.stack([x1, y1, np.minimum(w, x1 + bw), np.minimum(h, y1 + bh)], axis=1))
        if not boxes:
            continue
        b = np.concatenate(boxes)
        # Edge density inside each window, on the half-resolution integral image.
        q = np.clip((b / 2).round().astype(np.int64), 0, [integral.shape[1] - 1, integral.shape[0] - 1] * 2)
        total = (integral[q[:, 3], q[:, 2]] - integral[q[:, 1], q[:, 2]] - integral[q[:, 3], q[:, 0]]
                 + integral[q[:, 1], q[:, 0]])
        area = np.maximum(1, (q[:, 2] - q[:, 0]) * (q[:, 3] - q[:, 1]))
        density = total / area
        keep = density >= MIN_EDGE_DENSITY
        per_size.append((b[keep], density[keep]))
    # Share the budget: every big window (few, cheap insurance), then the densest small ones.
    chosen: list[np.ndarray] = []
    remaining = budget
    for i, (b, density) in enumerate(reversed(per_size)):
        share = max(1, remaining // (len(per_size) - i))
        order = np.argsort(-density, kind="stable")[:share]
        chosen.append(b[order])
        remaining -= len(order)
    return np.concatenate(chosen) if chosen else np.zeros((0, 4))


def mark_candidates(image: np.ndarray, limit: int | None = None) -> np.ndarray:
    """Boxes of compact regions that stand out from their surround as a printed mark does (see
    the module doc); K x 4 float boxes, best first, at most ``limit`` (default ``MARK_LIMIT``,
    read at each call so a benchmark can turn the source off)."""
    limit = MARK_LIMIT if limit is None else limit
    if limit <= 0:
        return np.zeros((0, 4))
    half = cv2.resize(image, (max(8, image.shape[1] // 2), max(8, image.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    h, w = half.shape[:2]
    lab = cv2.cvtColor(half, cv2.COLOR_RGB2LAB).astype(np.float32)
    magnitude = np.zeros((h, w), np.float32)
    for c in range(3):
        gx = cv2.Sobel(lab[..., c], cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(lab[..., c], cv2.CV_32F, 0, 1, ksize=3)
        magnitude = np.maximum(magnitude, cv2.magnitude(gx, gy))
    edges = (magnitude > MARK_EDGE).astype(np.uint8)
    integral = cv2.integral(magnitude, sdepth=cv2.CV_64F)  # for each region's mean edge strength
    max_side = MARK_MAX_SHARE * min(h, w)
    found = []
    for gap in (max(1, g // 2) for g in MARK_GAPS):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * gap + 1, 2 * gap + 1))
        closed = cv2.morphologyEx(edges, cv2.MORPH_CLOSE, kernel)
        stats = cv2.connectedComponentsWithStats(closed, connectivity=8)[2][1:]  # row 0: the background
        x, y, bw, bh = (stats[:, k].astype(np.float64) for k in range(4))
        side = np.sqrt(bw * bh)
        keep = ((side >= MARK_MIN_SIDE / 2) & (side <= max_side) & (np.maximum(bw / bh, bh / bw) <= MARK_MAX_ASPECT)
                & (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h))  # one running off the photo is scene
        found.append(np.column_stack([x, y, bw, bh, stats[:, 4]])[keep])
    regions = np.concatenate(found)
    if len(regions) == 0:
        return np.zeros((0, 4))
    x, y, bw, bh, filled = regions.T
    x1, y1, x2, y2 = x.astype(int), y.astype(int), (x + bw).astype(int), (y + bh).astype(int)
    edge_sum = integral[y2, x2] - integral[y1, x2] - integral[y2, x1] + integral[y1, x1]
    strength = filled / (bw * bh) * edge_sum / (bw * bh)  # solid and edge-dense first
    boxes = np.column_stack([np.maximum(0.0, x - MARK_MARGIN * bw), np.maximum(0.0, y - MARK_MARGIN * bh),
                             np.minimum(float(w), x + bw + MARK_MARGIN * bw),
                             np.minimum(float(h), y + bh + MARK_MARGIN * bh)])
    kept: list[int] = []
    for i in np.argsort(-strength, kind="stable"):
        if not kept or iou_many(boxes[i], boxes[kept]).max() <= MARK_IOU:
            kept.append(int(i))
        if len(kept) == limit:
            break
    return boxes[kept] * (image.shape[1] / w)


def text_candidates(texts: Sequence[TextHit], scale: float, w: int, h: int, limit: int = 16) -> np.ndarray:
    """Neighbourhoods of OCR text boxes: the text, a margin around it, and room for an emblem to
    its left or above it."""
    out = []
    for hit in sorted(texts, key=lambda t: -(t.box[2] - t.box[0]) * (t.box[3] - t.box[1]))[:limit]:
        x1, y1, x2, y2 = (v * scale for v in hit.box)
        bw, bh = max(2.0, x2 - x1), max(2.0, y2 - y1)
        out += [(x1, y1, x2, y2),
                (x1 - 0.1 * bw, y1 - 0.3 * bh, x2 + 0.1 * bw, y2 + 0.3 * bh),
                (x1 - 1.5 * bh, y1 - 0.4 * bh, x2 + 0.1 * bw, y2 + 0.4 * bh),
                (x1 - 0.1 * bw, y1 - 2.5 * bh, x2 + 0.1 * bw, y2 + 0.3 * bh)]
    if not out:
        return np.zeros((0, 4))
    b = np.asarray(out, dtype=np.float64)
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
    return b[(b[:, 2] - b[:, 0] >= 8) & (b[:, 3] - b[:, 1] >= 8)]

