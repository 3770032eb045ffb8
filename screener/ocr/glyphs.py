"""A second look at brand names the OCR engine read exactly: is that "O" really a zero?

Recognisers carry a language model: PP-OCR and Tesseract both read "VELT0RA" as "VELTORA" and
"N0VALUX" as "NOVALUX", which turns the classic knock-off into a genuine mark. A person sees the
difference because a zero is narrower than an O in the same font, a one has a flag an I lacks.

This check does what that person does, for the words that matter only (a registered name read
exactly, with a letter that has a digit look-alike):
1. cut the text line out, binarise it and split it into glyphs (connected components; dots
   joined to their stems); give up unless there is one glyph per character;
2. find which of the system's fonts the word's *other* letters resemble most;
3. in those fonts, compare each suspicious glyph with the letter and with its digit look-alike.
When the digit wins clearly, the text is rewritten ("VELT0RA") and the policy flags an altered
name. Without fonts on the machine the check finds nothing and changes nothing.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from ..types import TextHit

# Letters and the digits drawn to pass for them.
LOOKALIKE_DIGITS = {"O": "0", "o": "0", "I": "1", "l": "1", "S": "5", "E": "3", "A": "4",
                    "B": "8", "Z": "2", "T": "7", "G": "6"}
_SIZE = 20  # glyphs are compared as _SIZE x _SIZE masks, plus their aspect ratio
_FONTS_USED = 3  # best-matching fonts that vote
_MARGIN = 0.8  # the digit must be this much closer than the letter


@dataclass(frozen=True)
class GlyphFinding:
    """A character of a line that looks like a digit although the engine read a letter."""

    index: int  # position in the line's text
    read: str  # what the engine read ("O")
    looks_like: str  # what it looks like ("0")
    confidence: float  # 1 - digit distance / letter distance, in [0, 1]


def _line_glyphs(gray: np.ndarray) -> list[np.ndarray] | None:
    """Binary glyph masks of a text line crop, left to right (None if it will not split)."""
    import cv2

    if gray.size == 0 or min(gray.shape) < 8:
        return None
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    border = np.concatenate([binary[0], binary[-1], binary[:, 0], binary[:, -1]])
    if border.mean() < 128:  # light text on dark: make ink white
        pass
    else:
        binary = 255 - binary
    count, labels, stats, _ = cv2.connectedComponentsWithStats((binary > 0).astype(np.uint8), 8)
    height = gray.shape[0]
    boxes = [tuple(stats[i, :4]) for i in range(1, count)
             if stats[i, cv2.CC_STAT_AREA] >= 4 and stats[i, cv2.CC_STAT_HEIGHT] >= height * 0.08]
    boxes.sort(key=lambda b: b[0])
    # Join pieces that overlap horizontally (the dot of an i, broken strokes).
    merged: list[list[int]] = []
    for x, y, w, h in boxes:
        if merged and x < merged[-1][0] + merged[-1][2] - 0.3 * w:
            mx, my, mw, mh = merged[-1]
            nx, ny = min(mx, x), min(my, y)
            merged[-1] = [nx, ny, max(mx + mw, x + w) - nx, max(my + mh, y + h) - ny]
        else:
            merged.append([x, y, w, h])
    return [binary[y:y + h, x:x + w] > 0 for x, y, w, h in merged]


def _features(mask: np.ndarray, line_height: float) -> np.ndarray:
    """A glyph as a fixed-size mask plus its width and height relative to the line."""
    import cv2

    h, w = mask.shape
    side = max(h, w)
    square = np.zeros((side, side), np.float32)
    square[(side - h) // 2:(side - h) // 2 + h, (side - w) // 2:(side - w) // 2 + w] = mask
    small = cv2.resize(square, (_SIZE, _SIZE), interpolation=cv2.INTER_AREA).ravel()
    shape = np.array([w / max(h, 1), h / max(line_height, 1)], np.float32) * 4.0
    return np.concatenate([small, shape])


@functools.lru_cache(maxsize=4096)
def _template(font_path: str, char: str) -> np.ndarray | None:
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(font_path, 64)
    except OSError:
        return None
    image = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(image).text((20, 20), char, fill=255, font=font)
    mask = np.asarray(image) > 127
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return None
    cap = ImageFont.truetype(font_path, 64).getbbox("H")
    cap_height = cap[3] - cap[1]
    return _features(mask[ys.min():ys.max() + 1, xs.min():xs.max() + 1], cap_height)


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[str, ...]:
    try:
        from ..fonts import latin_fonts
    except ImportError:
        return ()
    return tuple(f.path for f in latin_fonts())


class GlyphChecker:
    """Rewrites exactly-read brand names whose letters are really look-alike digits."""

    def __init__(self, names: Sequence[str], fonts: Sequence[str] | None = None):
        from ..textmatch import fold

        self._names = [fold(n) for n in names if len(fold(n)) >= 4]
        self._fonts = tuple(fonts) if fonts is not None else _fonts()

    def __call__(self, image: np.ndarray, texts: Sequence[TextHit]) -> tuple[TextHit, ...]:
        if not self._fonts or not self._names:
            return tuple(texts)
        return tuple(self._check(image, hit) for hit in texts)

    def _check(self, image: np.ndarray, hit: TextHit) -> TextHit:
        from ..textmatch import fold

        folded = fold(hit.text)
        if not any(name in folded for name in self._names):
            return hit
        if not any(ch in LOOKALIKE_DIGITS for ch in hit.text):
            return hit
        findings = self.findings(image, hit)
        if not findings:
            return hit
        chars = list(hit.text)
        for finding in findings:
            chars[finding.index] = finding.looks_like
        return replace(hit, text="".join(chars))

    def findings(self, image: np.ndarray, hit: TextHit) -> list[GlyphFinding]:
        """The characters of ``hit`` that look like digits, or [] when it cannot tell."""
        x1, y1, x2, y2 = hit.box
        pad = max(2, (y2 - y1) // 10)
        crop = image[max(0, y1 - pad):y2 + pad, max(0, x1 - pad):x2 + pad]
        if crop.ndim == 3:
            crop = (crop[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
                    ).astype(np.uint8)
        glyphs = _line_glyphs(crop)
        positions = [i for i, ch in enumerate(hit.text) if not ch.isspace()]
        if glyphs is None or len(glyphs) != len(positions):
            return []
        line_height = max(g.shape[0] for g in glyphs)
        seen = [_features(g, line_height) for g in glyphs]
        # Font identification on the characters that are not in question.
        scores = []
        for font in self._fonts:
            distances = []
            for feature, index in zip(seen, positions):
                ch = hit.text[index]
                if ch in LOOKALIKE_DIGITS or not ch.isalnum():
                    continue
                template = _template(font, ch)
                if template is not None:
                    distances.append(float(np.abs(feature - template).mean()))
            if distances:
                scores.append((float(np.mean(distances)), font))
        if not scores:
            return []
        best_fonts = [font for _, font in sorted(scores)[:_FONTS_USED]]
        findings = []
        for feature, index in zip(seen, positions):
            letter = hit.text[index]
            digit = LOOKALIKE_DIGITS.get(letter)
            if digit is None:
                continue
            votes, ratios = 0, []
            for font in best_fonts:
                as_letter, as_digit = _template(font, letter), _template(font, digit)
                if as_letter is None or as_digit is None:
                    continue
                d_letter = float(np.abs(feature - as_letter).mean())
                d_digit = float(np.abs(feature - as_digit).mean())
                ratios.append(d_digit / max(d_letter, 1e-6))
                votes += d_digit < _MARGIN * d_letter
            if ratios and votes * 2 > len(ratios):
                findings.append(GlyphFinding(index, letter, digit,
                                             float(np.clip(1.0 - np.median(ratios), 0.0, 1.0))))
        return findings
