"""Box geometry: each measure on hand-checked boxes, and the scalar and vectorised IoU agreeing."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from screener.geometry import along, inside, iou, iou_many, over_smaller, overlaps, share, within

A = (0, 0, 10, 10)


@pytest.mark.parametrize("b, expected_iou, expected_smaller, expected_inside", [
    ((0, 0, 10, 10), 1.0, 1.0, 1.0),            # the same box
    ((5, 0, 15, 10), 50 / 150, 0.5, 0.5),       # half of each overlaps
    ((2, 2, 6, 6), 16 / 100, 1.0, 0.16),        # a small box inside A: all of it over the smaller
    ((10, 0, 20, 10), 0.0, 0.0, 0.0),           # touching edges share nothing
    ((30, 30, 40, 40), 0.0, 0.0, 0.0),          # far apart
])
def test_overlap_measures(b, expected_iou, expected_smaller, expected_inside):
    assert iou(A, b) == pytest.approx(expected_iou)
    assert over_smaller(A, b) == pytest.approx(expected_smaller)
    assert inside(A, b) == pytest.approx(expected_inside)
    assert overlaps(A, b) == (expected_iou > 0)


def test_inside_is_the_inner_boxes_share():
    assert inside((2, 2, 6, 6), A) == 1.0 and inside(A, (2, 2, 6, 6)) == pytest.approx(0.16)
    assert over_smaller((3, 3, 3, 9), A) == 0.0  # an empty box overlaps nothing
    assert not overlaps((3, 3, 3, 9), A)


@pytest.mark.parametrize("inner, slack, expected", [
    ((1, 1, 9, 9), 0, True), ((-2, 0, 12, 10), 0, False), ((-2, 0, 12, 10), 2, True), ((-3, 0, 10, 10), 2, False),
])
def test_within_with_slack(inner, slack, expected):
    assert within(inner, A, slack=slack) == expected


@pytest.mark.parametrize("region, word, expected", [
    ((10, 0, 40, 20), (0, 5, 100, 15), True),     # a region on the word's line, within its width
    ((10, 0, 40, 20), (0, 30, 100, 40), False),   # the word's line runs below the region
    ((80, 0, 140, 20), (0, 5, 100, 15), False),   # a third of the region's width is past the word
])
def test_along(region, word, expected):
    assert along(region, word) == expected


def test_share_of_the_photo():
    assert share((0, 0, 50, 40), (100, 80)) == 0.25
    assert share((0, 0, 50, 40), None) == 0.0 and share((0, 0, 50, 40), (0, 80)) == 0.0


coordinate = st.integers(0, 400)
boxes = st.tuples(coordinate, coordinate, st.integers(1, 200), st.integers(1, 200)).map(
    lambda b: (b[0], b[1], b[0] + b[2], b[1] + b[3]))


@given(boxes, st.lists(boxes, min_size=1, max_size=8))
def test_scalar_and_vectorised_iou_agree_exactly(box, others):
    many = iou_many(np.asarray(box, float), np.asarray(others, float))
    assert [iou(box, o) for o in others] == many.tolist()
    assert all(0.0 <= v <= 1.0 for v in many)
