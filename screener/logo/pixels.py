"""Small pixel helpers shared by the logo matchers."""

from __future__ import annotations

import cv2
import numpy as np


def grey_on_white(rgb: np.ndarray, alpha: np.ndarray | None = None) -> np.ndarray:
    """A logo in grey, laid on white where it is transparent (as it is usually printed)."""
    if alpha is not None:
        a = alpha.astype(np.float32)[..., None] / 255.0
        rgb = (rgb.astype(np.float32) * a + 255.0 * (1 - a)).astype(np.uint8)
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


class LogoFile:
    """A reference logo file's bytes, decoded only when its pixels are asked for.

    A warm start has every product of a reference in the cache (embeddings, SIFT keypoints), so
    decoding the file is only needed when one is missing, or once a photo needs the reference's
    pixels (the SIFT appearance check, ECC alignment): 6.7 s of a 35.5 s warm start at 1,000
    brands went to decoding 5,000 files up front (BENCHMARKS.md). The bytes are kept, not the
    path, so what is decoded later is what the cache keys were made from."""

    __slots__ = ("data", "brand", "name", "sha256")

    def __init__(self, data: bytes, brand: str = "", name: str = "") -> None:
        import hashlib

        self.data = data
        self.brand = brand
        self.name = name
        self.sha256 = hashlib.sha256(data).hexdigest()

    def pixels(self) -> tuple[np.ndarray, np.ndarray | None]:
        """RGB and alpha (None when opaque), as :func:`screener.logo.matcher.read_logo` gives."""
        from ..errors import RegistryError
        from .matcher import read_logo

        try:
            return read_logo(self.data)
        except Exception as exc:  # PIL raises many types for a bad file
            raise RegistryError(f"brand {self.brand!r}: reference logo {self.name} cannot be read: {exc}") from exc
