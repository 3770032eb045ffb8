"""The logo stage's one call shape.

A logo stage is a callable ``stage(image, texts) -> tuple[LogoHit, ...]``: it takes the RGB uint8
photo and the OCR stage's text hits (optional hints for where marks are) and returns every region
whose similarity to some registered reference logo reaches the model's ``near_threshold`` (see
:mod:`screener.logo.operating_point`), at most one hit per brand (its best box). The policy
decides genuine versus imitation. ``fingerprint`` identifies the model, so stored scan results are
re-screened when the model changes.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..types import LogoHit, TextHit


@runtime_checkable
class LogoStage(Protocol):
    """Finds registered brands' logos in a photo."""

    fingerprint: str

    def __call__(self, image: np.ndarray, texts: tuple[TextHit, ...] = ()) -> tuple[LogoHit, ...]: ...


class NoLogoStage:
    """The stage used when ``logo.enabled = false`` or no brand has a reference logo."""

    fingerprint = "none"

    def __call__(self, image: np.ndarray, texts: tuple[TextHit, ...] = ()) -> tuple[LogoHit, ...]:
        return ()
