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
