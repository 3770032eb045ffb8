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

import errno
import hashlib
import io
import os
import re
import stat
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

from .config import LimitsConfig
from .errors import ImageTooLargeError, InputError, UnsupportedFormatError

# The formats the screener reads (Pillow names) and the file suffixes a scan picks up.
SUPPORTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO")
SUPPORTED_TEXT = "JPEG, PNG, WebP, GIF, BMP, TIFF"
_OPEN_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")  # Pillow opens MPO via its JPEG parser
# Any one side, checked before decoding beside limits.max_pixels: no photo is 30,000 px long, and a
# 1 x 100M "image" within the pixel limit would still choke every stage.
MAX_SIDE = 30_000
# Larger photos are downscaled to this long side for the stages (boxes mapped back): the OCR
# detector and the logo stage's working copy use less anyway.
STAGE_MAX_SIDE = 1600
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
    """Read a photo file's bytes with clear errors for missing, unreadable, empty or huge files.

    Only regular files are read: a FIFO or device named ``x.jpg`` would otherwise block a scan
    worker forever or stream without end.
    """
    path = Path(path)
    shown = _show(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise InputError(f"{shown} is a broken symbolic link (its target does not exist)") from None
        raise InputError(f"{shown} does not exist (moved or deleted?)") from None
    except OSError as exc:
        raise InputError(_os_message(shown, exc)) from None
    except ValueError:  # a NUL byte in the path
        raise InputError(f"{shown} is not a valid file name") from None
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{shown} is a folder, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{shown} is not a regular file (a device, pipe or socket); not read")
    if info.st_size > limits.max_file_bytes:
        raise ImageTooLargeError(f"{shown} is {info.st_size / 1e6:.1f} MB, over the "
                                 f"{limits.max_file_bytes / 1e6:.0f} MB limit (limits.max_file_bytes)")
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_file_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{shown} vanished while it was being read (moved or deleted?)") from None
    except OSError as exc:
        raise InputError(_os_message(shown, exc)) from None
    if len(data) > limits.max_file_bytes:  # grew while we read it
        raise ImageTooLargeError(f"{shown} is over the {limits.max_file_bytes / 1e6:.0f} MB limit "
                                 "(limits.max_file_bytes)")
    return data


def _os_message(shown: str, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return f"{shown} is a symbolic link loop (it points back at itself)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"{shown} cannot be read: permission denied"
    if exc.errno == errno.ENAMETOOLONG:
        return f"{shown} cannot be read: the name is too long"
    return f"cannot read {shown}: {exc.strerror or exc}"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def load_image(source: ImageInput, limits: LimitsConfig = LimitsConfig()) -> LoadedImage:
    """Decode any supported input into an upright RGB uint8 image.

    Raises :class:`InputError` (or a subclass) with a readable message for anything it cannot
    read; never any other exception for bad bytes.
    """
    from PIL import Image

    if isinstance(source, np.ndarray):
        if source.ndim >= 2:
            _check_dimensions((int(source.shape[1]), int(source.shape[0])), limits, "the array")
        return LoadedImage(pixels=_array_to_rgb(source), sha256="")
    if isinstance(source, Image.Image):
        _check_dimensions(source.size, limits, "image")
        try:
            upright, exif_notes = _upright(source)  # as for files: boxes refer to the upright image
            pixels, notes = _pil_to_rgb(upright)
        except _DECODER_ERRORS as exc:
            raise InputError(f"the PIL image cannot be converted to RGB: {_short(exc)}") from None
        return LoadedImage(pixels=pixels, sha256="", notes=exif_notes + notes)
    if isinstance(source, (str, Path)):
        data = read_file(source, limits)
        return decode_bytes(data, limits, name=_show(Path(source)))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return decode_bytes(bytes(source), limits)
    raise InputError(f"cannot load an image from a {type(source).__name__}; pass a path, bytes, "
                     "a numpy array or a PIL image")


def decode_bytes(data: bytes, limits: LimitsConfig = LimitsConfig(), name: str = "image") -> LoadedImage:
    """Decode file bytes (see :func:`load_image`)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InputError(f"{name} is empty (0 bytes)")
    if len(data) > limits.max_file_bytes:
        raise ImageTooLargeError(f"{name} is over the {limits.max_file_bytes / 1e6:.0f} MB limit "
                                 "(limits.max_file_bytes)")
    digest = sha256_bytes(data)
    try:
        with warnings.catch_warnings(record=True) as caught:
            # Pillow warns about what it could repair (corrupt EXIF, odd chunks): recorded as
            # notes on this photo rather than printed into a scan's progress output. Its bomb
            # warning fires at its own limit; ours (below) is the one that counts.
            warnings.simplefilter("always")
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Only the supported formats' parsers ever see the bytes: Pillow would otherwise try
            # every plugin it has (EPS even runs Ghostscript when loaded).
            image = Image.open(io.BytesIO(data), formats=_OPEN_FORMATS)
            fmt = image.format or "unknown"
            # Only the header is read so far: huge images are refused before any pixel is decoded.
            _check_dimensions(image.size, limits, name)
            notes: list[str] = []
            if getattr(image, "is_animated", False):
                frames = getattr(image, "n_frames", 2)
                what = "multi-picture" if fmt in ("MPO", "TIFF") else "animated"
                notes.append(f"{what} {fmt} with {frames} frames: screened the first frame")
                image.seek(0)
            image.load()
            image, exif_notes = _upright(image)
            pixels, more_notes = _pil_to_rgb(image)
        warned = tuple(dict.fromkeys(f"decoder warning: {_short(w.message)}" for w in caught
                                     if issubclass(w.category, UserWarning)))
    except InputError:
        raise
    except UnidentifiedImageError:
        raise _unidentified(data, name) from None
    except Image.DecompressionBombError as exc:
        # Pillow's own guard (at twice Image.MAX_IMAGE_PIXELS) fires inside open(), before ours.
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:g} megapixels" if found else "too many pixels"
        raise ImageTooLargeError(
            f"{name} has {size}, over the limit of {limits.max_pixels / 1e6:g} megapixels "
            "(limits.max_pixels); refused before decoding as a possible decompression bomb") from None
    except MemoryError:
        raise ImageTooLargeError(f"{name} needs more memory to decode than is available") from None
    except _DECODER_ERRORS as exc:
        raise InputError(f"{name} is corrupt or truncated ({_short(exc)})") from None
    except Exception as exc:  # noqa: BLE001
        # A decoder fed hostile bytes can fail in ways no list anticipates; one photo's bad
        # bytes must become that photo's error row, never a crashed scan. The type stays in the
        # message so that a genuine bug remains visible.
        raise InputError(f"{name} could not be decoded ({type(exc).__name__}: {_short(exc)})") from None
    return LoadedImage(pixels=pixels, sha256=digest,
                       notes=tuple(notes) + exif_notes + more_notes + warned)


# What Pillow raises on bad bytes (struct.error: short binary headers; UnicodeDecodeError is a
# ValueError; RecursionError is a RuntimeError).
_DECODER_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, KeyError, ZeroDivisionError,
    OverflowError, RuntimeError, AttributeError, struct.error)


def _upright(image: "PIL.Image.Image") -> tuple["PIL.Image.Image", tuple[str, ...]]:  # noqa: F821
    """Apply the EXIF orientation, so boxes refer to the upright image.

    Broken EXIF is common in the wild and does not make the pixels unusable: the image is then
    used as stored, with a note.
    """
    from PIL import ImageOps

    try:
        return (ImageOps.exif_transpose(image) or image), ()
    except _DECODER_ERRORS as exc:
        return image, (f"EXIF orientation unreadable ({_short(exc)}); used the image as stored",)


def _check_dimensions(size: tuple[int, int], limits: LimitsConfig, name: str) -> None:
    width, height = size
    if width <= 0 or height <= 0:
        raise InputError(f"{name} has no pixels ({width}x{height})")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f"{name} is {width}x{height} pixels, over the limit of {limits.max_pixels / 1e6:g} "
            f"megapixels (limits.max_pixels) or {MAX_SIDE} px a side; refused before decoding")


def _pil_to_rgb(image: "PIL.Image.Image") -> tuple[np.ndarray, tuple[str, ...]]:  # noqa: F821
    from PIL import Image

    notes: list[str] = []
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale maps 0..65535 to 0..255 (a dark 16-bit photo stays dark). Mode "I"
        # (32-bit) is what some decoders give for 16-bit data too, and what an 8-bit image
        # becomes after arithmetic: values over 255 mean a 16-bit range.
        arr = np.asarray(image, dtype=np.float64)
        sixteen = mode != "I" or float(arr.max(initial=0.0)) > 255.0
        grey = np.clip(arr / (257.0 if sixteen else 1.0), 0, 255).round().astype(np.uint8)
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
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * 255
    elif array.dtype.kind not in "uif":
        raise InputError(f"an image array must hold numbers, got dtype {array.dtype}")
    if array.dtype == np.uint16:  # 16-bit pixels (OpenCV's IMREAD_ANYDEPTH): keep the tones
        array = (array.astype(np.float32) / 257.0).round()
    if array.dtype != np.uint8:
        if np.issubdtype(array.dtype, np.floating):
            top = float(np.nanmax(array)) if array.size else 1.0
            array = np.nan_to_num(array * (255.0 if top <= 1.0 else 1.0))
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.shape[2] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255.0
        array = (array[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(array)


# Magic bytes of the formats the screener reads, to tell "corrupt PNG" from "not an image".
_SUPPORTED_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"),
                    (b"GIF89a", "GIF"), (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))
# Formats people send that the screener does not read, named so the message can say which.
_OTHER_MAGIC = (
    (b"%PDF", "a PDF document"), (b"%!PS", "a PostScript/EPS file"),
    (b"\xc5\xd0\xd3\xc6", "an EPS file"), (b"8BPS", "a Photoshop PSD file"),
    (b"\x00\x00\x01\x00", "an ICO icon"), (b"PK\x03\x04", "a ZIP archive"),
    (b"\x1f\x8b", "a gzip archive"), (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"\xffO\xffQ", "a JPEG 2000 image"), (b"\xff\x0a", "a JPEG XL image"),
    (b"\x00\x00\x00\x0cJXL ", "a JPEG XL image"), (b"qoif", "a QOI image"),
    (b"v/1\x01", "an OpenEXR image"), (b"DDS ", "a DDS texture"), (b"icns", "an ICNS icon"),
    (b"\x7fELF", "a program (ELF executable)"), (b"MZ", "a Windows program"),
)


def _unidentified(data: bytes, name: str) -> InputError:
    """The error for bytes no supported parser accepted: corrupt, or which other format."""
    head = data[:64]
    for magic, fmt in _SUPPORTED_MAGIC:
        if head.startswith(magic):
            return InputError(f"{name} is corrupt or truncated (it starts like a {fmt} file, but "
                              "its header cannot be read)")
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return InputError(f"{name} is corrupt or truncated (it starts like a WebP file, but its "
                          "header cannot be read)")
    return UnsupportedFormatError(f"{name} is not an image the screener reads ({_sniff(data)}); "
                                  f"supported formats: {SUPPORTED_TEXT}")


def _sniff(data: bytes) -> str:
    """What unreadable bytes look like, in words."""
    head = data[:64]
    for magic, what in _OTHER_MAGIC:
        if head.startswith(magic):
            return f"looks like {what}"
    if head[4:8] == b"ftyp":  # ISO media: HEIC/AVIF photos or MP4/MOV video
        brand = head[8:12]
        if brand in (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"):
            return "looks like a HEIC/HEIF photo (convert it to JPEG)"
        if brand in (b"avif", b"avis"):
            return "looks like an AVIF image"
        return "looks like a video (MP4/MOV)"
    if head[:4] == b"RIFF":
        return "looks like a RIFF media file (audio or video)"
    if len(head) > 2 and head[:1] == b"P" and head[1:2] in b"1234567" and head[2:3].isspace():
        return "looks like a PNM/PPM image"
    stripped = head.lstrip()
    if stripped[:4].lower() == b"<svg" or (stripped.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        return "looks like an SVG drawing"
    if stripped[:1] == b"<":
        return "looks like markup text (HTML/XML)"
    if stripped[:1] in (b"{", b"["):
        return "looks like JSON text"
    try:
        text = data[:512].decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < 508:  # not a multi-byte character cut by the 512-byte window
            return "unrecognised bytes"
        text = data[:exc.start].decode("utf-8")
    if any(c < " " and c not in "\t\n\r\f" for c in text):
        return "unrecognised bytes"  # control bytes: binary that happens to be valid UTF-8
    return "looks like text"


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 200 else text[:200] + "…"


def _show(path: str | os.PathLike[str]) -> str:
    """A printable form of a path: bytes that are not UTF-8 show as ``\\xNN``, control characters
    (a newline in a file name) as escapes, so messages stay on one line and valid UTF-8."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() or c == " " else c.encode("unicode_escape").decode("ascii")
                   for c in text)


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
