"""`Screener`: composes the stages — load → OCR → logo → policy — into one call per photo.

Stages are passed in or built by name from the config, so tests and users can swap them::

    screener = Screener.from_registry("sample_images/brands")
    result = screener.screen("listing.jpg")

Large photos are downscaled to ``STAGE_MAX_SIDE`` for the stages; boxes are mapped back to
the EXIF-corrected original, so a box always refers to the image the caller has.
"""

from __future__ import annotations

import dataclasses
import time
from functools import cached_property
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import __version__
from .brands import BrandRegistry
from .config import Config
from .errors import InputError
from .io import (STAGE_MAX_SIDE, ImageInput, LoadedImage, decode_bytes, load_image, read_file,
                 resize_for_stages, sha256_bytes)
from .logo.base import LogoStage, NoLogoStage
from .ocr.base import OcrEngine, build_ocr_engine
from .ocr.glyphs import GlyphChecker
from .ocr.reread import SecondReading
from .policy import Policy
from .types import Box, LogoHit, ScreenResult, TextHit


class Screener:
    """Screens product photos for suspect brand marks against a brand registry."""

    def __init__(self, registry: BrandRegistry, config: Config | None = None,
                 ocr: OcrEngine | None = None, logo: LogoStage | None = None,
                 policy: Policy | None = None, all_logos: bool = False):
        """``all_logos``: results list every hit the logo stage reported, also those the policy
        did not count (fitting and benchmarks read them); by default only the counted ones."""
        self.registry = registry
        self.all_logos = all_logos
        self.config = config or Config()
        self.ocr = ocr if ocr is not None else build_ocr_engine(self.config.ocr)
        self.policy = policy if policy is not None else Policy(registry, self.config)
        self.logo = logo if logo is not None else _build_logo_stage(registry, stage_config(self.config, self.policy))
        recheck = self.config.ocr.recheck_names
        self.glyphs = GlyphChecker([n for b in registry for n in b.names]) if recheck else None
        # The policy's own name matcher: the second reading must call "altered" what the policy does.
        self.second_reading = SecondReading(self.ocr, self.policy.names) if recheck else None

    @classmethod
    def from_registry(cls, path: str | Path, config: Config | None = None) -> "Screener":
        """Load the registry folder and build the stages the config names."""
        return cls(BrandRegistry.load(path), config)

    @cached_property
    def fingerprint(self) -> str:
        """Identifies everything that can change a result: package, models, engine, registry, config."""
        parts = (__version__, getattr(self.logo, "fingerprint", type(self.logo).__name__),
                 getattr(self.ocr, "name", type(self.ocr).__name__), self.registry.digest(),
                 self.config.fingerprint())
        return "-".join(str(p) for p in parts)

    # --- one photo -------------------------------------------------------------------------------
    def screen(self, image: ImageInput | LoadedImage, path: str = "") -> ScreenResult:
        """Screen one photo. Raises :class:`InputError` if it cannot be read."""
        started = time.perf_counter()
        loaded = image if isinstance(image, LoadedImage) else load_image(image, self.config.limits)
        if not path and isinstance(image, (str, Path)):
            path = str(image)
        timings = {"decode": time.perf_counter() - started}
        return self._screen_loaded(loaded, path, timings)

    def screen_file(self, path: str | Path) -> ScreenResult:
        """Screen one file; an unreadable file gives an ``error`` row instead of an exception."""
        shown = _show(path)
        started = time.perf_counter()
        try:
            data = read_file(path, self.config.limits)
        except InputError as exc:
            return ScreenResult.failed(shown, "", str(exc))
        digest = sha256_bytes(data)
        try:
            loaded = decode_bytes(data, self.config.limits, name=Path(shown).name)
        except InputError as exc:
            return ScreenResult.failed(shown, digest, str(exc))
        return self._screen_loaded(loaded, shown, {"decode": time.perf_counter() - started})

    def scan(self, paths: Iterable[str | Path]) -> Iterator[ScreenResult]:
        """Screen every image file under ``paths`` (files and folders, recursive), in order."""
        from .files import iter_photo_paths

        for path in iter_photo_paths(paths):
            yield self.screen_file(path)

    # --- the stages ------------------------------------------------------------------------------
    def _screen_loaded(self, loaded: LoadedImage, path: str, timings: dict[str, float]) -> ScreenResult:
        pixels, scale = resize_for_stages(loaded.pixels, STAGE_MAX_SIDE)

        started = time.perf_counter()
        texts = tuple(self.ocr(pixels))
        reread: tuple[str, ...] = ()
        if self.second_reading is not None:  # before the glyph check, which looks at exact names
            texts, reread = self.second_reading(pixels, texts)
        if self.glyphs is not None:
            texts = self.glyphs(pixels, texts)
        timings["ocr"] = time.perf_counter() - started

        started = time.perf_counter()
        logos = tuple(self.logo(pixels, texts))
        timings["logo"] = time.perf_counter() - started

        texts, logos = _scale_texts(texts, scale, loaded.pixels), _scale_logos(logos, scale, loaded.pixels)
        started = time.perf_counter()
        decision = self.policy(texts, logos, size=loaded.size)
        timings["policy"] = time.perf_counter() - started
        notes = loaded.notes + reread + ((f"downscaled by {scale:.2f} for screening; boxes refer to the "
                                 "original",) if scale != 1.0 else ())
        return ScreenResult(path=path, sha256=loaded.sha256, status="ok", error=None,
                            verdict=decision.verdict, risk=decision.risk, texts=texts,
                            logos=logos if self.all_logos else decision.logos,
                            brands=decision.brands, flags=decision.flags, timings=timings,
                            notes=notes, size=loaded.size)


def stage_config(config: Config, policy: Policy) -> Config:
    """The config the logo stage is built with: a fitted decision judges hits from its own floor
    (``LogoDecision.report_floor``: the lowest network score it accepted on the fitting half, and
    the rivals its margin counts), below the rules' ``near_threshold``, so the stage must report
    them."""
    if policy.decision is None or policy.decision.report_floor >= config.logo.point.near_threshold:
        return config
    return config.replace(logo__operating_point={"near_threshold": policy.decision.report_floor})


def _build_logo_stage(registry: BrandRegistry, config: Config) -> LogoStage:
    if not config.logo.enabled or not any(b.logos for b in registry):
        return NoLogoStage()
    from .logo.matcher import build_logo_stage

    return build_logo_stage(registry, config)


def _scale_box(box: Box, scale: float, pixels: np.ndarray) -> Box:
    height, width = pixels.shape[:2]
    x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
    return (max(0, min(x1, width)), max(0, min(y1, height)), max(0, min(x2, width)), max(0, min(y2, height)))


def _scale_texts(texts: tuple[TextHit, ...], scale: float, pixels: np.ndarray) -> tuple[TextHit, ...]:
    if scale == 1.0:
        return texts
    return tuple(TextHit(t.text, _scale_box(t.box, scale, pixels), t.score) for t in texts)


def _scale_logos(logos: tuple[LogoHit, ...], scale: float, pixels: np.ndarray) -> tuple[LogoHit, ...]:
    if scale == 1.0:
        return logos
    return tuple(dataclasses.replace(h, box=_scale_box(h.box, scale, pixels)) for h in logos)


def _show(path: str | Path) -> str:
    # Non-UTF-8 bytes of a name show as \xNN (the bytes on disk), not as \udcNN surrogates.
    from .files import display_path

    return display_path(path)
