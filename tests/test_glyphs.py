"""The glyph check: look-alike digits that the OCR engines read as letters."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import render_listing
from screener.ocr.glyphs import GlyphChecker
from screener.types import TextHit


@pytest.fixture(scope="module")
def checker() -> GlyphChecker:
    checker = GlyphChecker(["Veltora", "Novalux", "Nike"])
    if not checker._fonts:
        pytest.skip("no system fonts")
    return checker


def line_hit(image: np.ndarray, text: str) -> TextHit:
    """The first line's box as an engine would report it (render_listing draws at (60, 80))."""
    width = 40 * len(text)
    return TextHit(text, (55, 80, 60 + width, 145), 0.99)


@pytest.mark.parametrize("drawn, read, expected", [
    ("VELT0RA", "VELTORA", "VELT0RA"),   # zero for O
    ("N0VALUX", "NOVALUX", "N0VALUX"),
    ("N1KE", "NIKE", "N1KE"),            # one for I
    ("VELTORA", "VELTORA", "VELTORA"),   # genuine: unchanged
    ("NOVALUX", "NOVALUX", "NOVALUX"),
    ("ORBIT", "ORBIT", "ORBIT"),         # not a brand name: never looked at
])
def test_lookalike_digits_are_seen(checker, drawn, read, expected):
    image = np.asarray(render_listing([drawn]))
    [out] = checker(image, [line_hit(image, read)])
    assert out.text == expected


def test_no_claim_when_glyphs_do_not_split(checker):
    image = np.zeros((200, 400, 3), np.uint8)  # nothing to segment
    hit = TextHit("VELTORA", (10, 10, 300, 80), 0.9)
    assert checker.findings(image, hit) == []
