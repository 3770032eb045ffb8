"""One image loader at the boundary: path, bytes, numpy array or PIL image in; RGB uint8 out.

Photos come from strangers, so the loader is the one place that distrusts input:
- sizes are checked *before* decoding (a 30,000 x 30,000 PNG of a few kilobytes is refused
  without allocating its pixels);
- EXIF orientation is applied, so boxes refer to the upright image;
- alpha is composited on white, CMYK/greyscale/16-bit/palette images become RGB;
- animated images give their first frame, with a note saying so;
- every failure is an :class:`InputError` whose message a person understands.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from .config import LimitsConfig
from .errors import ImageTooLargeError, InputError, UnsupportedFormatError

# The formats the screener reads (Pillow names) and the file suffixes a scan picks up.
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".jfif")

ImageInput = Union[str, Path, bytes, bytearray, memoryview, np.ndarray, "PIL.Image.Image"]  # noqa: F821


@dataclass(frozen=True)
class LoadedImage:
    """A decoded photo: upright RGB pixels plus what is worth knowing about the input."""

    pixels: np.ndarray  # H x W x 3, uint8, RGB
    sha256: str  # of the file bytes ("" for arrays and PIL images passed in memory)
    notes: tuple[str, ...] = ()

    @property
    def size(self) -> tuple[int, int]:
        return (int(self.pixels.shape[1]), int(self.pixels.shape[0]))


def read_file(path: str | Path, limits: LimitsConfig = LimitsConfig()) -> bytes:
    """Read a photo file's bytes with clear errors for missing, unreadable, empty or huge files."""
    path = Path(path)
    try:
        if path.is_dir():
            raise InputError(f"{_show(path)} is a folder, not an image file")
        size = path.stat().st_size
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{_show(path)} is a broken symbolic link") from None
        raise InputError(f"{_show(path)} does not exist (moved or deleted?)") from None
    except OSError as exc:
        raise InputError(f"cannot read {_show(path)}: {exc.strerror or exc}") from None
    if size > limits.max_file_bytes:
        raise ImageTooLargeError(f"{_show(path)} is {size / 1e6:.1f} MB, over the "
                                 f"{limits.max_file_bytes / 1e6:.0f} MB limit (limits.max_file_bytes)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise InputError(f"cannot read {_show(path)}: {exc.strerror or exc}") from None
    if len(data) > limits.max_file_bytes:  # grew while we read it
        raise ImageTooLargeError(f"{_show(path)} is over the {limits.max_file_bytes / 1e6:.0f} MB limit")
    return data


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_image(source: ImageInput, limits: LimitsConfig = LimitsConfig()) -> LoadedImage:
    """Decode any supported input into an upright RGB uint8 image.

    Raises :class:`InputError` (or a subclass) with a readable message for anything it cannot
    read; never any other exception for bad bytes.
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        return LoadedImage(pixels=_array_to_rgb(source), sha256="")
    if isinstance(source, Image.Image):
        _check_dimensions(source.size, limits, "image")
        pixels, notes = _pil_to_rgb(source)
        return LoadedImage(pixels=pixels, sha256="", notes=notes)
    if isinstance(source, (str, Path)):
        data = read_file(source, limits)
        return decode_bytes(data, limits, name=_show(Path(source)))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes(bytes(source), limits)
    raise InputError(f"cannot load an image from a {type(source).__name__}; pass a path, bytes, "
                     "a numpy array or a PIL image")


def decode_bytes(data: bytes, limits: LimitsConfig = LimitsConfig(), name: str = "image") -> LoadedImage:
    """Decode file bytes (see :func:`load_image`)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise ImageTooLargeError(f"{name} is over the {limits.max_file_bytes / 1e6:.0f} MB limit")
    digest = sha256_bytes(data)
    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check warns or raises at its own limit; ours comes first.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            fmt = image.format or "unknown"
            if fmt not in SUPPORTED_FORMATS:
                raise UnsupportedFormatError(
                    f"{name} is a {fmt} image; supported formats: {', '.join(SUPPORTED_FORMATS)}")
            _check_dimensions(image.size, limits, name)
            notes: list[str] = []
            frames = getattr(image, "n_frames", 1)
            if frames > 1:
                notes.append(f"animated {fmt} with {frames} frames: screened the first frame")
                image.seek(0)
            image.load()
            image = ImageOps.exif_transpose(image) or image
            pixels, more_notes = _pil_to_rgb(image)
    except InputError:
        raise
    except UnidentifiedImageError:
        raise UnsupportedFormatError(
            f"{name} is not an image ({_sniff(data)}); supported formats: "
            f"{', '.join(SUPPORTED_FORMATS)}") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{name} refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError,
            ZeroDivisionError, struct_error(), MemoryError) as exc:
        raise InputError(f"{name} is corrupt or truncated: {_short(exc)}") from None
    return LoadedImage(pixels=pixels, sha256=digest, notes=tuple(notes) + more_notes)


def struct_error() -> type[Exception]:
    import struct

    return struct.error


def _check_dimensions(size: tuple[int, int], limits: LimitsConfig, name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InputError(f"{name} has no pixels ({width}x{height})")
    if width > limits.max_side or height > limits.max_side or width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} pixels, over the limit of {limits.max_pixels / 1e6:.0f} "
            f"megapixels or {limits.max_side} px a side (limits.max_pixels, limits.max_side); "
            "refused before decoding")


def _pil_to_rgb(image: "PIL.Image.Image") -> tuple[np.ndarray, tuple[str, ...]]:  # noqa: F821
    from PIL import Image

    notes: list[str] = []
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16/32-bit greyscale: scale to 8 bits by the image's own range.
        arr = np.asarray(image, dtype=np.float64)
        top = max(float(arr.max()), 1.0)
        scale = 255.0 / (65535.0 if top > 255 else 255.0)
        grey = np.clip(arr * scale, 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1)), tuple(notes)
    if mode == "F":
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        grey = ((arr - lo) / max(hi - lo, 1e-9) * 255).astype(np.uint8)
        return np.ascontiguousarray(np.stack([grey] * 3, axis=-1)), tuple(notes)
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if mode in ("RGBA", "LA", "PA") or image.mode in ("RGBA", "LA", "PA") or (
            mode == "RGB" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
        notes.append("transparent pixels composited on white")
    rgb = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)), tuple(notes)


def _array_to_rgb(array: np.ndarray) -> np.ndarray:
    if array.size == 0:
        raise InputError("the array is empty")
    if array.ndim == 2:
        array = np.stack([array] * 3, axis=-1)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4):
        raise InputError(f"an image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            top = float(np.nanmax(array)) if array.size else 1.0
            array = np.nan_to_num(array * (255.0 if top <= 1.0 else 1.0))
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


def _sniff(data: bytes) -> str:
    head = data[:16]
    for magic, what in ((b"%PDF", "a PDF document"), (b"PK\x03\x04", "a ZIP archive"),
                        (b"\x00\x00\x00\x1cftypavif", "an AVIF image"), (b"<", "markup text"),
                        (b"{", "JSON text"), (b"\x1f\x8b", "a gzip archive")):
        if head.startswith(magic):
            return f"looks like {what}"
    if b"ftypheic" in head or b"ftypheix" in head or b"ftypmif1" in head:
        return "looks like a HEIC image, which is not supported"
    try:
        data[:512].decode("utf-8")
        return "looks like text"
    except UnicodeDecodeError:
        return "unrecognised bytes"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def _show(path: Path) -> str:
    """A printable form of a path, even when its name is not valid UTF-8."""
    return str(path).encode("utf-8", "backslashreplace").decode("utf-8")


def resize_for_stages(pixels: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Downscale so the longer side is at most ``max_side``; returns (image, scale to original).

    Stages see the smaller image; multiply their boxes by the returned factor to map back.
    """
    height, width = pixels.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return pixels, 1.0
    factor = max_side / longest
    import cv2

    small = cv2.resize(pixels, (max(1, round(width * factor)), max(1, round(height * factor))),
                       interpolation=cv2.INTER_AREA)
    return small, longest / max_side
