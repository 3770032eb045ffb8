"""One index over every registered reference embedding, so scoring grows slowly with brands.

A photo's windows are scored against every reference variant of every brand at once: one matrix
product with the references' calibration folded into the matrix (``ReferenceSet.calibrated`` is
``(cos - floor) / (1 - floor)``, the same as ``cos / (1 - floor) - floor / (1 - floor)``), then
each brand's best variant by one ``np.maximum.reduceat`` over the brand's contiguous columns.
The per-brand loop this replaces, with the calibration as a separate pass over the N x M
similarities, cost 154 ms of a 516 ms photo at 1,000 brands (BENCHMARKS.md, "Logo stage speed").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .matcher import ReferenceSet


class ReferenceIndex:
    """Best calibrated similarity per (window, brand) over a :class:`ReferenceSet`'s variants."""

    def __init__(self, references: "ReferenceSet") -> None:
        # Columns grouped by brand (a stable sort keeps each brand's variants in file order).
        order = np.argsort(references.brand_index, kind="stable")
        floors = (references.floors if references.floors is not None
                  else np.zeros(len(references.vectors), np.float32)).astype(np.float64)
        scale = 1.0 / (1.0 - floors)
        self._rows = order  # column of the index -> row of the reference set
        self._matrix = np.ascontiguousarray((references.vectors[order] * scale[order, None]).T, dtype=np.float32)
        self._offset = (floors * scale)[order].astype(np.float32)
        grouped = references.brand_index[order]
        self._brands = np.unique(grouped)  # brands that have variants, ascending
        self._starts = np.searchsorted(grouped, self._brands, side="left")
        self._ends = np.searchsorted(grouped, self._brands, side="right")
        self.n_brands = len(references.brands)

    def scores(self, vectors: np.ndarray, floor: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        """``vectors`` (N x dim, unit length) → ``best`` (N x brands: each brand's best calibrated
        similarity, -1 for a brand without references) and ``arg`` (N x brands: the reference set
        row giving it, for the brands that reach ``floor`` in some window; 0 for the others, whose
        best variant nobody asks for)."""
        n = len(vectors)
        best = np.full((n, self.n_brands), -1.0, np.float32)
        arg = np.zeros((n, self.n_brands), np.int64)
        if n == 0 or len(self._brands) == 0:
            return best, arg
        sim = np.asarray(vectors, np.float32) @ self._matrix
        sim -= self._offset
        best[:, self._brands] = np.maximum.reduceat(sim, self._starts, axis=1)
        for k in np.nonzero((best[:, self._brands] >= floor).any(axis=0))[0]:
            start, end = self._starts[k], self._ends[k]
            arg[:, self._brands[k]] = self._rows[start + sim[:, start:end].argmax(axis=1)]
        return best, arg
