"""Direct alignment of a reference logo onto a candidate region (OpenCV ECC), for flat marks.

SIFT needs corners and blobs; a flat emblem (a shield, a disc with a monogram) has too few. Here
the network's candidate window gives a starting place and size, and the reference is aligned onto
the photo by maximising their correlation over an affine warp (Evangelidis & Psarakis 2008,
``cv2.findTransformECC``), from a few starting scales. Two numbers come out:

- ``correlation``: how well the whole aligned reference matches (ECC's coefficient);
- the worst and median cell agreement (:mod:`screener.logo.agreement`): a genuine mark agrees in
  every cell, an imitation that changes one part of the mark (a filled shape drawn as an outline,
  a side added, a letter swapped) aligns well overall but leaves a cell that disagrees.

Only clean references (a logo file: transparent, or on a plain border) are aligned: a crop cut
from a photo carries its background. The work is bounded: the region is cut with a margin and reduced so its long side is at most
``WORK_SIDE``, and ECC stops after ``ITERATIONS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from .agreement import cell_agreement, soften_to
from .pixels import grey_on_white

WORK_SIDE = 160  # long side of a candidate region (with its margin) while aligning
TEMPLATE_SIDE = 160  # references are kept at most this large
SCALES = (0.85, 1.0, 1.2)  # starting sizes of the reference relative to the window
ITERATIONS = 50
MARGIN = 0.3  # the region is cut this much larger than the window on each side


@dataclass(frozen=True)
class Alignment:
    """A reference aligned onto a photo region."""

    reference: int  # index into the references given to :class:`ReferenceAligner`
    correlation: float  # ECC correlation coefficient of the aligned reference and the region
    worst_cell: float
    typical_cell: float
    box: tuple[int, int, int, int]  # the aligned reference's bounding box, photo pixels


def is_clean(rgb: np.ndarray, alpha: np.ndarray | None) -> bool:
    """Whether a reference is the mark alone: transparent around it, or on a plain border (a logo
    file). A crop cut from a photo carries its background, so comparing it part by part with
    another photo says little about the mark; such references are not aligned."""
    if alpha is not None:
        return True
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.float32)
    return bool(border.std(axis=0).max() < 12.0)


def _tight_grey(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The reference in grey, on white where transparent, cut to what is drawn."""
    if alpha is not None:
        ys, xs = np.nonzero(alpha > 16)
    else:
        corner = rgb[0, 0].astype(np.int16)
        ys, xs = np.nonzero(np.abs(rgb.astype(np.int16) - corner).max(axis=2) > 24)
    grey = grey_on_white(rgb, alpha)
    if len(xs) >= 16:
        grey = grey[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    f = min(1.0, TEMPLATE_SIDE / max(grey.shape))
    if f < 1.0:
        grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
    return grey


class ReferenceAligner:
    """Aligns reference logos onto candidate regions of photos."""

    def __init__(self, references: Sequence[tuple[np.ndarray, np.ndarray | None]]) -> None:
        """``references``: ``(rgb, alpha or None)`` per reference logo, in the stage's order."""
        self.templates = [_tight_grey(rgb, alpha) for rgb, alpha in references]
        self.usable = [is_clean(rgb, alpha) for rgb, alpha in references]

    def align(self, grey: np.ndarray, box: Sequence[float], reference: int) -> Alignment | None:
        """Best alignment of ``reference`` onto the window ``box`` (x1, y1, x2, y2) of the grey
        photo ``grey``, or None when ECC does not converge from any starting scale."""
        if not self.usable[reference]:
            return None
        template = self.templates[reference]
        height, width = grey.shape
        x1, y1, x2, y2 = (float(v) for v in box)
        bw, bh = x2 - x1, y2 - y1
        if bw < 8 or bh < 8 or min(template.shape) < 8:
            return None
        rx1, ry1 = int(max(0, x1 - MARGIN * bw)), int(max(0, y1 - MARGIN * bh))
        rx2, ry2 = int(min(width, x2 + MARGIN * bw)), int(min(height, y2 + MARGIN * bh))
        k = min(1.0, WORK_SIDE / max(rx2 - rx1, ry2 - ry1))
        region = cv2.resize(grey[ry1:ry2, rx1:rx2], None, fx=k, fy=k, interpolation=cv2.INTER_AREA) if k < 1 \
            else grey[ry1:ry2, rx1:rx2]
        region = region.astype(np.float32)
        cx, cy = (x1 + x2) / 2 - rx1, (y1 + y2) / 2 - ry1
        best: Alignment | None = None
        th, tw = template.shape
        for s in SCALES:
            f = min(bw / tw, bh / th) * s * k
            size = (max(8, int(round(tw * f))), max(8, int(round(th * f))))
            if size[0] > region.shape[1] * 1.5 or size[1] > region.shape[0] * 1.5:
                continue
            tmpl = cv2.resize(template, size, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
            warp = np.float32([[1, 0, cx * k - size[0] / 2], [0, 1, cy * k - size[1] / 2]])
            try:
                rho, warp = cv2.findTransformECC(tmpl.astype(np.float32), region, warp, cv2.MOTION_AFFINE,
                                                 (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ITERATIONS, 1e-4),
                                                 None, 3)
            except cv2.error:  # did not converge, or the template has no contrast
                continue
            if best is not None and rho <= best.correlation:
                continue
            scale = abs(np.linalg.det(warp[:, :2])) ** 0.5
            if not 0.4 < scale < 2.5:  # ran away from the window
                continue
            back = cv2.warpAffine(region, warp, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            valid = cv2.warpAffine(np.ones_like(region), warp, size,
                                   flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
            worst, typical = cell_agreement(soften_to(tmpl, 1.0), back, valid, min_cell=8, blur=1.0)
            corners = np.float32([[0, 0, 1], [size[0], 0, 1], [size[0], size[1], 1], [0, size[1], 1]]) @ warp.T
            corners = corners / k + np.float32([rx1, ry1])
            (bx1, by1), (bx2, by2) = corners.min(axis=0), corners.max(axis=0)
            best = Alignment(reference, float(rho), worst, typical,
                             (int(max(0, bx1)), int(max(0, by1)), int(min(width, bx2)), int(min(height, by2))))
        return best
