"""The enlarged detector pass goes where the small text is (``ocr.enlarge = "small-text"``).

Real PP-OCRv4 models on generated photos: the pass must still fire, and read, where a photo has
small print, and must be skipped where the first pass found no small line (no text, or only big
print): that is where its time is saved.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from screener.config import OcrConfig
from screener.errors import ConfigError

pytest.importorskip("rapidocr_onnxruntime")

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
pytestmark = pytest.mark.skipif(not FONT.exists(), reason="DejaVu fonts (fonts-dejavu-core) are not installed")


def _photo(lines: list[tuple[tuple[int, int], str, int]], size=(1280, 720), seed=3) -> np.ndarray:
    """A street-photo-like backdrop (gradient, blurred clutter, noise) with ``(xy, text, px)``
    lines drawn on light panels."""
    rng = np.random.default_rng(seed)
    width, height = size
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    light = 0.6 + 0.3 * np.exp(-(((xx - width * 0.3) / width) ** 2 + ((yy - height * 0.2) / height) ** 2) * 3)
    image = Image.fromarray(np.clip(np.stack([light * 235, light * 225, light * 205], 2), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x, y, r = int(rng.integers(0, width)), int(rng.integers(0, height)), int(rng.integers(30, 120))
        draw.ellipse((x - r, y - r, x + r, y + r), fill=tuple(int(c) for c in rng.integers(120, 200, size=3)))
    image = image.filter(ImageFilter.GaussianBlur(6))
    draw = ImageDraw.Draw(image)
    for xy, text, px in lines:
        font = ImageFont.truetype(str(FONT), px)
        left, top, right, bottom = draw.textbbox(xy, text, font=font)
        pad = max(4, px // 3)
        draw.rectangle((left - pad, top - pad, right + pad, bottom + pad), fill=(245, 240, 230))
        draw.text(xy, text, font=font, fill=(25, 25, 30))
    noisy = np.asarray(image, dtype=np.float32) + rng.normal(0, 5, (height, width, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _words(hits) -> set[str]:
    return {w.strip(".,:;!?").upper() for h in hits for w in h.text.split()}


@pytest.fixture(scope="module")
def engine():
    from screener.ocr.rapid import RapidOcrEngine

    return RapidOcrEngine(OcrConfig(enlarge="small-text"))


def _bgr(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb[:, :, ::-1])


def test_small_print_gets_the_enlarged_pass_and_its_words_are_read(engine):
    rgb = _photo([((80, 60), "HARBOUR MARKET", 64), ((700, 420), "fresh lemons daily", 12),
                  ((700, 444), "open until seven", 12)])
    detection = engine.detect(_bgr(rgb))
    assert detection.regions, "the small print got no enlarged pass"
    # the regions hold the small print and leave the headline to the 1x pass
    assert all(x1 >= 600 and y1 >= 350 for x1, y1, _, _ in detection.regions), detection.regions
    words = _words(engine(rgb))
    assert {"HARBOUR", "MARKET", "FRESH", "LEMONS", "DAILY", "OPEN", "UNTIL", "SEVEN"} <= words, words


def test_a_photo_without_text_skips_the_enlarged_pass(engine):
    rgb = _photo([])
    detection = engine.detect(_bgr(rgb))
    assert detection.regions == ()
    assert engine(rgb) == ()


def test_big_print_alone_skips_the_enlarged_pass_and_is_read(engine):
    rgb = _photo([((80, 80), "HARBOUR MARKET", 64), ((120, 400), "OPEN DAILY", 72)])
    detection = engine.detect(_bgr(rgb))
    assert detection.regions == ()
    assert {"HARBOUR", "MARKET", "OPEN", "DAILY"} <= _words(engine(rgb))


def test_whole_mode_enlarges_the_whole_photo():
    from screener.ocr.rapid import RapidOcrEngine

    whole = RapidOcrEngine(OcrConfig(enlarge="whole"))
    rgb = _photo([((80, 80), "HARBOUR MARKET", 64)])
    assert whole.detect(_bgr(rgb)).regions == ((0, 0, 1280, 720),)


def test_an_unknown_enlarge_mode_is_a_config_error():
    from screener.ocr.rapid import RapidOcrEngine

    with pytest.raises(ConfigError, match="ocr.enlarge"):
        RapidOcrEngine(OcrConfig(enlarge="everywhere"))
