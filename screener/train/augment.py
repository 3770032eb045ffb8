"""Compositing and augmentation for logo training crops (numpy + OpenCV, seeded by the caller).

A training view of a logo is what a candidate window of the matcher would see: the logo (a tight
box plus a random margin of its surroundings), squashed to a square, under the damage real product
photos do to marks: perspective, rotation, scale, lighting and shadows, blur, noise, JPEG,
occlusion, and embroidery- or metal-like textures on product-like or photographic backgrounds.
Colour is changed only a little on purpose: a mark in a different colour can be an imitation.
"""

from __future__ import annotations

import random

import cv2
import numpy as np


def procedural_background(rng: random.Random, h: int, w: int) -> np.ndarray:
    """A product-like background: plain, gradient, fabric, noise texture or clutter (RGB uint8)."""
    kind = rng.random()
    base = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
    if kind < 0.2:
        img = np.ones((h, w, 3), np.float32) * base
    elif kind < 0.4:
        other = np.array([rng.randrange(256) for _ in range(3)], dtype=np.float32)
        t = np.linspace(0, 1, w if rng.random() < 0.5 else h, dtype=np.float32)
        t = t[None, :, None] if len(t) == w else t[:, None, None]
        img = np.broadcast_to(base * (1 - t) + other * t, (h, w, 3)).copy()
    elif kind < 0.6:  # fabric: fine stripes / checks
        period = rng.uniform(2, 8)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)
        if rng.random() < 0.5:
            wave = wave * np.sin((xx * np.sin(angle) - yy * np.cos(angle)) * 2 * np.pi / period)
        img = base[None, None, :] * (1 + 0.15 * wave[..., None])
    elif kind < 0.8:  # smooth noise texture (leather, paper, plastic)
        small = np.random.default_rng(rng.randrange(2**31)).normal(0, 1, (max(2, h // 8), max(2, w // 8), 1))
        noise = cv2.resize(small.astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        img = base[None, None, :] * (1 + 0.2 * noise[..., None] if noise.ndim == 2 else 1 + 0.2 * noise)
    else:  # clutter: random shapes and lines
        img = np.ones((h, w, 3), np.float32) * base
        for _ in range(rng.randint(2, 8)):
            colour = tuple(float(rng.randrange(256)) for _ in range(3))
            x0, y0 = rng.randrange(w), rng.randrange(h)
            if rng.random() < 0.5:
                cv2.rectangle(img, (x0, y0), (x0 + rng.randrange(1, w), y0 + rng.randrange(1, h)), colour, -1)
            else:
                cv2.line(img, (x0, y0), (rng.randrange(w), rng.randrange(h)), colour, rng.randint(1, 4))
    return np.clip(img, 0, 255).astype(np.uint8)


def _texture(rgb: np.ndarray, rng: random.Random) -> np.ndarray:
    """Embroidery-like thread noise or a metal-like sheen on the logo pixels."""
    h, w = rgb.shape[:2]
    out = rgb.astype(np.float32)
    if rng.random() < 0.5:  # embroidery: oriented fine stripes + grain
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        angle = rng.uniform(0, np.pi)
        wave = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / rng.uniform(2, 4))
        grain = np.random.default_rng(rng.randrange(2**31)).normal(0, 0.08, (h, w))
        out *= (1 + 0.18 * wave + grain)[..., None]
    else:  # metal: grey it towards its luminance and add a bright diagonal sheen
        grey = out.mean(axis=2, keepdims=True)
        out = out * 0.4 + grey * 0.6
        t = np.linspace(-1, 1, w, dtype=np.float32)[None, :] + np.linspace(-1, 1, h, dtype=np.float32)[:, None]
        out = out * (0.7 + 0.5 * np.exp(-((t - rng.uniform(-1, 1)) ** 2) * 4))[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def composite(logo_rgba: np.ndarray, rng: random.Random, background: np.ndarray | None = None,
              clean: bool = False) -> np.ndarray:
    """Place an RGBA logo on a background with a random margin; returns the RGB canvas.

    ``clean`` gives a reference-like view: a plain light or dark background and a small margin.
    """
    lh, lw = logo_rgba.shape[:2]
    margin = (rng.uniform(0.0, 0.08) if clean else rng.uniform(-0.03, 0.3))
    mx, my = int(lw * max(0.0, margin + rng.uniform(-0.03, 0.03))), int(lh * max(0.0, margin + rng.uniform(-0.03, 0.05)))
    h, w = lh + 2 * my, lw + 2 * mx
    if clean:
        level = rng.choice((255, 245, 230, 20, 128))
        canvas = np.full((h, w, 3), level, np.uint8)
    elif background is not None:
        canvas = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        canvas = procedural_background(rng, h, w)
    rgb = logo_rgba[..., :3]
    if not clean and rng.random() < 0.25:
        rgb = _texture(rgb, rng)
    alpha = logo_rgba[..., 3:4].astype(np.float32) / 255.0
    x0 = mx + (rng.randint(-mx // 2, mx // 2) if mx > 1 and not clean else 0)
    y0 = my + (rng.randint(-my // 2, my // 2) if my > 1 and not clean else 0)
    region = canvas[y0:y0 + lh, x0:x0 + lw].astype(np.float32)
    canvas[y0:y0 + lh, x0:x0 + lw] = (region * (1 - alpha) + rgb.astype(np.float32) * alpha).astype(np.uint8)
    return canvas


def geometric(img: np.ndarray, rng: random.Random, strength: float = 1.0) -> np.ndarray:
    """Perspective, rotation and shear of the whole view (borders replicated)."""
    h, w = img.shape[:2]
    jitter = 0.12 * strength
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + np.float32([[rng.uniform(-jitter, jitter) * w, rng.uniform(-jitter, jitter) * h] for _ in range(4)])
    angle = rng.gauss(0, 8 * strength)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    dst = cv2.transform(dst[None], rot)[0].astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(img, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def photometric(img: np.ndarray, rng: random.Random, strength: float = 1.0) -> np.ndarray:
    """Lighting, shadows, small colour cast, blur, noise, JPEG and occlusion."""
    h, w = img.shape[:2]
    out = img.astype(np.float32)
    contrast = rng.uniform(1 - 0.45 * strength, 1 + 0.3 * strength)
    brightness = rng.uniform(-50, 40) * strength
    out = (out - 128) * contrast + 128 + brightness
    out *= np.array([rng.uniform(1 - 0.08 * strength, 1 + 0.08 * strength) for _ in range(3)], np.float32)
    if rng.random() < 0.4 * strength:  # a shadow or light gradient across the mark
        t = np.linspace(0, 1, w, dtype=np.float32)[None, :, None]
        if rng.random() < 0.5:
            t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
        out *= 1 - rng.uniform(0.2, 0.6) * (t if rng.random() < 0.5 else 1 - t)
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3 * strength:
        gamma = rng.uniform(0.6, 1.6)
        out = 255.0 * (out / 255.0) ** gamma
    out = out.astype(np.uint8)
    if rng.random() < 0.35 * strength:  # occlusion: a finger, a strap, a price sticker
        ow, oh = int(w * rng.uniform(0.1, 0.3)), int(h * rng.uniform(0.1, 0.4))
        x0, y0 = rng.randrange(max(1, w - ow)), rng.randrange(max(1, h - oh))
        out[y0:y0 + oh, x0:x0 + ow] = [rng.randrange(256) for _ in range(3)]
    if rng.random() < 0.4 * strength:
        k = rng.choice((3, 5))
        sigma = rng.uniform(0.5, 1.6)
        out = cv2.GaussianBlur(out, (k, k), sigma)
    if rng.random() < 0.4 * strength:
        noise = np.random.default_rng(rng.randrange(2**31)).normal(0, rng.uniform(3, 12), out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.5 * strength:
        ok, enc = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, rng.randint(25, 90)])
        if ok:
            out = cv2.imdecode(enc, cv2.IMREAD_UNCHANGED)
    return out


def to_input(img: np.ndarray, size: int, rng: random.Random | None = None) -> np.ndarray:
    """Squash a view to ``size`` x ``size``, as the matcher does with its candidate windows.

    With ``rng``, the view is first shrunk to a random lower resolution (small logos in photos).
    """
    if rng is not None and rng.random() < 0.35:
        low = rng.randint(max(12, size // 3), size)
        img = cv2.resize(img, (low, max(8, int(low * img.shape[0] / max(1, img.shape[1])))), interpolation=cv2.INTER_AREA)
    interp = cv2.INTER_AREA if img.shape[0] > size or img.shape[1] > size else cv2.INTER_LINEAR
    return cv2.resize(img, (size, size), interpolation=interp)


def crop_with_margin(image: np.ndarray, box: tuple[float, float, float, float], margin: float,
                     shift: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The box grown by ``margin`` of its size on each side and shifted, clipped to the image."""
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 + shift[0] * bw, (y1 + y2) / 2 + shift[1] * bh
    hw, hh = bw * (0.5 + margin), bh * (0.5 + margin)
    H, W = image.shape[:2]
    a, b = int(max(0, cx - hw)), int(max(0, cy - hh))
    c, d = int(min(W, cx + hw)), int(min(H, cy + hh))
    if c - a < 2 or d - b < 2:
        return image[int(y1):int(y2) + 1, int(x1):int(x2) + 1]
    return image[b:d, a:c]
