"""Layout score: a reference's trunk cells correlated, in place, with a photo's trunk cells.

The logo stage's network score pools each window into one vector (GeM over the window's cells),
which keeps *what* is in the window and drops *where*: a brand it never trained on is told from
its neighbours only by the pooled mix of parts. The layout score keeps the arrangement. The
reference is run through the same trunk on its own, its stride-16 cells (10 along its long
side) are the template, and the template slides over the photo's stride-16 maps at the scales
the stage already computed (``PooledRegions``, so no extra trunk pass on the photo). The score
is the best mean cosine of template cells with the photo cells under them: 1 when every part of
the reference is found in the same arrangement.

Measured on the dev fitting half, logo stage alone (BENCHMARKS.md, "Layout score"): with the
layout score added, 0.56 of the held-out brands' photos score their own brand highest and over
the street photos' 99th percentile, against 0.41 with the window score alone. Only a photo's few
best brands by window score (the network entry's ``layout_brands``) are correlated, so the cost
does not grow with the registry.

Templates are computed on first use of a reference and kept for the process (one trunk pass of a
160 px image each), so a large registry costs nothing at start-up.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Sequence

import cv2
import numpy as np

from .pixels import LogoFile

TEMPLATE_SIDE = 160  # px of the reference's long side: 10 cells of the stride-16 maps
MARGIN = 32  # px of the reference's own edges mirrored around it before the trunk pass
STRIDE = 16  # the trunk stage the layout is read from (its first output)
MAX_TEMPLATES = 4096


def _unit_cells(fmap: np.ndarray) -> np.ndarray:
    """C x h x w → h x w x C, each cell L2-normalised."""
    cells = np.ascontiguousarray(fmap.transpose(1, 2, 0), dtype=np.float32)
    return cells / (np.linalg.norm(cells, axis=2, keepdims=True) + 1e-6)


def reference_image(rgb: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """The reference as the template is cut from: trimmed to the mark, laid on white where
    transparent (as ``reference_variants`` does first)."""
    from .matcher import _trim_uniform_border

    if alpha is not None:
        ys, xs = np.nonzero(alpha > 16)
        if len(xs):
            rgb, alpha = rgb[ys.min():ys.max() + 1, xs.min():xs.max() + 1], alpha[ys.min():ys.max() + 1,
                                                                                   xs.min():xs.max() + 1]
        a = alpha.astype(np.float32)[..., None] / 255.0
        return (rgb.astype(np.float32) * a + 255.0 * (1 - a)).astype(np.uint8)
    return _trim_uniform_border(rgb)


def template(trunk, rgb: np.ndarray) -> np.ndarray:  # noqa: ANN001 (a screener.logo.trunk.Trunk)
    """h x w x C unit cells of a reference image (RGB uint8), its long side ``TEMPLATE_SIDE`` px.

    The reference is mirrored around its edges before the trunk pass and only its own cells are
    kept: a cell's features see a few cells around it, and a photo's mark has surroundings where
    a tight crop has the network's zero padding. Mirrored edges matched photos better than the
    tight crop, a grey or a replicated border (BENCHMARKS.md, "Layout score")."""
    h, w = rgb.shape[:2]
    scale = TEMPLATE_SIDE / max(h, w)
    cols, rows = max(2, round(w * scale / STRIDE)), max(2, round(h * scale / STRIDE))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    image = cv2.resize(np.ascontiguousarray(rgb), (cols * STRIDE, rows * STRIDE), interpolation=interp)
    image = cv2.copyMakeBorder(image, MARGIN, MARGIN, MARGIN, MARGIN, cv2.BORDER_REFLECT_101)
    fmap = trunk.maps(image[None])[0][0]
    k = MARGIN // STRIDE
    return _unit_cells(fmap[:, k:k + rows, k:k + cols])


def correlate(cells: np.ndarray, templ: np.ndarray) -> float:
    """Best mean cosine of ``templ`` (h x w x C unit cells) placed anywhere on ``cells``
    (H x W x C unit cells); -1 when the template does not fit."""
    rows, cols = cells.shape[:2]
    h, w = templ.shape[:2]
    if h > rows or w > cols:
        return -1.0
    # Every photo cell against every template cell, then each placement sums its diagonal.
    sims = (cells.reshape(-1, cells.shape[2]) @ templ.reshape(-1, templ.shape[2]).T).reshape(rows, cols, h * w)
    total = np.zeros((rows - h + 1, cols - w + 1), np.float32)
    for i in range(h):
        for j in range(w):
            total += sims[i:i + rows - h + 1, j:j + cols - w + 1, i * w + j]
    return float(total.max()) / (h * w)


class LayoutScorer:
    """Layout scores of a photo for chosen brands, from the reference files of each."""

    def __init__(self, trunk, files: Sequence[LogoFile], file_brand: Sequence[int]) -> None:  # noqa: ANN001
        self.trunk = trunk
        self.files = list(files)
        self.file_brand = np.asarray(file_brand, np.int64)
        # file index -> template, made on first use; the least recently used are dropped past
        # MAX_TEMPLATES (about 25 KB each), so a scan over a huge registry stays bounded.
        self._templates: OrderedDict[int, np.ndarray] = OrderedDict()

    def _template(self, index: int) -> np.ndarray:
        if index in self._templates:
            self._templates.move_to_end(index)
        else:
            self._templates[index] = template(self.trunk, reference_image(*self.files[index].pixels()))
            if len(self._templates) > MAX_TEMPLATES:
                self._templates.popitem(last=False)
        return self._templates[index]

    def scores(self, cell_maps: Sequence[np.ndarray], brands: Sequence[int]) -> dict[int, float]:
        """``cell_maps``: the photo's stride-16 maps (C x H x W), one per scale → brand index →
        its best layout score over its reference files and the scales."""
        photo = [_unit_cells(m) for m in cell_maps]
        out: dict[int, float] = {}
        for b in brands:
            best = -1.0
            for index in np.nonzero(self.file_brand == b)[0]:
                templ = self._template(int(index))
                best = max([best, *(correlate(cells, templ) for cells in photo)])
            out[int(b)] = best
        return out
