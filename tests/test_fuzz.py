"""Fuzzing the boundary: random and mutated bytes into the loader and into Screener.screen.

The only exception allowed out is the project's InputError; anything else (a Pillow or NumPy
error leaking, a crash) would cost a scan its other photos' results.

Budget: ``FUZZ_EXAMPLES`` (default 150) examples per test in an ordinary run; TESTING.md records
the larger budget that was run once (e.g. ``FUZZ_EXAMPLES=5000``). Decoding limits are tighter
than the defaults here (4 megapixels) only so that a mutated header claiming a large, legal size
does not make each example decode 100 megapixels; the size checks themselves are tested in
test_io.py with the default limits.
"""

from __future__ import annotations

import io
import os
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from screener.config import Config, LimitsConfig
from screener.errors import InputError
from screener.io import decode_bytes, load_image

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
LIMITS = LimitsConfig(max_pixels=4_000_000)
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@lru_cache(maxsize=None)
def seeds() -> tuple[bytes, ...]:
    """Small valid files of every supported format (and their variants) to mutate."""
    image = Image.new("RGB", (48, 32), (230, 225, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle((4, 4, 20, 14), fill=(200, 30, 30))
    draw.text((6, 16), "VELT0RA", fill=(10, 10, 10))
    out = []
    for fmt, options in (("JPEG", {"quality": 80}), ("JPEG", {"quality": 90, "progressive": True}),
                         ("PNG", {}), ("GIF", {}), ("WEBP", {"quality": 80}),
                         ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {}),
                         ("TIFF", {"compression": "tiff_deflate"})):
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        out.append(buffer.getvalue())
    # Variants with more structure for the mutations to break: alpha, palette, 16-bit, EXIF,
    # animation, CMYK.
    for mode, fmt in (("RGBA", "PNG"), ("P", "PNG"), ("CMYK", "JPEG"), ("L", "JPEG")):
        buffer = io.BytesIO()
        image.convert(mode).save(buffer, fmt)
        out.append(buffer.getvalue())
    buffer = io.BytesIO()
    Image.fromarray(np.arange(48 * 32, dtype=np.uint16).reshape(32, 48) * 40).save(buffer, "PNG")
    out.append(buffer.getvalue())
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes())
    out.append(buffer.getvalue())
    for fmt in ("GIF", "WEBP", "PNG"):
        buffer = io.BytesIO()
        image.save(buffer, fmt, save_all=True, append_images=[image.rotate(90), image.rotate(180)],
                   duration=50)
        out.append(buffer.getvalue())
    return tuple(out)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid seed with a few random edits: byte changes, bit flips, cuts, inserts, repeats."""
    data = bytearray(draw(st.sampled_from(seeds())))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(("set", "flip", "truncate", "insert", "delete", "repeat",
                                     "header")))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "flip" and data:
            data[pos] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[pos:]
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[pos:pos + draw(st.integers(1, 64))]
        elif kind == "repeat":
            data[pos:pos] = data[pos:pos + draw(st.integers(1, 256))]
        elif kind == "header" and len(data) > 32:
            # Headers hold sizes, counts and offsets: where parsers are most fragile.
            at = draw(st.integers(0, min(len(data), 64) - 1))
            data[at] = draw(st.sampled_from((0x00, 0x01, 0x7F, 0x80, 0xFF)))
    return bytes(data)


def only_input_errors(call) -> None:  # type: ignore[no-untyped-def]
    try:
        call()
    except InputError as exc:
        text = str(exc)
        assert text and "\n" not in text  # one readable line for the error row
        text.encode("utf-8")
        # The loader's last-resort catch keeps a scan alive on an exception type nobody listed;
        # here it must not be reached, so that such a type is found and named in the loader.
        assert "could not be decoded (" not in text, text


@FUZZ
@given(st.binary(min_size=0, max_size=4096))
def test_random_bytes_into_the_loader(data: bytes) -> None:
    only_input_errors(lambda: decode_bytes(data, LIMITS, name="fuzz.jpg"))
    only_input_errors(lambda: load_image(data, LIMITS))


@FUZZ
@given(mutated())
def test_mutated_images_into_the_loader(data: bytes) -> None:
    def call() -> None:
        loaded = decode_bytes(data, LIMITS, name="fuzz.jpg")
        # When it decodes, it decodes to what the stages expect.
        assert loaded.pixels.dtype == np.uint8 and loaded.pixels.ndim == 3
        assert loaded.pixels.shape[2] == 3 and min(loaded.pixels.shape[:2]) >= 1

    only_input_errors(call)


@FUZZ
@given(mutated())
def test_mutated_files_on_disk(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "photo.jpg"
    path.write_bytes(data)
    only_input_errors(lambda: load_image(path, LIMITS))


@pytest.fixture(scope="module")
def decode_only_screener(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A Screener with OCR "none" and the logo stage off.

    Why: this fuzz target is the path from bytes to a result row (load, resize, policy, result
    building); running real OCR on thousands of mutated photos would spend the whole budget in
    the OCR model without exercising more of that path. The real pipeline gets its own example
    below.
    """
    from screener.brands import BrandRegistry
    from screener.pipeline import Screener

    registry = BrandRegistry(tmp_path_factory.mktemp("reg"))
    registry.add("Veltora")
    registry.save()
    config = Config().replace(ocr__engine="none", logo__enabled=False).merged(
        {"limits": {"max_pixels": LIMITS.max_pixels}})
    return Screener(BrandRegistry.load(registry.root), config)


@FUZZ
@given(st.one_of(mutated(), st.binary(max_size=2048)))
def test_mutated_bytes_into_screen(decode_only_screener, data: bytes) -> None:  # type: ignore[no-untyped-def]
    def call() -> None:
        result = decode_only_screener.screen(data, path="fuzz.jpg")
        assert result.status == "ok" and result.verdict in ("clear", "review", "suspect")
        assert result.to_dict()["path"] == "fuzz.jpg"

    only_input_errors(call)


@FUZZ
@given(mutated())
def test_screen_file_never_raises(tmp_path_factory: pytest.TempPathFactory, decode_only_screener,  # type: ignore[no-untyped-def]
                                  data: bytes) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "photo.png"
    path.write_bytes(data)
    result = decode_only_screener.screen_file(path)  # error rows, never exceptions
    assert result.status in ("ok", "error")
    assert (result.error is None) == (result.status == "ok")


def test_one_mutated_photo_through_the_real_pipeline(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default stages (real OCR; the logo stage when the registry has logos) on a photo whose
    compressed data was damaged near the end: it decodes with garbage at the bottom, and the
    text at the top is still read and flagged. A cut version is one InputError."""
    from PIL import ImageFont

    from screener.brands import BrandRegistry
    from screener.pipeline import Screener

    image = Image.new("RGB", (640, 240), (235, 232, 225))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", 64)
    draw.text((30, 20), "REPLICA", fill=(10, 10, 10), font=font)
    draw.rectangle((0, 180, 640, 240), fill=(90, 60, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    clean = buffer.getvalue()
    damaged = None
    for offset in range(int(len(clean) * 0.9), len(clean) - 4):  # deterministic: first that decodes
        candidate = bytearray(clean)
        candidate[offset] ^= 0x5A
        if candidate[offset] == 0xFF or candidate[offset - 1] == 0xFF:
            continue  # keep JPEG markers intact
        try:
            loaded = decode_bytes(bytes(candidate))
        except InputError:
            continue
        if not np.array_equal(loaded.pixels, decode_bytes(clean).pixels):
            damaged = bytes(candidate)
            break
    assert damaged is not None
    registry = BrandRegistry(tmp_path / "reg")
    registry.add("Veltora")
    registry.save()
    screener = Screener.from_registry(registry.root)
    result = screener.screen(damaged, path="damaged.jpg")
    assert result.status == "ok"
    assert any("replica" in t.text.lower() for t in result.texts), result.texts
    assert "counterfeit_cue" in {f.kind for f in result.flags}
    with pytest.raises(InputError, match="corrupt or truncated"):
        screener.screen(clean[: len(clean) // 2], path="cut.jpg")
