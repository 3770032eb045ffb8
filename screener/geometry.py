"""Box geometry shared by every stage and the policy: one definition of each measure.

Boxes are pixel ``(x1, y1, x2, y2)`` with ``x2``/``y2`` exclusive (:data:`screener.types.Box`).
Before this module the same measures were written five times with small differences (the
share of a region measured one way by the logo stage and another by the policy was a bug,
d72ea40); each function here keeps the exact arithmetic its callers used, so moving to it
changed no result.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .types import Box


def intersection(a: Sequence[float], b: Sequence[float]) -> float:
    """The area two boxes share (0 when they do not overlap)."""
    w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return w * h


# Two boxes overlapping more than this (IoU) are one region: one region carries one brand's mark
# (the logo stage's windows, the policy's rivals).
SAME_REGION = 0.3


def area(box: Sequence[float]) -> float:
    """The box's area (negative for an inverted box, as the callers' formulas had it)."""
    return (box[2] - box[0]) * (box[3] - box[1])


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two boxes (the same arithmetic as :func:`iou_many`)."""
    inter = intersection(a, b)
    return inter / max(area(a) + area(b) - inter, 1e-6)


def iou_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """IoU of ``box`` with each row of ``boxes`` (N x 4), vectorised."""
    x1, y1 = np.maximum(box[0], boxes[:, 0]), np.maximum(box[1], boxes[:, 1])
    x2, y2 = np.minimum(box[2], boxes[:, 2]), np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) - inter
    return inter / np.maximum(union, 1e-6)


def over_smaller(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over the smaller box's area: 1.0 when one box lies inside the other, whatever
    their sizes (two readings of one word, one a little tighter); 0 when either box is empty."""
    smaller = min(area(a), area(b))
    return intersection(a, b) / smaller if smaller > 0 else 0.0


def inside(inner: Sequence[float], outer: Sequence[float]) -> float:
    """The share of ``inner``'s area that lies inside ``outer`` (an empty ``inner`` counts as 1 px)."""
    return intersection(inner, outer) / max(1, area(inner))


def overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    """The boxes share some area (touching edges do not count; an empty box overlaps nothing)."""
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


def within(inner: Sequence[float], outer: Sequence[float], slack: float = 0) -> bool:
    """Every edge of ``inner`` lies inside ``outer`` grown by ``slack`` pixels on each side."""
    return (inner[0] >= outer[0] - slack and inner[1] >= outer[1] - slack
            and inner[2] <= outer[2] + slack and inner[3] <= outer[3] + slack)


def along(region: Sequence[float], word: Sequence[float], fraction: float = 0.6) -> bool:
    """``region`` lies along ``word``'s line: at least ``fraction`` of the region's width is within
    the word's, and at least ``fraction`` of the word's height is within the region's (the line
    runs through it)."""
    w = max(0, min(region[2], word[2]) - max(region[0], word[0]))
    h = max(0, min(region[3], word[3]) - max(region[1], word[1]))
    return w >= fraction * max(1, region[2] - region[0]) and h >= fraction * max(1, word[3] - word[1])


def share(box: "Box | Sequence[float]", size: tuple[int, int] | None) -> float:
    """The share of a photo (``size``: width, height) that ``box`` covers; 0 if the size is unknown."""
    if not size or size[0] <= 0 or size[1] <= 0:
        return 0.0
    return area(box) / (size[0] * size[1])
