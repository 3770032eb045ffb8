"""The OCR stage's one call shape, and a factory that builds an engine by name.

An engine is any callable ``engine(image) -> tuple[TextHit, ...]`` taking an RGB uint8 array and
returning text lines (or words) with pixel boxes and a confidence in [0, 1]. Heavy backends
(onnxruntime; the tesseract program) are loaded only when an engine is built, never at package import.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..config import OcrConfig
from ..errors import ConfigError
from ..types import TextHit


@runtime_checkable
class OcrEngine(Protocol):
    """Reads text from a photo."""

    name: str

    def __call__(self, image: np.ndarray) -> tuple[TextHit, ...]: ...


class NoOcr:
    """The engine for ``ocr.engine = "none"``: reads nothing (logo-only screening)."""

    name = "none"

    def __call__(self, image: np.ndarray) -> tuple[TextHit, ...]:
        return ()


def _build_rapidocr(config: OcrConfig) -> OcrEngine:
    from .rapid import RapidOcrEngine

    return RapidOcrEngine(config)


def _build_tesseract(config: OcrConfig) -> OcrEngine:
    from .tess import TesseractEngine

    return TesseractEngine(config)


_FACTORIES: dict[str, Callable[[OcrConfig], OcrEngine]] = {
    "rapidocr": _build_rapidocr,
    "tesseract": _build_tesseract,
    "none": lambda config: NoOcr(),
}


def available_engines() -> tuple[str, ...]:
    return tuple(_FACTORIES)


def build_ocr_engine(config: OcrConfig | None = None, name: str | None = None) -> OcrEngine:
    """Build the engine named by ``name`` (default: ``config.engine``)."""
    config = config or OcrConfig()
    name = name or config.engine
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise ConfigError(f"unknown OCR engine {name!r} (known: {', '.join(_FACTORIES)})") from None
    return factory(config)
