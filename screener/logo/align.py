"""Direct alignment of a reference logo onto a candidate region (OpenCV ECC), for flat marks.

SIFT needs corners and blobs; a flat emblem (a shield, a disc with a monogram) has too few. Here
the network's candidate window gives a starting place and size, and the reference is aligned onto
the photo by maximising their correlation over an affine warp (Evangelidis & Psarakis 2008,
``cv2.findTransformECC``), started where sliding the reference over the region at a few sizes
correlates best (either way round: a mark printed in reverse counts). Two numbers come out:

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
from .pixels import LogoFile, grey_on_white

WORK_SIDE = 160  # long side of a candidate region (with its margin) while aligning
TEMPLATE_SIDE = 160  # references are kept at most this large
SEARCH_SCALES = (0.7, 0.85, 1.0, 1.2, 1.45)  # sizes of the reference slid over the region, relative to the window
ECC_STARTS = 2  # best places from the slide that ECC starts from
# A reference whose best place in the region correlates less than this is not aligned at all:
# on the sample listings every genuine alignment started from 0.51 or more, and 55% of the tries
# fall under 0.4 (ECC is most of the cost).
MIN_SLIDE = 0.4
ITERATIONS = 50
# An alignment must still look like the window's mark: a simple reference (a swoosh) squashed to
# a few pixels correlates with any streak (FlickrLogos: a Nike crop "aligned" as a 6 x 21 px
# sliver on 11 photos without one).
MAX_STRETCH = 2.0  # longest / shortest axis of the affine warp
MIN_MARK_SIDE = 16  # photo pixels, short side of the aligned reference
MIN_WINDOW_SHARE = 0.2  # aligned area / window area
MARGIN = 0.3  # the region is cut this much larger than the window on each side


@dataclass(frozen=True)
class Alignment:
    """A reference aligned onto a photo region."""

    reference: int  # index into the references given to :class:`ReferenceAligner`
    correlation: float  # ECC correlation coefficient of the aligned reference and the region
    worst_cell: float
    typical_cell: float
    box: tuple[int, int, int, int]  # the aligned reference's bounding box, photo pixels
    inverted: bool = False  # the mark is the reference's negative (printed light on dark)


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

    def __init__(self, references: Sequence[tuple[np.ndarray, np.ndarray | None] | LogoFile]) -> None:
        """``references``: ``(rgb, alpha or None)`` or a :class:`LogoFile` per reference logo, in
        the stage's order.

        A reference is prepared (cut to what is drawn, in grey; clean or not) the first time it
        is asked for, not here: alignment only ever runs on the network's best windows, at most
        ``ALIGN_TRIES`` (window, brand) pairs a photo, so a worker prepares the few brands its
        photos propose. Preparing all 5,000 references of 1,000 brands up front took 5.9 s of a
        warm start (BENCHMARKS.md); a :class:`LogoFile` is then not even decoded until needed."""
        self._sources = list(references)
        self._prepared: dict[int, tuple[np.ndarray, bool]] = {}

    def __len__(self) -> int:
        return len(self._sources)

    def _prepare(self, reference: int) -> tuple[np.ndarray, bool]:
        """The reference's template and whether it is clean, computed once."""
        prepared = self._prepared.get(reference)
        if prepared is None:
            source = self._sources[reference]
            rgb, alpha = source.pixels() if isinstance(source, LogoFile) else source
            prepared = self._prepared[reference] = (_tight_grey(rgb, alpha), is_clean(rgb, alpha))
        return prepared

    def is_usable(self, reference: int) -> bool:
        """Whether ``reference`` is aligned at all (a clean logo file, :func:`is_clean`)."""
        return self._prepared[reference][1] if reference in self._prepared else self._prepare(reference)[1]

    @property
    def usable(self) -> list[bool]:
        """:meth:`is_usable` of every reference (prepares them all)."""
        return [self.is_usable(i) for i in range(len(self._sources))]

    def align(self, grey: np.ndarray, box: Sequence[float], reference: int) -> Alignment | None:
        """Best alignment of ``reference`` onto the window ``box`` (x1, y1, x2, y2) of the grey
        photo ``grey``, or None when ECC does not converge from any start.

        ECC only climbs to the nearest optimum, and the network's window is a coarse guess of
        where the mark is and how large. So the reference is first slid over the region at a few
        sizes (normalised cross-correlation, ``cv2.matchTemplate``), and ECC starts from the
        ``ECC_STARTS`` best places. The slide also reads the mark's polarity: a logo printed in
        reverse (light on a dark product) correlates negatively with its file, and is aligned
        as the file's negative."""
        template, usable = self._prepare(reference)
        if not usable:
            return None
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
        if float(region.std()) < 1.0:  # a flat region holds no mark
            return None
        best: Alignment | None = None
        for size, (x, y), inverted in self._starts(template, region, min(bw / template.shape[1], bh / template.shape[0]) * k,
                                                   ((x1 + x2) / 2 - rx1) * k, ((y1 + y2) / 2 - ry1) * k):
            tmpl = cv2.resize(template, size, interpolation=cv2.INTER_AREA if size[0] < template.shape[1]
                              else cv2.INTER_LINEAR).astype(np.float32)
            if inverted:
                tmpl = 255.0 - tmpl
            warp = np.float32([[1, 0, x], [0, 1, y]])
            try:
                rho, warp = cv2.findTransformECC(tmpl, region, warp, cv2.MOTION_AFFINE,
                                                 (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ITERATIONS, 1e-4),
                                                 None, 3)
            except cv2.error:  # did not converge, or the template has no contrast
                continue
            if best is not None and rho <= best.correlation:
                continue
            stretch = np.linalg.svd(warp[:, :2], compute_uv=False)  # largest first
            if stretch[1] <= 0 or stretch[0] > MAX_STRETCH * stretch[1]:
                continue  # squashed or sheared into a sliver: fits any streak, says nothing
            back = cv2.warpAffine(region, warp, size, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            valid = cv2.warpAffine(np.ones_like(region), warp, size,
                                   flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP) > 0
            worst, typical = cell_agreement(soften_to(tmpl, 1.0), back, valid, min_cell=8, blur=1.0)
            corners = np.float32([[0, 0, 1], [size[0], 0, 1], [size[0], size[1], 1], [0, size[1], 1]]) @ warp.T
            corners = corners / k + np.float32([rx1, ry1])
            (bx1, by1), (bx2, by2) = corners.min(axis=0), corners.max(axis=0)
            if min(bx2 - bx1, by2 - by1) < MIN_MARK_SIDE or (bx2 - bx1) * (by2 - by1) < MIN_WINDOW_SHARE * bw * bh:
                continue  # shrank away from the window to a speck: not the mark the window holds
            best = Alignment(reference, float(rho), worst, typical,
                             (int(max(0, bx1)), int(max(0, by1)), int(min(width, bx2)), int(min(height, by2))),
                             inverted)
        return best

    @staticmethod
    def _starts(template: np.ndarray, region: np.ndarray, fit: float, cx: float,
                cy: float) -> list[tuple[tuple[int, int], tuple[float, float], bool]]:
        """Where ECC starts: (template size, top-left corner in the region, inverted), best
        first; none when the reference correlates nowhere in the region (``MIN_SLIDE``).
        ``fit`` scales the template to the window; (cx, cy) is the window's centre."""
        th, tw = template.shape
        scored: list[tuple[float, tuple[int, int], tuple[float, float], bool]] = []
        centred: list[tuple[tuple[int, int], tuple[float, float], bool]] = []
        for s in SEARCH_SCALES:
            size = (max(8, int(round(tw * fit * s))), max(8, int(round(th * fit * s))))
            if size[0] <= region.shape[1] and size[1] <= region.shape[0]:
                tmpl = cv2.resize(template, size, interpolation=cv2.INTER_AREA if fit * s < 1 else cv2.INTER_LINEAR)
                if float(tmpl.std()) < 1.0:
                    continue
                low, high, low_at, high_at = cv2.minMaxLoc(cv2.matchTemplate(region, tmpl.astype(np.float32),
                                                                             cv2.TM_CCOEFF_NORMED))
                scored.append((high, size, (float(high_at[0]), float(high_at[1])), False))
                scored.append((-low, size, (float(low_at[0]), float(low_at[1])), True))
            elif size[0] <= 1.5 * region.shape[1] and size[1] <= 1.5 * region.shape[0]:
                # Larger than the region: no room to slide, start centred on the window.
                centred.append((size, (cx - size[0] / 2, cy - size[1] / 2), False))
        if not scored:  # never fitted inside the region (clipped by the photo's edge)
            return centred[:1]
        scored.sort(key=lambda c: -c[0])
        return [c[1:] for c in scored[:ECC_STARTS] if c[0] >= MIN_SLIDE]
