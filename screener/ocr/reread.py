"""A second, closer reading of words the name matcher takes for an altered brand name.

OCR misreads stylised genuine marks ("adldas" on Adidas's logo, "Goog!" on Google's, "RedDull"),
and by the text alone the policy cannot tell such a misreading from a counterfeit's altered name.
A misreading is unstable: read again from a crop of the word enlarged to a standard letter
height, it often comes out right. An alteration printed in the photo ("VE1TORA", "KYARNE") is
what the pixels say, and reads the same again. So each altered-looking word is read once more;
when the second reading is the registered name, the word is taken as that name (the glyph check
then still looks at it for look-alike digits) and a note on the result records both readings.

Measured (BENCHMARKS.md, "False altered-brand flags on real photos"): on the FlickrLogos-27 dev
photos with a false ``altered_brand_name`` flag, 5 of the 12 misread words read right the second
time; on the sample listings, none of the 20 altered names did. Only words that already look
altered are read again, so a photo without one costs nothing more (a sample listing with one:
OCR 0.85 s instead of 0.51 s).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from ..geometry import within
from ..textmatch import BrandNameMatcher, NameMatch
from ..types import TextHit
from .base import OcrEngine

LETTER_HEIGHT = 48  # px: the word's box is scaled to this height before it is read again
MARGIN = 0.35  # of the box height, kept around the word (plus 4 px): the detector needs context
BORDER = 20  # px of replicated edge around the crop


class SecondReading:
    """Reads altered-looking brand names again, closer; keeps the reading that is the name."""

    def __init__(self, ocr: OcrEngine, matcher: BrandNameMatcher):
        self.ocr = ocr
        self.matcher = matcher

    def __call__(self, image: np.ndarray, texts: Sequence[TextHit]) -> tuple[tuple[TextHit, ...], tuple[str, ...]]:
        """``texts`` with each altered name that reads as the name the second time replaced, and
        a note per replacement. ``image``: the pixels the texts' boxes refer to."""
        hits, notes = list(texts), []
        for match in self.matcher(texts):
            if match.exact:
                continue
            name = self._read_again(image, match)
            if name is None:
                continue
            changed = _replace_word(hits, match, name)
            if changed is not None:
                hits = changed
                notes.append(f"OCR read '{match.text}' (an altered form of {match.brand!r}); read again "
                             f"closer it is '{name.text}': taken as the name")
        return tuple(hits), tuple(notes)

    def _read_again(self, image: np.ndarray, match: NameMatch) -> TextHit | None:
        """The second reading of the match's box, when it is exactly the match's brand."""
        import cv2

        x1, y1, x2, y2 = match.box
        height = max(8, y2 - y1)
        margin = int(MARGIN * height) + 4
        h, w = image.shape[:2]
        crop = image[max(0, y1 - margin):min(h, y2 + margin), max(0, x1 - margin):min(w, x2 + margin)]
        if crop.size == 0:
            return None
        factor = LETTER_HEIGHT / height
        crop = cv2.resize(np.ascontiguousarray(crop), None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
        crop = cv2.copyMakeBorder(crop, BORDER, BORDER, BORDER, BORDER, cv2.BORDER_REPLICATE)
        # On a square canvas (the crop's median colour around it): the engine enlarges an image's
        # short side to its detector size, and a long thin crop would be enlarged into a huge one.
        ch, cw = crop.shape[:2]
        if cw > ch:
            fill = tuple(int(v) for v in np.median(crop.reshape(-1, crop.shape[2]), axis=0))
            top = (cw - ch) // 2
            crop = cv2.copyMakeBorder(crop, top, cw - ch - top, 0, 0, cv2.BORDER_CONSTANT, value=fill)
        for hit in self.ocr(crop):
            again = self.matcher([hit])
            if any(m.exact and m.brand == match.brand for m in again):
                return hit
        return None


def _replace_word(hits: list[TextHit], match: NameMatch, name: TextHit) -> list[TextHit] | None:
    """``hits`` with the match's words replaced by ``name``'s text, or None when the match cannot
    be traced to its words. Boxes stay the first reading's (``name``'s box is in crop pixels), and
    so do scores: a joined name gets its weakest piece's."""
    # A word, or a word of a line: one hit holds the match's box and text (the matcher gives a
    # word of a line its share of the line's box).
    holders = [i for i, hit in enumerate(hits) if within(match.box, hit.box, slack=2) and match.text in hit.text]
    if len(holders) == 1:
        i = holders[0]
        return hits[:i] + [replace(hits[i], text=hits[i].text.replace(match.text, name.text, 1))] + hits[i + 1:]
    # A name split in pieces: the pieces lie inside the match's box and spell its text.
    pieces = sorted((i for i, hit in enumerate(hits) if within(hit.box, match.box, slack=2)), key=lambda i: hits[i].box[0])
    if len(pieces) > 1 and " ".join(hits[i].text for i in pieces) == match.text:
        joined = TextHit(name.text, match.box, min(hits[i].score for i in pieces))
        rest = set(pieces[1:])  # the first piece's place takes the joined word
        return [joined if i == pieces[0] else hit for i, hit in enumerate(hits) if i not in rest]
    return None
