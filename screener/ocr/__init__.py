"""The OCR stage: engines behind one interface (see :mod:`screener.ocr.base`)."""

from .base import OcrEngine, build_ocr_engine, available_engines

__all__ = ["OcrEngine", "build_ocr_engine", "available_engines"]
