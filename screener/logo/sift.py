"""Geometric matching with OpenCV SIFT + RANSAC: the classical floor the CNN stage is measured
against, and an optional check for textured logos.

A reference logo is found in a photo when enough SIFT matches (Lowe's ratio test) agree on one
homography (RANSAC). Flat, texture-poor marks give few keypoints, which is why this is a floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np


@dataclass(frozen=True)
class SiftReference:
    brand: str
    keypoints: np.ndarray  # K x 2 float32 positions
    descriptors: np.ndarray  # K x 128 float32


class SiftMatcher:
    """Counts RANSAC-consistent SIFT matches between a photo and each reference."""

    def __init__(self, references: Sequence[tuple[str, np.ndarray]], ratio: float = 0.8,
                 max_side: int = 800) -> None:
        self.sift = cv2.SIFT_create()
        self.ratio = ratio
        self.max_side = max_side
        self.references: list[SiftReference] = []
        for brand, rgb in references:
            grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
            if max(grey.shape) < 200:  # small crops give too few keypoints at their own size
                f = 200 / max(grey.shape)
                grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_CUBIC)
            kps, desc = self.sift.detectAndCompute(grey, None)
            if desc is not None and len(kps) >= 4:
                self.references.append(SiftReference(brand, np.float32([k.pt for k in kps]), desc))
        self.matcher = cv2.BFMatcher(cv2.NORM_L2)

    def inliers(self, image: np.ndarray) -> dict[str, int]:
        """Best inlier count per brand over its references."""
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        f = min(1.0, self.max_side / max(grey.shape))
        if f < 1.0:
            grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)
        kps, desc = self.sift.detectAndCompute(grey, None)
        out: dict[str, int] = {}
        if desc is None or len(kps) < 4:
            return out
        points = np.float32([k.pt for k in kps])
        for ref in self.references:
            pairs = self.matcher.knnMatch(ref.descriptors, desc, k=2)
            good = [m for m, n in (p for p in pairs if len(p) == 2) if m.distance < self.ratio * n.distance]
            count = 0
            if len(good) >= 4:
                src = ref.keypoints[[m.queryIdx for m in good]]
                dst = points[[m.trainIdx for m in good]]
                _, mask = cv2.findHomography(src, dst, cv2.RANSAC, 5.0)
                count = int(mask.sum()) if mask is not None else 0
            out[ref.brand] = max(out.get(ref.brand, 0), count)
        return out
