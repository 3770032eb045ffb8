"""The image loader on hostile and odd inputs; every file is made here with Pillow in tmp_path.

Bad inputs must give an InputError (the right subclass) whose message a person understands;
odd but valid images must decode to upright RGB uint8 with the right content.
"""

from __future__ import annotations

import io
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from screener.config import LimitsConfig
from screener.errors import ImageTooLargeError, InputError, UnsupportedFormatError
from screener.io import decode_bytes, load_image, read_file, resize_for_stages

RED, BLUE, WHITE = (220, 20, 20), (20, 20, 220), (255, 255, 255)


# --- makers of bytes ----------------------------------------------------------------------------
def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def marker_image(width: int = 64, height: int = 32) -> Image.Image:
    """Blue with a red block in the top-left corner: orientation is visible in the pixels."""
    image = Image.new("RGB", (width, height), BLUE)
    image.paste(RED, (0, 0, width // 4, height // 4))
    return image


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of width x height zeros: a few hundred KB that would decode to GBs.

    Compressed row by row so that the test itself never holds the pixels either.
    """
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat)
            + png_chunk(b"IEND", b""))


def header_only_png(width: int, height: int) -> bytes:
    """A PNG that only claims its size (the cheapest decompression-bomb header)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + png_chunk(b"IEND", b""))


def with_orientation(upright: Image.Image, orientation: int) -> bytes:
    """A JPEG whose stored pixels, turned by its EXIF orientation tag, give ``upright``."""
    # The inverse of what a viewer applies for each tag (ImageOps.exif_transpose's table).
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
               6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
               8: Image.Transpose.ROTATE_270}[orientation]
    stored = upright.transpose(inverse) if inverse is not None else upright.copy()
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(stored, "JPEG", quality=95, exif=exif.tobytes())


def animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in (RED, BLUE, (20, 200, 20))]
    return encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)


def sixteen_bit_png() -> bytes:
    ramp = (np.arange(64 * 32, dtype=np.uint16).reshape(32, 64) * 32).astype(np.uint16)
    ramp[:8, :16] = 65535
    return encode(Image.fromarray(ramp), "PNG")


def palette_png(transparent: bool) -> bytes:
    image = marker_image().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    if transparent:
        # Make the palette entry of the blue background transparent.
        index = image.getpixel((63, 31))
        return encode(image, "PNG", transparency=index)
    return encode(image, "PNG")


def rgba_png() -> bytes:
    image = Image.new("RGBA", (40, 20), (0, 0, 0, 0))  # fully transparent black
    image.paste((220, 20, 20, 255), (0, 0, 10, 5))
    return encode(image, "PNG")


def corrupt_exif_jpeg() -> bytes:
    """A valid JPEG whose EXIF block is garbage: the pixels must still be used."""
    good = encode(marker_image(), "JPEG", quality=95)
    exif = b"Exif\x00\x00" + b"MM\x00*\x00\x00\x00\x08\xff\xff" + b"\x01" * 20
    app1 = b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif
    return good[:2] + app1 + good[2:]


# --- bad bytes ------------------------------------------------------------------------------------
def _jpeg() -> bytes:
    return encode(marker_image(256, 128), "JPEG", quality=90)


def _png() -> bytes:
    return encode(marker_image(256, 128), "PNG")


BAD_BYTES: list[tuple[str, Callable[[], bytes], type[InputError], str]] = [
    ("empty", lambda: b"", InputError, "empty (0 bytes)"),
    ("truncated jpeg", lambda: _jpeg()[: len(_jpeg()) // 2], InputError, "truncated"),
    ("truncated png", lambda: _png()[: len(_png()) // 2], InputError, "truncated"),
    ("png signature only", lambda: b"\x89PNG\r\n\x1a\n", InputError, "starts like a PNG"),
    ("jpeg header only", lambda: _jpeg()[:20], InputError, "truncated"),
    ("gif header only", lambda: b"GIF89a\x10\x00", InputError, "starts like a GIF"),
    ("webp riff only", lambda: b"RIFF\x10\x00\x00\x00WEBPVP8 ", InputError, "corrupt or truncated"),
    ("random bytes", lambda: np.random.default_rng(7).bytes(5000), UnsupportedFormatError,
     "unrecognised bytes"),
    ("text", lambda: b"This is a listing description, not a photo.\n" * 20,
     UnsupportedFormatError, "looks like text"),
    ("html", lambda: b"<html><img src=x onerror=alert(1)></html>", UnsupportedFormatError, "markup"),
    ("pdf", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", UnsupportedFormatError, "PDF"),
    ("svg", lambda: b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>',
     UnsupportedFormatError, "SVG"),
    ("heic", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64,
     UnsupportedFormatError, "HEIC"),
    ("avif", lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1" + b"\x00" * 64,
     UnsupportedFormatError, "AVIF"),
    ("zip", lambda: b"PK\x03\x04" + b"\x00" * 100, UnsupportedFormatError, "ZIP"),
    # Pillow reads these, the screener does not: the message says which and what is supported.
    ("ppm", lambda: encode(marker_image(), "PPM"), UnsupportedFormatError, "PNM/PPM"),
    ("ico", lambda: encode(marker_image(32, 32), "ICO"), UnsupportedFormatError, "ICO"),
    ("eps", lambda: b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", UnsupportedFormatError,
     "PostScript"),
    ("tga", lambda: encode(marker_image(), "TGA"), UnsupportedFormatError, "supported formats: JPEG"),
    ("pixel bomb 30000x30000", lambda: header_only_png(30000, 30000), ImageTooLargeError,
     "refused before decoding"),
    ("too wide", lambda: header_only_png(40000, 10), ImageTooLargeError, "30000 px a side"),
    ("too many pixels", lambda: header_only_png(12000, 12000), ImageTooLargeError,
     "12000x12000 pixels, over the limit of 100 megapixels"),
    ("no pixels", lambda: header_only_png(0, 10), InputError, ""),
]


@pytest.mark.parametrize("make, error, message", [row[1:] for row in BAD_BYTES],
                         ids=[row[0] for row in BAD_BYTES])
def test_bad_bytes(make: Callable[[], bytes], error: type[InputError], message: str) -> None:
    with pytest.raises(error) as info:
        decode_bytes(make(), name="listing.jpg")
    text = str(info.value)
    assert message in text
    assert "listing.jpg" in text or text.startswith("listing.jpg") or "image" in text
    assert "\n" not in text  # one line: it becomes a CSV cell and an HTML table cell


def test_unsupported_format_names_the_supported_ones() -> None:
    with pytest.raises(UnsupportedFormatError, match=r"supported formats: JPEG, PNG, WebP, GIF, BMP, TIFF"):
        decode_bytes(b"%PDF-1.4", name="scan.pdf.jpg")


def test_real_decompression_bomb_is_refused_before_decoding() -> None:
    """A complete, valid 30,000 x 30,000 PNG: small on disk, 900 megapixels decoded."""
    data = bomb_png(30000, 30000)
    assert len(data) < 200_000
    started = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match="900 megapixels, over the limit of 100 megapixels "
                                                 r"\(limits.max_pixels\); refused before decoding"):
        decode_bytes(data, name="bomb.png")
    # Decoding would take seconds and ~1 GB; refusing reads only the header.
    assert time.perf_counter() - started < 1.0


def test_pixel_limit_comes_from_config() -> None:
    data = encode(marker_image(200, 100), "PNG")
    with pytest.raises(ImageTooLargeError, match="limits.max_pixels"):
        decode_bytes(data, LimitsConfig(max_pixels=10_000))
    with pytest.raises(ImageTooLargeError, match="limits.max_file_bytes"):
        decode_bytes(data, LimitsConfig(max_file_bytes=100))
    assert decode_bytes(data, LimitsConfig(max_pixels=20_000)).size == (200, 100)


# --- odd but valid images -------------------------------------------------------------------------
def mostly(pixels: np.ndarray, colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return bool(np.all(np.abs(pixels.reshape(-1, 3).mean(axis=0) - np.array(colour)) < tolerance))


ODD: list[tuple[str, Callable[[], bytes], tuple[int, int], str]] = [
    # name, bytes, (width, height), note expected ("" = none)
    ("cmyk jpeg", lambda: encode(marker_image().convert("CMYK"), "JPEG", quality=95), (64, 32), ""),
    ("grey jpeg", lambda: encode(marker_image().convert("L"), "JPEG"), (64, 32), ""),
    ("16-bit png", sixteen_bit_png, (64, 32), ""),
    ("palette png", lambda: palette_png(False), (64, 32), ""),
    ("palette png with transparency", lambda: palette_png(True), (64, 32), "composited on white"),
    ("rgba png", rgba_png, (40, 20), "composited on white"),
    ("la png", lambda: encode(Image.new("LA", (8, 8), (0, 0)), "PNG"), (8, 8), "composited on white"),
    ("1-bit png", lambda: encode(marker_image().convert("1"), "PNG"), (64, 32), ""),
    ("animated gif", lambda: animated("GIF"), (40, 30), "animated GIF with 3 frames: screened the first frame"),
    ("animated webp", lambda: animated("WEBP"), (40, 30), "animated WEBP with 3 frames: screened the first frame"),
    ("animated png", lambda: animated("PNG"), (40, 30), "animated PNG with 3 frames"),
    ("webp", lambda: encode(marker_image(), "WEBP", quality=95), (64, 32), ""),
    ("bmp", lambda: encode(marker_image(), "BMP"), (64, 32), ""),
    ("tiff", lambda: encode(marker_image(), "TIFF"), (64, 32), ""),
    ("1x1", lambda: encode(Image.new("RGB", (1, 1), RED), "PNG"), (1, 1), ""),
    ("1x1 jpeg", lambda: encode(Image.new("RGB", (1, 1), RED), "JPEG"), (1, 1), ""),
    ("very wide", lambda: encode(Image.new("RGB", (20000, 3), RED), "PNG"), (20000, 3), ""),
    ("very tall", lambda: encode(Image.new("RGB", (2, 25000), RED), "JPEG"), (2, 25000), ""),
    ("corrupt exif", corrupt_exif_jpeg, (64, 32), "decoder warning: Corrupt EXIF data"),
]


@pytest.mark.parametrize("make, size, note", [row[1:] for row in ODD], ids=[row[0] for row in ODD])
def test_odd_but_valid(make: Callable[[], bytes], size: tuple[int, int], note: str) -> None:
    loaded = decode_bytes(make(), name="odd")
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.ndim == 3 and loaded.pixels.shape[2] == 3
    assert loaded.pixels.flags["C_CONTIGUOUS"]
    assert loaded.size == size
    assert len(loaded.sha256) == 64
    if note:
        assert any(note in n for n in loaded.notes), loaded.notes


def test_colours_survive_conversion() -> None:
    cmyk = decode_bytes(encode(marker_image().convert("CMYK"), "JPEG", quality=95)).pixels
    assert mostly(cmyk[:8, :16], RED) and mostly(cmyk[16:, 32:], BLUE)
    grey = decode_bytes(encode(marker_image().convert("L"), "JPEG")).pixels
    assert np.all(grey[..., 0] == grey[..., 1])
    sixteen = decode_bytes(sixteen_bit_png()).pixels
    assert sixteen[0, 0, 0] == 255 and sixteen[31, 63, 0] == round((31 * 64 + 63) * 32 / 257)
    pal = decode_bytes(palette_png(True)).pixels
    assert mostly(pal[16:, 32:], WHITE, 5) and mostly(pal[:8, :16], RED, 30)  # background -> white
    rgba = decode_bytes(rgba_png()).pixels
    assert mostly(rgba[10:, 20:], WHITE, 1) and mostly(rgba[:5, :10], (220, 20, 20), 1)
    gif = decode_bytes(animated("GIF")).pixels
    assert mostly(gif, RED, 10)  # the first frame, not the last


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation(orientation: int) -> None:
    """Every EXIF orientation gives the same upright image: boxes refer to what people see."""
    upright = marker_image(64, 32)
    loaded = decode_bytes(with_orientation(upright, orientation))
    assert loaded.size == (64, 32)
    assert mostly(loaded.pixels[:8, :16], RED)  # the red block is top-left
    assert mostly(loaded.pixels[24:, 48:], BLUE)


# --- files on disk --------------------------------------------------------------------------------
def test_bad_files_on_disk(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").mkdir()
    (tmp_path / "broken.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "loop.jpg").symlink_to(tmp_path / "loop.jpg")
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")
    cases = {
        "x.jpg": "is a folder, not an image file",
        "broken.jpg": "broken symbolic link",
        "loop.jpg": "symbolic link loop",
        "a.jpg": "symbolic link loop",
        "pipe.jpg": "not a regular file",  # reading it would block the worker forever
        "vanished.jpg": "does not exist",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            load_image(tmp_path / name)


def test_file_size_limit_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(_jpeg())
    with pytest.raises(ImageTooLargeError, match="limits.max_file_bytes"):
        read_file(path, LimitsConfig(max_file_bytes=1000))


def test_non_utf8_name(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9-\xff.jpg"
    with open(raw, "wb") as handle:
        handle.write(_jpeg())
    path = Path(os.fsdecode(raw))
    assert load_image(path).size == (256, 128)
    with open(os.fsencode(tmp_path) + b"/bad\xe9\n.png", "wb") as handle:
        handle.write(b"junk")
    with pytest.raises(InputError) as info:
        load_image(Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xe9\n.png")))
    message = str(info.value)
    assert "bad\\xe9\\n.png" in message and "\n" not in message
    message.encode("utf-8")  # printable, valid UTF-8 (no lone surrogates)


def test_path_bytes_and_pil_inputs_agree(tmp_path: Path) -> None:
    data = _jpeg()
    path = tmp_path / "p.jpg"
    path.write_bytes(data)
    from_path, from_bytes = load_image(path), load_image(data)
    assert from_path.sha256 == from_bytes.sha256 and np.array_equal(from_path.pixels, from_bytes.pixels)
    assert np.array_equal(load_image(Image.open(io.BytesIO(data))).pixels, from_bytes.pixels)


def test_pil_input_is_made_upright() -> None:
    image = Image.open(io.BytesIO(with_orientation(marker_image(64, 32), 6)))
    loaded = load_image(image)
    assert loaded.size == (64, 32) and mostly(loaded.pixels[:8, :16], RED)


def test_nul_in_path() -> None:
    with pytest.raises(InputError, match="not a valid file name"):
        load_image("photo\x00.jpg")


@pytest.mark.parametrize("array, shape", [
    (np.zeros((4, 5), np.uint8), (4, 5, 3)),
    (np.zeros((4, 5, 1), np.uint8), (4, 5, 3)),
    (np.zeros((4, 5, 4), np.uint8), (4, 5, 3)),
    (np.ones((4, 5, 3), np.float32), (4, 5, 3)),
    (np.full((4, 5, 3), 65535, np.uint16), (4, 5, 3)),
    (np.ones((4, 5), bool), (4, 5, 3)),
])
def test_arrays(array: np.ndarray, shape: tuple[int, ...]) -> None:
    pixels = load_image(array).pixels
    assert pixels.shape == shape and pixels.dtype == np.uint8


@pytest.mark.parametrize("source, message", [
    (np.zeros((0, 5, 3), np.uint8), "no pixels"),
    (np.zeros((4, 5, 2), np.uint8), "HxWx3"),
    (np.zeros((4,), np.uint8), "HxWx3"),
    (np.array([[object()]]), "must hold numbers"),
    (12345, "cannot load an image from a int"),
])
def test_bad_arrays_and_types(source: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_image(source)  # type: ignore[arg-type]


def test_resize_for_stages_maps_back() -> None:
    pixels = np.zeros((3, 20000, 3), np.uint8)
    small, scale = resize_for_stages(pixels, 1600)
    assert small.shape[1] == 1600 and small.shape[0] >= 1 and scale == pytest.approx(12.5)
    same, one = resize_for_stages(np.zeros((10, 10, 3), np.uint8), 1600)
    assert one == 1.0 and same.shape == (10, 10, 3)
