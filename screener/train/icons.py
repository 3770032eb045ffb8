"""Real brand designs as training identities: the simple-icons collection, rendered here.

The ``simple-icons-pack`` wheel redistributes simple-icons (3,000+ brand marks as one-colour SVG,
CC0) with each mark's slug, title and brand colour. They are training identities, in the
``train`` extra, never shipped. :func:`usable_icons` keeps the CC0 marks (a few carry another
licence) whose slug and title pass the exclusion list (:mod:`.exclusion`), so no evaluation brand
is ever trained on, under any spelling. The evaluation brands' own marks serve the other way round:
:func:`published_logo_files` renders them as the logo files a brand owner would register
(``benchmarks/logo_flickr.py --logo-files``, issue 16's one-shot protocol).

A mark is rendered once (``resvg-py``) into a coverage mask; :func:`icon_view` then prints it the
way products and photos show a genuine mark: its own colour on a plain ground (the registered logo
file), another colour, knocked out of a plate (inverted), as an outline, embossed into a surface,
or on a product texture or a real photo patch; then warped, relit and squashed like a candidate
window (:mod:`.augment`). All of these are the *same* identity: a genuine mark printed in another
colour is still the brand's.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable

import cv2
import numpy as np

from . import augment
from .exclusion import ExclusionList, fold, load_exclusions

# Licences under which a mark may be a training identity (simple-icons' own is CC0; its
# ``license`` field names the exceptions).
OPEN_LICENCES = (None, "CC0-1.0")
VARIANTS = ("brand", "recolour", "inverted", "outlined", "embossed", "photo")


@dataclass(frozen=True)
class IconMark:
    """One simple-icons mark: its identity and what is needed to render it."""

    slug: str
    title: str
    colour: tuple[int, int, int]
    svg: str


def _hex(value: str) -> tuple[int, int, int]:
    value = value.strip().lstrip("#")
    try:
        return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))
    except (ValueError, IndexError):
        return (0, 0, 0)


def all_icons() -> list[IconMark]:
    """Every mark the installed ``simple-icons-pack`` holds with an open licence, by slug."""
    try:
        import simple_icons_pack as pack
    except ImportError as exc:
        raise SystemExit("the brand-design identities need the train extra's simple-icons-pack "
                         "(pip install 'screener[train]')") from exc
    icons = [getattr(pack, name) for name in dir(pack) if name.startswith("SI_")]
    return sorted((IconMark(i.slug, i.title, _hex(i.hex), i.svg) for i in icons if i.license in OPEN_LICENCES),
                  key=lambda m: m.slug)


def usable_icons(exclusions: ExclusionList | None = None) -> list[IconMark]:
    """The open-licence marks that no exclusion-list brand matches (by slug or title)."""
    exclusions = exclusions or load_exclusions()
    return [m for m in all_icons() if not exclusions.excludes(m.slug, m.title)]


def render_mask(mark: IconMark, side: int = 160) -> np.ndarray:
    """The mark's coverage (uint8, 0-255) rendered at ``side`` px and cropped to its extent."""
    try:
        import resvg_py
    except ImportError as exc:
        raise SystemExit("rendering brand designs needs the train extra's resvg-py "
                         "(pip install 'screener[train]')") from exc
    png = bytes(resvg_py.svg_to_bytes(svg_string=mark.svg, width=side, height=side))
    rgba = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
    alpha = rgba[..., 3] if rgba is not None and rgba.ndim == 3 and rgba.shape[2] == 4 else np.zeros((side, side), np.uint8)
    ys, xs = np.nonzero(alpha > 8)
    if len(ys) == 0:
        return alpha
    return np.ascontiguousarray(alpha[ys.min():ys.max() + 1, xs.min():xs.max() + 1])


# --- printing a mark ----------------------------------------------------------------------------
def _other_colour(colour: tuple[int, int, int], rng: random.Random) -> tuple[int, int, int]:
    if rng.random() < 0.35:  # black, white or grey prints are common
        level = rng.choice((15, 40, 128, 200, 245))
        return (level, level, level)
    while True:
        c = tuple(rng.randrange(256) for _ in range(3))
        if sum(abs(a - b) for a, b in zip(c, colour)) > 120:
            return c  # type: ignore[return-value]


def _rgba(mask: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    out = np.empty(mask.shape + (4,), np.uint8)
    out[..., :3] = colour
    out[..., 3] = mask
    return out


def _pad(mask: np.ndarray, frac: float) -> np.ndarray:
    p = max(1, int(round(max(mask.shape) * frac)))
    return cv2.copyMakeBorder(mask, p, p, p, p, cv2.BORDER_CONSTANT, value=0)


def _inverted(mask: np.ndarray, rng: random.Random) -> np.ndarray:
    """Coverage of a plate (rectangle, rounded or disc) with the mark knocked out of it."""
    m = _pad(mask, rng.uniform(0.12, 0.3))
    h, w = m.shape
    plate = np.zeros_like(m)
    shape = rng.choice(("rect", "rounded", "disc"))
    if shape == "disc":
        cv2.ellipse(plate, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 255, -1)
    else:
        r = int(min(h, w) * (0.2 if shape == "rounded" else 0.0))
        cv2.rectangle(plate, (r, 0), (w - 1 - r, h - 1), 255, -1)
        cv2.rectangle(plate, (0, r), (w - 1, h - 1 - r), 255, -1)
        for cx, cy in ((r, r), (w - 1 - r, r), (r, h - 1 - r), (w - 1 - r, h - 1 - r)):
            if r:
                cv2.circle(plate, (cx, cy), r, 255, -1)
    return (plate.astype(np.float32) * (1 - m.astype(np.float32) / 255)).astype(np.uint8)


def _outlined(mask: np.ndarray, rng: random.Random) -> np.ndarray:
    m = _pad(mask, 0.06)
    k = max(2, int(round(max(m.shape) * rng.uniform(0.015, 0.035))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    return cv2.subtract(cv2.dilate(m, kernel), cv2.erode(m, kernel))


def _embossed(mask: np.ndarray, ground: np.ndarray, rng: random.Random) -> np.ndarray:
    """The mark pressed into (or raised from) ``ground``: light and shade on its edges only,
    so the mark has the surface's own colour (leather, metal, moulded plastic)."""
    m = cv2.resize(_pad(mask, rng.uniform(0.05, 0.3)), (ground.shape[1], ground.shape[0])).astype(np.float32) / 255
    d = max(1, int(round(max(m.shape) * 0.012)))
    relief = np.roll(m, (d, d), axis=(0, 1)) - np.roll(m, (-d, -d), axis=(0, 1))
    relief = cv2.GaussianBlur(relief, (0, 0), max(0.6, d * 0.7)) * rng.choice((1, -1)) * rng.uniform(50, 110)
    out = ground.astype(np.float32) + relief[..., None] - 12 * m[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def icon_view(mask: np.ndarray, colour: tuple[int, int, int], variant: str, rng: random.Random, size: int,
              photos: list[np.ndarray] | None = None) -> np.ndarray:
    """One ``size`` x ``size`` RGB view of a rendered mark, printed as ``variant`` (:data:`VARIANTS`).

    ``photos``: real photo patches (RGB) to print on; procedural grounds otherwise."""

    def ground(h: int, w: int) -> np.ndarray | None:
        if photos and rng.random() < 0.5:
            return cv2.resize(rng.choice(photos), (w, h), interpolation=cv2.INTER_LINEAR)
        return augment.procedural_background(rng, h, w)

    if variant == "brand":  # the registered logo file: its colour on a plain ground it shows on
        m = _pad(mask, rng.uniform(0.0, 0.08))
        light = sum(colour) > 600
        level = rng.choice((20, 40, 90)) if light else rng.choice((255, 245, 230, 20, 128) if sum(colour) > 200 else (255, 245, 230))
        a = m.astype(np.float32)[..., None] / 255
        view = (np.float32(level) * (1 - a) + np.float32(colour) * a).astype(np.uint8)
        return augment.to_input(augment.photometric(view, rng, strength=0.2), size)
    if variant == "embossed":
        h, w = mask.shape
        view = _embossed(mask, augment.procedural_background(rng, h, w) if rng.random() < 0.6 else ground(h, w), rng)
    else:
        if variant == "recolour":
            rgba = _rgba(mask, _other_colour(colour, rng))
        elif variant == "inverted":
            rgba = _rgba(_inverted(mask, rng), colour if rng.random() < 0.5 else _other_colour(colour, rng))
        elif variant == "outlined":
            rgba = _rgba(_outlined(mask, rng), colour if rng.random() < 0.5 else _other_colour(colour, rng))
        elif variant == "photo":
            rgba = _rgba(mask, colour if rng.random() < 0.5 else _other_colour(colour, rng))
        else:
            raise ValueError(f"unknown icon variant {variant!r} (known: {', '.join(VARIANTS)})")
        h, w = rgba.shape[:2]
        view = augment.composite(rgba, rng, background=ground(h, w) if variant == "photo" or rng.random() < 0.5
                                 else None)
    view = augment.geometric(view, rng, strength=0.8)
    view = augment.photometric(view, rng, strength=0.8)
    return augment.to_input(view, size, rng)


def published_logo_files(brands: Iterable[str], side: int = 256) -> dict[str, np.ndarray]:
    """Each brand's simple-icons mark, where there is one, rendered as a logo file: BGRA, the
    brand's colour, transparent around it, ``side`` px on the long side. Matched by folded name
    (case, accents, punctuation and spaces ignored; a slug counts too), never by a list of brands."""
    by_name: dict[str, IconMark] = {}
    for icon in all_icons():
        by_name.setdefault(fold(icon.title).replace(" ", ""), icon)
        by_name.setdefault(icon.slug, icon)
    files = {}
    for brand in brands:
        icon = by_name.get(fold(brand).replace(" ", ""))
        if icon is None:
            continue
        files[brand] = _rgba(render_mask(icon, side), icon.colour[::-1])  # BGR order, for cv2.imwrite
    return files
