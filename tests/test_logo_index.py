"""The reference index (screener.logo.index) against a brute-force comparison: one similarity per
(window, reference variant), calibrated as ``ReferenceSet.calibrated`` does, then each brand's best
variant found one brand at a time. Random unit vectors stand in for embeddings: the index is
arithmetic over whatever the network gives, and the shuffled brand order and uneven variant counts
are what a registry can produce."""

from __future__ import annotations

import numpy as np
import pytest

from screener.logo.index import ReferenceIndex
from screener.logo.matcher import ReferenceSet


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _references(rng: np.random.Generator, brands: int, floors: bool) -> ReferenceSet:
    counts = rng.integers(1, 12, brands)  # variants per brand, uneven
    brand_index = rng.permutation(np.repeat(np.arange(brands), counts))  # interleaved, not grouped
    m = len(brand_index)
    return ReferenceSet(vectors=_unit(rng.standard_normal((m, 32))), brand_index=brand_index,
                        file_index=np.arange(m), brands=tuple(f"B{i}" for i in range(brands)),
                        files=tuple(f"f{i}.png" for i in range(m)),
                        floors=rng.uniform(-0.2, 0.9, m).astype(np.float32) if floors else None)


def _brute_force(refs: ReferenceSet, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sim = refs.calibrated(vectors @ refs.vectors.T)
    best = np.zeros((len(vectors), len(refs.brands)), np.float32)
    arg = np.zeros(best.shape, np.int64)
    for b in range(len(refs.brands)):
        cols = np.nonzero(refs.brand_index == b)[0]
        j = sim[:, cols].argmax(axis=1)
        best[:, b], arg[:, b] = sim[np.arange(len(sim)), cols[j]], cols[j]
    return best, arg


@pytest.mark.parametrize("brands, floors", [(1, True), (7, False), (40, True), (300, True)])
def test_the_index_gives_the_brute_force_best_brand_and_variant(brands, floors):
    rng = np.random.default_rng(brands)
    refs = _references(rng, brands, floors)
    windows = _unit(rng.standard_normal((50, 32)))
    best, arg = ReferenceIndex(refs).scores(windows)
    want_best, want_arg = _brute_force(refs, windows)
    assert np.allclose(best, want_best, atol=1e-5)
    assert np.array_equal(best.argmax(axis=1), want_best.argmax(axis=1))  # the same best brand per window
    assert np.array_equal(arg, want_arg)  # and the same reference variant behind each score


def test_variants_are_looked_up_only_for_brands_that_reach_the_floor():
    rng = np.random.default_rng(5)
    refs = _references(rng, 12, True)
    windows = _unit(rng.standard_normal((20, 32)))
    want_best, want_arg = _brute_force(refs, windows)
    floor = float(np.median(want_best.max(axis=0)))  # half the brands reach it somewhere
    best, arg = ReferenceIndex(refs).scores(windows, floor=floor)
    reached = (want_best >= floor).any(axis=0)
    assert 0 < reached.sum() < len(reached)
    assert np.array_equal(arg[:, reached], want_arg[:, reached])
    assert not arg[:, ~reached].any()
    assert np.allclose(best, want_best, atol=1e-5)  # every brand's score is still there


def test_no_windows_give_empty_scores():
    refs = _references(np.random.default_rng(1), 3, True)
    best, arg = ReferenceIndex(refs).scores(np.zeros((0, 32), np.float32))
    assert best.shape == arg.shape == (0, 3)
