"""Product-listing photos drawn from scratch: backgrounds, products, marks, captions, camera.

A :class:`SceneBuilder` paints one photo in layers, the way a listing photo comes about:

1. a background (studio sweep, wall, wood, fabric, marble, tiles, or a cluttered table);
2. products drawn procedurally (tote, handbag, t-shirt, sneaker, box, bottle, cap, wallet), each
   with *print surfaces* where a logo or text goes, shaded so the print takes the product's light;
3. loose items: price tags, stickers;
4. the camera: a perspective tilt, directional light and vignette, colour cast;
5. listing overlays (captions a seller types over the photo), then blur, noise and JPEG.

Every logo and text put into the scene is recorded as a :class:`Mark` whose box follows the
perspective warp, so tests and the logo trainer know where each mark ended up. All randomness
comes from the ``random.Random`` handed in: the same seed gives the same bytes.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from ...fonts import FontInfo, cjk_font, find_font, has_glyphs
from .logos import text_mask

RGB = tuple[int, int, int]
Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]

BACKGROUNDS = ("studio", "wall", "wood", "fabric", "marble", "tiles", "clutter")
# How a mark is applied to a product: ink, pressed into leather, metal foil, thread, a sewn label.
PRINT_STYLES = ("flat", "emboss", "foil", "embroidery", "patch")
PRODUCTS = ("tote", "handbag", "tshirt", "sneaker", "box", "bottle", "cap", "wallet")

# Fonts a seller or a print shop would use for readable text (script and hairline cuts left out).
TEXT_FONT_STEMS = (
    "DejaVuSans-Bold", "DejaVuSans", "DejaVuSerif-Bold", "LiberationSans-Bold",
    "LiberationSans-Regular", "LiberationSerif-Bold", "Roboto-Bold", "Roboto-Medium",
    "Roboto-Black", "RobotoCondensed-Bold", "OpenSans-Bold", "OpenSans-Semibold",
    "OpenSans-ExtraBold", "Lato-Bold", "Lato-Black", "Lato-Heavy", "Carlito-Bold",
    "Cantarell-Bold", "FreeSansBold", "FreeSerifBold", "NimbusSans-Bold", "URWGothic-Demi",
    "C059-Bold", "P052-Bold", "ComicNeue-Bold",
)


def text_fonts() -> tuple[FontInfo, ...]:
    """The installed fonts of :data:`TEXT_FONT_STEMS`, in that order."""
    out = []
    for stem in TEXT_FONT_STEMS:
        try:
            out.append(find_font(stem))
        except LookupError:
            continue
    if not out:
        raise LookupError("none of the text fonts is installed; install fonts-dejavu and the "
                          "other Debian font packages listed in scripts/install.sh")
    return tuple(out)


@dataclass(frozen=True)
class Mark:
    """A logo or a piece of text put into a scene, and where it ended up (pixel box)."""

    kind: str                   # "logo" or "text"
    content: str                # the text drawn, or the logo's label (e.g. brand name)
    box: tuple[int, int, int, int]
    where: str = ""             # "product", "tag", "sticker", "caption", "free"


@dataclass(frozen=True)
class Scene:
    """A finished photo: encoded JPEG bytes, the decoded-before-encoding image, and its marks."""

    jpeg: bytes
    image: Image.Image
    marks: tuple[Mark, ...]
    notes: tuple[str, ...] = ()   # what was done (background, products, effects), for labels


@dataclass
class _Surface:
    quad: Quad          # where a print goes, in canvas coordinates (tl, tr, br, bl)
    colour: RGB         # the surface colour under the print


@dataclass
class _Pending:
    kind: str
    content: str
    quad: Quad
    where: str


# --- colour helpers ---------------------------------------------------------------------------
def luminance(colour: Sequence[int]) -> float:
    r, g, b = (c / 255 for c in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrasting(colour: Sequence[int], rng: random.Random) -> RGB:
    """A text/print colour that reads well on ``colour``."""
    if luminance(colour) > 0.5:
        return rng.choice([(20, 20, 24), (35, 30, 28), (15, 25, 60), (90, 10, 20), (10, 50, 30)])
    return rng.choice([(250, 250, 250), (240, 232, 210), (255, 215, 90), (235, 235, 240)])


def product_colour(rng: random.Random, light: bool | None = None) -> RGB:
    """A plausible product colour; ``light`` picks the light or dark half."""
    dark = [(25, 25, 28), (60, 40, 30), (110, 60, 35), (30, 40, 70), (90, 20, 30),
            (40, 70, 50), (70, 70, 75), (140, 30, 40), (20, 80, 120), (120, 80, 40)]
    bright = [(235, 230, 220), (245, 245, 245), (210, 180, 140), (200, 210, 220), (240, 200, 200),
              (230, 220, 170), (190, 220, 200), (225, 225, 210), (250, 235, 205), (215, 200, 230)]
    if light is None:
        light = rng.random() < 0.5
    base = rng.choice(bright if light else dark)
    return tuple(int(min(255, max(0, c + rng.randint(-12, 12)))) for c in base)  # type: ignore


# --- noise fields -----------------------------------------------------------------------------
def _smooth_noise(rng: random.Random, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [0, 1]: a small random grid upsampled smoothly."""
    import cv2

    gh, gw = max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1)
    grid = np.array([rng.random() for _ in range(gh * gw)], dtype=np.float32).reshape(gh, gw)
    return cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _np_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


# --- backgrounds ------------------------------------------------------------------------------
def background(rng: random.Random, size: tuple[int, int], style: str | None = None) -> tuple[np.ndarray, str]:
    """An RGB uint8 background of ``size`` (w, h) and the style drawn."""
    w, h = size
    style = style or rng.choice(BACKGROUNDS)
    nrng = _np_rng(rng)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if style == "studio":
        base = np.array(rng.choice([(245, 245, 245), (235, 235, 232), (225, 228, 232), (240, 236, 228)]),
                        np.float32)
        sweep = 1.0 - 0.12 * (yy / h) ** 2 - 0.05 * _smooth_noise(rng, h, w, 3)
        img = base[None, None, :] * sweep[..., None]
    elif style == "wall":
        base = np.array(product_colour(rng, light=rng.random() < 0.8), np.float32)
        img = base[None, None, :] * (0.85 + 0.2 * _smooth_noise(rng, h, w, 5))[..., None]
        img += nrng.normal(0, 3, (h, w, 1)).astype(np.float32)
    elif style == "wood":
        tone = np.array(rng.choice([(150, 105, 70), (190, 150, 110), (110, 75, 50), (205, 180, 145)]),
                        np.float32)
        warp = _smooth_noise(rng, h, w, 6) * rng.uniform(20, 60)
        freq = rng.uniform(0.04, 0.09)
        angle = rng.uniform(-0.2, 0.2)
        coord = (yy * math.cos(angle) + xx * math.sin(angle) + warp) * freq
        grain = 0.5 + 0.5 * np.sin(coord + 3 * np.sin(coord * 0.13))
        img = tone[None, None, :] * (0.78 + 0.25 * grain)[..., None]
        img += nrng.normal(0, 4, (h, w, 1)).astype(np.float32)
        # plank seams
        plank = rng.randint(120, 260)
        seams = (((yy * math.cos(angle) + xx * math.sin(angle)) % plank) < 3).astype(np.float32)
        img *= (1 - 0.35 * seams)[..., None]
    elif style == "fabric":
        colour = np.array(product_colour(rng), np.float32)
        period = rng.uniform(3.0, 6.0)
        weave = 0.5 + 0.25 * (np.sin(xx * 2 * math.pi / period) + np.sin(yy * 2 * math.pi / period))
        folds = _smooth_noise(rng, h, w, 4)
        img = colour[None, None, :] * (0.75 + 0.15 * weave + 0.25 * folds)[..., None]
        img += nrng.normal(0, 5, (h, w, 1)).astype(np.float32)
    elif style == "marble":
        base = np.array(rng.choice([(235, 235, 232), (225, 222, 215), (60, 60, 64), (240, 238, 236)]),
                        np.float32)
        turb = sum(_smooth_noise(rng, h, w, c) / (i + 1) for i, c in enumerate((4, 9, 19)))
        veins = np.abs(np.sin((xx + yy * 0.6) * 0.01 + 6 * turb)) ** 0.25
        img = base[None, None, :] * (0.8 + 0.2 * veins)[..., None]
    elif style == "tiles":
        base = np.array(product_colour(rng, light=True), np.float32)
        tile = rng.randint(90, 200)
        grout = ((xx % tile) < 4) | ((yy % tile) < 4)
        img = base[None, None, :] * (0.9 + 0.1 * _smooth_noise(rng, h, w, 8))[..., None]
        img[grout] *= 0.7
    else:  # clutter: a table top with out-of-focus objects around
        img, _ = background(rng, size, rng.choice(("wood", "fabric", "wall")))
        img = img.astype(np.float32)
        layer = Image.fromarray(img.clip(0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(layer)
        for _ in range(rng.randint(8, 18)):
            colour = product_colour(rng)
            x, y = rng.randint(-80, w), rng.randint(-80, h)
            sw, sh = rng.randint(40, 260), rng.randint(30, 200)
            shape = rng.random()
            if shape < 0.4:
                draw.ellipse((x, y, x + sw, y + sh), fill=colour)
            elif shape < 0.8:
                draw.rounded_rectangle((x, y, x + sw, y + sh), radius=rng.randint(0, 30), fill=colour)
            else:
                draw.line((x, y, x + sw, y + sh), fill=colour, width=rng.randint(4, 16))
        layer = layer.filter(ImageFilter.GaussianBlur(rng.uniform(2.0, 6.0)))
        img = np.asarray(layer, dtype=np.float32)
    return np.clip(img, 0, 255).astype(np.uint8), style


# --- products ---------------------------------------------------------------------------------
def _rect_quad(x0: float, y0: float, x1: float, y1: float) -> Quad:
    return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _draw_product(kind: str, rng: random.Random, box: tuple[int, int, int, int], colour: RGB,
                  size: tuple[int, int], label_light: bool | None = None,
                  ) -> tuple[Image.Image, list[_Surface], Image.Image]:
    """The product's mask (L), its print surfaces, and a detail layer (RGBA), canvas-sized.

    ``box`` is the area (x0, y0, x1, y1) the product should fill; ``label_light`` picks a light
    or dark label where the product has one (a bottle), so a print on it stays visible.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    mask = Image.new("L", size, 0)
    detail = Image.new("RGBA", size, (0, 0, 0, 0))
    d, dd = ImageDraw.Draw(mask), ImageDraw.Draw(detail)
    darker = tuple(int(c * 0.6) for c in colour) + (255,)
    lighter = tuple(int(min(255, c * 1.25 + 20)) for c in colour) + (255,)
    surfaces: list[_Surface] = []
    if kind == "tote":
        top = y0 + h * 0.28
        inset = w * rng.uniform(0.02, 0.08)
        d.polygon([(x0 + inset, top), (x1 - inset, top), (x1, y1), (x0, y1)], fill=255)
        for hx in (0.3, 0.7):
            cx = x0 + w * hx
            dd.arc((cx - w * 0.12, y0, cx + w * 0.12, top + h * 0.18), 180, 360, fill=darker,
                   width=max(4, int(w * 0.03)))
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.15, top + h * 0.12, x1 - w * 0.15, y1 - h * 0.12),
                                 colour))
    elif kind == "handbag":
        top = y0 + h * 0.3
        d.rounded_rectangle((x0, top, x1, y1), radius=int(min(w, h) * 0.12), fill=255)
        dd.arc((x0 + w * 0.2, y0, x1 - w * 0.2, top + h * 0.3), 180, 360, fill=darker,
               width=max(5, int(w * 0.035)))
        flap = top + (y1 - top) * 0.55
        dd.rounded_rectangle((x0 + 4, top + 4, x1 - 4, flap), radius=int(min(w, h) * 0.1),
                             outline=darker, width=3)
        dd.rectangle((x0 + w * 0.46, flap - 10, x0 + w * 0.54, flap + 8), fill=lighter)
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.15, top + (flap - top) * 0.15, x1 - w * 0.15,
                                            flap - (flap - top) * 0.2), colour))
    elif kind == "tshirt":
        sl = w * 0.22
        neck = w * 0.12
        body = [(x0 + sl, y0 + h * 0.06), (x0 + w / 2 - neck, y0), (x0 + w / 2 + neck, y0),
                (x1 - sl, y0 + h * 0.06), (x1, y0 + h * 0.28), (x1 - w * 0.08, y0 + h * 0.38),
                (x1 - sl, y0 + h * 0.3), (x1 - sl, y1), (x0 + sl, y1), (x0 + sl, y0 + h * 0.3),
                (x0 + w * 0.08, y0 + h * 0.38), (x0, y0 + h * 0.28)]
        d.polygon(body, fill=255)
        dd.chord((x0 + w / 2 - neck, y0 - h * 0.06, x0 + w / 2 + neck, y0 + h * 0.09), 0, 180,
                 fill=darker)
        surfaces.append(_Surface(_rect_quad(x0 + sl + w * 0.05, y0 + h * 0.18, x1 - sl - w * 0.05,
                                            y0 + h * 0.55), colour))
    elif kind == "sneaker":
        sole = y1 - h * 0.2
        upper = [(x0, sole), (x0 + w * 0.05, y0 + h * 0.45), (x0 + w * 0.35, y0 + h * 0.3),
                 (x0 + w * 0.5, y0), (x0 + w * 0.75, y0 + h * 0.05), (x0 + w * 0.8, y0 + h * 0.4),
                 (x1, y0 + h * 0.6), (x1, sole)]
        d.polygon(upper, fill=255)
        dd.rounded_rectangle((x0 - 4, sole, x1 + 4, y1), radius=int(h * 0.08), fill=(240, 240, 236, 255))
        for k in range(5):
            lx = x0 + w * (0.38 + 0.06 * k)
            dd.line((lx, y0 + h * (0.3 - 0.04 * k), lx + w * 0.05, y0 + h * (0.38 - 0.04 * k)),
                    fill=lighter, width=max(3, int(h * 0.03)))
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.12, y0 + h * 0.48, x0 + w * 0.78, sole - h * 0.05),
                                 colour))
    elif kind == "box":
        depth = w * rng.uniform(0.12, 0.22)
        fx0, fy0, fx1, fy1 = x0, y0 + depth * 0.6, x1 - depth, y1
        d.polygon([(fx0, fy0), (fx1, fy0), (fx1 + depth, fy0 - depth * 0.6), (fx0 + depth, fy0 - depth * 0.6)],
                  fill=255)
        d.rectangle((fx0, fy0, fx1, fy1), fill=255)
        d.polygon([(fx1, fy0), (fx1 + depth, fy0 - depth * 0.6), (fx1 + depth, fy1 - depth * 0.6), (fx1, fy1)],
                  fill=255)
        dd.polygon([(fx0, fy0), (fx1, fy0), (fx1 + depth, fy0 - depth * 0.6), (fx0 + depth, fy0 - depth * 0.6)],
                   fill=lighter)
        dd.polygon([(fx1, fy0), (fx1 + depth, fy0 - depth * 0.6), (fx1 + depth, fy1 - depth * 0.6), (fx1, fy1)],
                   fill=darker)
        fw, fh = fx1 - fx0, fy1 - fy0
        surfaces.append(_Surface(_rect_quad(fx0 + fw * 0.1, fy0 + fh * 0.15, fx1 - fw * 0.1, fy1 - fh * 0.15),
                                 colour))
    elif kind == "bottle":
        neck_w = w * 0.28
        shoulder = y0 + h * 0.3
        d.rectangle((x0 + w / 2 - neck_w / 2, y0 + h * 0.08, x0 + w / 2 + neck_w / 2, shoulder), fill=255)
        d.rounded_rectangle((x0, shoulder - h * 0.05, x1, y1), radius=int(w * 0.18), fill=255)
        cap = (x0 + w / 2 - neck_w * 0.65, y0, x0 + w / 2 + neck_w * 0.65, y0 + h * 0.12)
        dd.rounded_rectangle(cap, radius=6, fill=rng.choice([(30, 30, 30, 255), (200, 170, 80, 255),
                                                               (220, 220, 225, 255)]))
        label_y0, label_y1 = shoulder + h * 0.12, y1 - h * 0.12
        labels = [(245, 242, 235), (230, 215, 180)] if label_light else [(30, 30, 34), (60, 20, 30)]
        if label_light is None:
            labels = [(245, 242, 235), (30, 30, 34), (230, 215, 180)]
        label_colour = rng.choice(labels)
        dd.rectangle((x0 + 2, label_y0, x1 - 2, label_y1), fill=label_colour + (255,))
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.08, label_y0 + 6, x1 - w * 0.08, label_y1 - 6),
                                 label_colour))
        # a glassy highlight stripe
        dd.rectangle((x0 + w * 0.12, shoulder, x0 + w * 0.17, label_y0 - 4), fill=(255, 255, 255, 90))
    elif kind == "cap":
        brim = y0 + h * 0.72
        d.chord((x0 + w * 0.08, y0, x1 - w * 0.08, y0 + (brim - y0) * 2), 180, 360, fill=255)
        d.ellipse((x0, brim - h * 0.1, x1, y1), fill=255)
        dd.ellipse((x0, brim - h * 0.1, x1, y1), fill=darker)
        dd.ellipse((x0 + w / 2 - 10, y0 - 2, x0 + w / 2 + 10, y0 + 14), fill=darker)
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.25, y0 + h * 0.22, x1 - w * 0.25, brim - h * 0.06),
                                 colour))
    elif kind == "wallet":
        d.rounded_rectangle((x0, y0, x1, y1), radius=int(min(w, h) * 0.08), fill=255)
        inset = min(w, h) * 0.05
        dd.rounded_rectangle((x0 + inset, y0 + inset, x1 - inset, y1 - inset),
                             radius=int(min(w, h) * 0.06), outline=lighter, width=2)
        surfaces.append(_Surface(_rect_quad(x0 + w * 0.15, y0 + h * 0.2, x1 - w * 0.15, y1 - h * 0.2),
                                 colour))
    else:
        raise ValueError(f"unknown product {kind!r}; expected one of {PRODUCTS}")
    return mask, surfaces, detail


# --- the builder ------------------------------------------------------------------------------
class SceneBuilder:
    """Paints one listing photo. Call in order: products/prints, loose items, then :meth:`finish`."""

    def __init__(self, rng: random.Random, size: tuple[int, int] = (1024, 768),
                 background_style: str | None = None):
        self.rng = rng
        self.size = size
        bg, style = background(rng, size, background_style)
        self.canvas = Image.fromarray(bg).convert("RGBA")
        self.notes: list[str] = [f"background={style}"]
        self._pending: list[_Pending] = []
        self._overlays: list[tuple[Image.Image, tuple[int, int], list[_Pending]]] = []
        self.surfaces: list[_Surface] = []
        self._reserved: list[tuple[float, float, float, float]] = []  # keep loose items off these

    # --- products -------------------------------------------------------------------------
    def add_product(self, kind: str | None = None, colour: RGB | None = None,
                    box: tuple[int, int, int, int] | None = None,
                    prints: Sequence[tuple[str, object, str]] = (),
                    print_style: str = "flat") -> list[_Surface]:
        """Draw a product, put ``prints`` on its first surface, and shade it all together.

        ``prints`` are ``("logo", rgba_image, label)`` or ``("text", text, font_path)``
        items, stacked vertically on the print surface, applied in ``print_style`` (one of
        :data:`PRINT_STYLES`).
        """
        if print_style not in PRINT_STYLES:
            raise ValueError(f"unknown print style {print_style!r}; expected one of {PRINT_STYLES}")
        rng = self.rng
        kind = kind or rng.choice(PRODUCTS)
        colour = colour or product_colour(rng)
        w, h = self.size
        if box is None:
            bw = int(w * rng.uniform(0.45, 0.62))
            bh = int(h * rng.uniform(0.6, 0.82))
            if kind in ("bottle",):
                bw = int(bh * rng.uniform(0.45, 0.6))
            if kind == "sneaker":  # long and low: widen it so its side panel can carry a print
                bw = int(w * rng.uniform(0.62, 0.78))
                bh = int(bw * rng.uniform(0.48, 0.58))
            if kind in ("wallet", "cap"):
                bh = int(bw * rng.uniform(0.55, 0.7))
            bx = rng.randint(int(w * 0.06), max(int(w * 0.06) + 1, w - bw - int(w * 0.06)))
            by = rng.randint(int(h * 0.06), max(int(h * 0.06) + 1, h - bh - int(h * 0.06)))
            box = (bx, by, bx + bw, by + bh)
        label_light = None
        logos = [p[1] for p in prints if p[0] == "logo" and isinstance(p[1], Image.Image)]
        if print_style == "foil":
            label_light = False
        elif logos:
            label_light = _mean_colour_luminance(logos[0].convert("RGBA")) < 0.5
        mask, surfaces, detail = _draw_product(kind, rng, box, colour, self.size, label_light)
        mask = mask.filter(ImageFilter.GaussianBlur(0.8))  # soft, anti-aliased edges
        layer = _texture(Image.new("RGBA", mask.size, colour + (255,)), rng, kind)
        layer.alpha_composite(detail)
        pendings = []
        if prints and surfaces:
            pendings = self._print_on(layer, surfaces[0], prints, "product", print_style)
        layer = _shade(layer, mask, rng)
        layer.putalpha(mask)
        # a soft contact shadow under the product, offset away from the light
        offset = (rng.randint(-12, 18), rng.randint(6, 22))
        shadow = Image.new("RGBA", mask.size, (0, 0, 0, 0))
        shadow.paste((0, 0, 0, 255), offset, mask.point(lambda v: v * 45 // 100))
        self.canvas.alpha_composite(shadow.filter(ImageFilter.GaussianBlur(rng.uniform(8, 16))))
        self.canvas.alpha_composite(layer)
        self._pending += pendings
        self._reserved += [_quad_box(p.quad, *self.size) for p in pendings]
        self.surfaces += surfaces
        self.notes.append(f"product={kind}" + (f" print={print_style}" if prints else ""))
        return surfaces

    def _print_on(self, layer: Image.Image, surface: _Surface, prints: Sequence[tuple[str, object, str]],
                  where: str, style: str = "flat") -> list[_Pending]:
        """Stack prints inside a surface quad (axis-aligned here; the camera warps later)."""
        (qx0, qy0), _, (qx1, qy1), _ = surface.quad
        qw, qh = qx1 - qx0, qy1 - qy0
        images: list[tuple[str, Image.Image, str]] = []
        for kind, content, extra in prints:
            if kind == "logo":
                assert isinstance(content, Image.Image)
                images.append(("logo", content.convert("RGBA"), extra))
            else:
                colour = contrasting(surface.colour, self.rng)
                mask = text_mask(str(content), extra, 64)
                box = mask.getbbox() or (0, 0, 1, 1)
                mask = mask.crop(box)
                img = Image.new("RGBA", mask.size, colour + (0,))
                img.putalpha(mask)
                images.append(("text", img, str(content)))
        gap = qh * 0.06
        # scale all prints so the stack fits the quad: widths <= qw, total height <= qh
        heights = [min(qh * (0.55 if k == "logo" else 0.3), qw * im.height / im.width) for k, im, _ in images]
        total = sum(heights) + gap * (len(images) - 1)
        scale = min(1.0, qh / total) if total else 1.0
        y = qy0 + (qh - total * scale) / 2
        out = []
        for (kind, im, label), hgt in zip(images, heights):
            th = max(8, int(hgt * scale))
            tw = max(8, int(im.width * th / im.height))
            if tw > qw:
                tw, th = int(qw), max(8, int(im.height * qw / im.width))
            resized = im.resize((tw, th), Image.LANCZOS)
            x = int(qx0 + (qw - tw) / 2)
            _apply_print(layer, resized, (x, int(y)), style, surface.colour, self.rng)
            out.append(_Pending(kind, label, _rect_quad(x, int(y), x + tw, int(y) + th), where))
            y += th + gap * scale
        return out

    # --- loose items ----------------------------------------------------------------------
    def add_tag(self, lines: Sequence[str], font_path: str, at: tuple[int, int] | None = None,
                cap_height: int = 30, colour: RGB | None = None, rotate: float | None = None) -> None:
        """A card price tag (or sticker) with one or more lines of text, slightly rotated."""
        rng = self.rng
        colour = colour or rng.choice([(250, 250, 246), (255, 236, 120), (255, 255, 255), (250, 220, 210)])
        ink = contrasting(colour, rng)
        masks = [_tight_mask(text_mask(line, font_path, cap_height)) for line in lines]
        pad = int(cap_height * 0.6)
        gap = int(cap_height * 0.45)
        tw = max(m.width for m in masks) + 2 * pad
        th = sum(m.height for m in masks) + gap * (len(masks) - 1) + 2 * pad
        card = Image.new("RGBA", (tw + pad, th), colour + (255,))
        draw = ImageDraw.Draw(card)
        draw.ellipse((tw + pad // 2 - 8, th // 2 - 8, tw + pad // 2 + 8, th // 2 + 8), fill=(0, 0, 0, 0))
        y = pad
        quads = []
        for line, m in zip(lines, masks):
            ink_img = Image.new("RGBA", m.size, ink + (255,))
            card.paste(ink_img, (pad, y), m)
            quads.append((line, _rect_quad(pad, y, pad + m.width, y + m.height)))
            y += m.height + gap
        angle = rotate if rotate is not None else rng.uniform(-12, 12)
        self._place_free(card, quads, angle, at, "tag")

    def add_free_logo(self, logo: Image.Image, label: str, height: int, at: tuple[int, int] | None = None,
                      plate: RGB | None = None, rotate: float = 0.0) -> None:
        """A logo on a sticker/plate placed anywhere (not on a product surface)."""
        logo = logo.convert("RGBA")
        w = max(8, int(logo.width * height / logo.height))
        logo = logo.resize((w, height), Image.LANCZOS)
        pad = int(height * 0.25) if plate else 0
        card = Image.new("RGBA", (w + 2 * pad, height + 2 * pad), (plate or (0, 0, 0)) + ((255,) if plate else (0,)))
        card.alpha_composite(logo, (pad, pad))
        self._place_free(card, [(label, _rect_quad(pad, pad, pad + w, pad + height))], rotate, at,
                         "sticker", kind="logo")

    def _place_free(self, card: Image.Image, quads: list[tuple[str, Quad]], angle: float,
                    at: tuple[int, int] | None, where: str, kind: str = "text") -> None:
        rng = self.rng
        rotated = card.rotate(angle, resample=Image.BICUBIC, expand=True)
        cx, cy = card.width / 2, card.height / 2
        rx, ry = rotated.width / 2, rotated.height / 2
        if at is None:
            at = self._free_spot(rotated.width, rotated.height)
        self._reserved.append((at[0], at[1], at[0] + rotated.width, at[1] + rotated.height))
        shadow = Image.new("RGBA", rotated.size, (0, 0, 0, 0))
        shadow.paste((0, 0, 0, 110), (0, 0), rotated.getchannel("A"))
        shadow = shadow.filter(ImageFilter.GaussianBlur(5))
        self.canvas.alpha_composite(shadow, (at[0] + 4, at[1] + 6))
        self.canvas.alpha_composite(rotated, at)
        a = math.radians(-angle)  # PIL rotates counter-clockwise; y points down
        cos_a, sin_a = math.cos(a), math.sin(a)

        def move(p: tuple[float, float]) -> tuple[float, float]:
            dx, dy = p[0] - cx, p[1] - cy
            return (at[0] + rx + dx * cos_a - dy * sin_a, at[1] + ry + dx * sin_a + dy * cos_a)

        for content, quad in quads:
            self._pending.append(_Pending(kind, content, tuple(move(p) for p in quad), where))  # type: ignore

    def _free_spot(self, w: int, h: int) -> tuple[int, int]:
        """A place for a w x h item that covers as little of the marks already placed as can be."""
        rng = self.rng
        best, best_cover = (10, 10), float("inf")
        for _ in range(40):
            x = rng.randint(10, max(11, self.size[0] - w - 10))
            y = rng.randint(10, max(11, self.size[1] - h - 10))
            cover = sum(_intersection((x, y, x + w, y + h), r) for r in self._reserved)
            if cover < best_cover:
                best, best_cover = (x, y), cover
            if cover == 0:
                break
        return best

    # --- overlays typed by the seller -----------------------------------------------------
    def add_caption(self, lines: Sequence[str], font_path: str, position: str | None = None,
                    cap_height: int = 30, band: RGB | None = None) -> None:
        """Caption text over the photo (after the camera warp: sellers type on the photo).

        ``position`` is "top" or "bottom"; by default the edge whose strip covers less of the
        prints already placed, so a caption never hides the marks a label promises.
        """
        rng = self.rng
        band = band if band is not None else rng.choice([(255, 255, 255), (20, 20, 20), (200, 30, 40),
                                                         (250, 210, 60), (30, 60, 140)])
        ink = contrasting(band, rng)
        masks = [_tight_mask(text_mask(line, font_path, cap_height)) for line in lines]
        pad = int(cap_height * 0.5)
        gap = int(cap_height * 0.5)
        bw = self.size[0]
        bh = sum(m.height for m in masks) + gap * (len(masks) - 1) + 2 * pad
        strip = Image.new("RGBA", (bw, bh), band + (rng.randint(200, 245),))
        y = pad
        pend = []
        align = rng.choice(("left", "centre"))
        for line, m in zip(lines, masks):
            x = pad * 2 if align == "left" else max(pad, (bw - m.width) // 2)
            strip.paste(Image.new("RGBA", m.size, ink + (255,)), (x, y), m)
            pend.append(_Pending("text", line, _rect_quad(x, y, x + m.width, y + m.height), "caption"))
            y += m.height + gap
        if position is None:
            cover = {edge: sum(_intersection((0, oy, bw, oy + bh), r) for r in self._reserved)
                     for edge, oy in (("top", 0), ("bottom", self.size[1] - bh))}
            position = min(("top", "bottom"), key=lambda e: (cover[e], rng.random()))
        oy = 0 if position == "top" else self.size[1] - bh
        self._reserved.append((0, oy, bw, oy + bh))
        for p in pend:
            p.quad = tuple((px, py + oy) for px, py in p.quad)  # type: ignore
        self._overlays.append((strip, (0, oy), pend))

    # --- the camera -----------------------------------------------------------------------
    def finish(self, quality: int | None = None, tilt: float | None = None, blur: float | None = None,
               noise: float | None = None, light: float | None = None) -> Scene:
        """Warp, light, overlay captions, blur, add noise and encode as JPEG."""
        import cv2

        rng = self.rng
        w, h = self.size
        if tilt is None:  # most photos nearly square-on, some taken at a clear angle
            tilt = rng.uniform(0.0, 0.05) if rng.random() < 0.65 else rng.uniform(0.05, 0.12)
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        jitter = [(rng.uniform(-1, 1) * tilt * w, rng.uniform(-1, 1) * tilt * h) for _ in range(4)]
        # Pull corners inward only so the warped photo has no empty borders.
        dst = np.float32([[0 - abs(jitter[0][0]), 0 - abs(jitter[0][1])],
                          [w + abs(jitter[1][0]), 0 - abs(jitter[1][1])],
                          [w + abs(jitter[2][0]), h + abs(jitter[2][1])],
                          [0 - abs(jitter[3][0]), h + abs(jitter[3][1])]])
        matrix = cv2.getPerspectiveTransform(src, dst)
        pixels = np.asarray(self.canvas.convert("RGB"))
        pixels = cv2.warpPerspective(pixels, matrix, (w, h), flags=cv2.INTER_LINEAR,
                                     borderMode=cv2.BORDER_REFLECT)
        marks = [self._warp_mark(p, matrix) for p in self._pending]
        # directional light, vignette and a colour cast
        img = pixels.astype(np.float32)
        light = rng.uniform(0.15, 0.45) if light is None else light
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        ramp = ((xx / w - 0.5) * math.cos(angle) + (yy / h - 0.5) * math.sin(angle))
        vignette = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)
        gain = (1.0 + light * ramp - rng.uniform(0.1, 0.45) * vignette) * rng.uniform(0.85, 1.08)
        cast = np.array([rng.uniform(0.93, 1.06), 1.0, rng.uniform(0.92, 1.07)], np.float32)
        img = img * gain[..., None] * cast[None, None, :]
        out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).convert("RGBA")
        for strip, at, pend in self._overlays:
            out.alpha_composite(strip, at)
            marks += [Mark(p.kind, p.content, _quad_box(p.quad, w, h), p.where) for p in pend]
        out_rgb = out.convert("RGB")
        blur = rng.choice((0.0, 0.0, 0.4, 0.7, 1.0, 1.4)) if blur is None else blur
        if blur > 0:
            out_rgb = out_rgb.filter(ImageFilter.GaussianBlur(blur))
        noise = rng.choice((0.0, 2.0, 3.5, 5.0)) if noise is None else noise
        if noise > 0:
            arr = np.asarray(out_rgb, dtype=np.float32)
            arr = arr + _np_rng(rng).normal(0, noise, arr.shape).astype(np.float32)
            out_rgb = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        quality = rng.randint(55, 90) if quality is None else quality
        buffer = io.BytesIO()
        out_rgb.save(buffer, "JPEG", quality=quality, optimize=True)
        notes = self.notes + [f"tilt={tilt:.3f}", f"blur={blur}", f"noise={noise}", f"jpeg={quality}"]
        return Scene(jpeg=buffer.getvalue(), image=out_rgb, marks=tuple(marks), notes=tuple(notes))

    def _warp_mark(self, pending: _Pending, matrix: np.ndarray) -> Mark:
        import cv2

        pts = np.float32(pending.quad).reshape(-1, 1, 2)
        moved = cv2.perspectiveTransform(pts, matrix).reshape(-1, 2)
        return Mark(pending.kind, pending.content, _quad_box(moved, *self.size), pending.where)


def _quad_box(quad: Sequence[Sequence[float]], w: int, h: int) -> tuple[int, int, int, int]:
    xs = [p[0] for p in quad]
    ys = [p[1] for p in quad]
    return (max(0, int(math.floor(min(xs)))), max(0, int(math.floor(min(ys)))),
            min(w, int(math.ceil(max(xs)))), min(h, int(math.ceil(max(ys)))))


def _apply_print(layer: Image.Image, mark: Image.Image, at: tuple[int, int], style: str,
                 surface: RGB, rng: random.Random) -> None:
    """Put an RGBA mark on the product layer as ink, deboss, foil, thread or a sewn label."""
    x, y = at
    if style == "flat":
        layer.alpha_composite(mark, (x, y))
        return
    alpha = np.asarray(mark.getchannel("A"), dtype=np.float32) / 255.0
    h, w = alpha.shape
    if style == "patch":
        # A woven label sewn on: a light or dark rectangle with a stitched border, mark on it.
        pad = max(6, h // 6)
        fill = rng.choice([(245, 243, 236), (25, 25, 28), (230, 220, 200)])
        label = Image.new("RGBA", (w + 2 * pad, h + 2 * pad), fill + (255,))
        stitch = contrasting(fill, rng) + (255,)
        draw = ImageDraw.Draw(label)
        for k in range(0, label.width, 8):
            draw.line((k, 3, k + 4, 3), fill=stitch, width=1)
            draw.line((k, label.height - 4, k + 4, label.height - 4), fill=stitch, width=1)
        mark_on = mark
        if abs(luminance(fill) - _mean_colour_luminance(mark)) < 0.3:
            # the mark would vanish on its label: print it in the stitch colour instead
            mark_on = Image.new("RGBA", mark.size, stitch[:3] + (0,))
            mark_on.putalpha(mark.getchannel("A"))
        label.alpha_composite(mark_on, (pad, pad))
        layer.alpha_composite(label, (x - pad, y - pad))
        return
    region = np.asarray(layer.crop((x, y, x + w, y + h)), dtype=np.float32).copy()
    rh, rw = region.shape[:2]
    alpha = alpha[:rh, :rw]
    rgb = region[..., :3]
    if style == "emboss":
        # Pressed into the material: darker inside, a lit lower edge and a shadowed upper edge.
        shifted_up = np.zeros_like(alpha)
        shifted_up[:-2, :] = alpha[2:, :]
        shifted_down = np.zeros_like(alpha)
        shifted_down[2:, :] = alpha[:-2, :]
        gain = 1.0 - 0.32 * alpha + 0.22 * np.clip(shifted_up - alpha, 0, 1) \
            - 0.25 * np.clip(shifted_down - alpha, 0, 1)
        rgb *= gain[..., None]
    elif style == "foil":
        # Metal foil: gold or silver with a sheen that runs across the mark.
        metal = np.array(rng.choice([(212, 175, 55), (192, 192, 200), (183, 110, 80)]), np.float32)
        yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
        sheen = 0.75 + 0.45 * np.abs(np.sin((xx + yy) / max(rw, 1) * math.pi * rng.uniform(1.0, 2.0)))
        colour = np.clip(metal[None, None, :] * sheen[..., None], 0, 255)
        rgb[:] = rgb * (1 - alpha[..., None]) + colour * alpha[..., None]
    elif style == "embroidery":
        # Thread: the mark's colours, slanted stitches, a darker satin edge.
        ink = np.asarray(mark.convert("RGB"), dtype=np.float32)[:rh, :rw]
        yy, xx = np.mgrid[0:rh, 0:rw].astype(np.float32)
        period = max(2.5, h / 40)
        thread = 0.82 + 0.22 * (0.5 + 0.5 * np.sin((xx - yy) * 2 * math.pi / period))
        edge = np.clip(alpha - np.asarray(mark.getchannel("A").filter(ImageFilter.MinFilter(3)),
                                          dtype=np.float32)[:rh, :rw] / 255.0, 0, 1)
        colour = ink * thread[..., None] * (1 - 0.35 * edge[..., None])
        rgb[:] = rgb * (1 - alpha[..., None]) + np.clip(colour, 0, 255) * alpha[..., None]
    region[..., :3] = rgb
    layer.paste(Image.fromarray(np.clip(region, 0, 255).astype(np.uint8), "RGBA"), (x, y))


def _mean_colour_luminance(mark: Image.Image) -> float:
    arr = np.asarray(mark, dtype=np.float32)
    weights = arr[..., 3] / 255.0
    if weights.sum() == 0:
        return 0.5
    mean = (arr[..., :3] * weights[..., None]).sum(axis=(0, 1)) / weights.sum()
    return luminance(mean)


def _intersection(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return max(0.0, w) * max(0.0, h)


def _tight_mask(mask: Image.Image) -> Image.Image:
    box = mask.getbbox()
    return mask.crop(box) if box else mask


def _texture(layer: Image.Image, rng: random.Random, kind: str) -> Image.Image:
    """Material grain: fine noise for leather/cardboard, a weave for cloth."""
    arr = np.asarray(layer, dtype=np.float32).copy()
    h, w = arr.shape[:2]
    nrng = _np_rng(rng)
    if kind in ("tshirt", "cap", "tote"):
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        period = rng.uniform(2.5, 4.0)
        weave = 0.04 * (np.sin(xx * 2 * math.pi / period) * np.sin(yy * 2 * math.pi / period))
        arr[..., :3] *= (1 + weave)[..., None]
    grain = nrng.normal(0, 4 if kind != "bottle" else 1.5, (h, w, 1)).astype(np.float32)
    arr[..., :3] += grain
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGBA")


def _shade(layer: Image.Image, mask: Image.Image, rng: random.Random) -> Image.Image:
    """Round the product: darker towards its edges, a soft highlight on one side."""
    import cv2

    m = np.asarray(mask)
    dist = cv2.distanceTransform((m > 127).astype(np.uint8), cv2.DIST_L2, 5)
    depth = max(1.0, float(dist.max()))
    rounding = np.clip(dist / (depth * rng.uniform(0.35, 0.7)), 0, 1) ** 0.5
    shade = 0.72 + 0.3 * rounding
    h, w = m.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    side = rng.choice((-1, 1))
    shade += 0.08 * side * (xx / w - 0.5)
    arr = np.asarray(layer, dtype=np.float32).copy()
    arr[..., :3] *= shade[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGBA")


def chinese_font() -> str:
    """The CJK font path (WenQuanYi Micro Hei), which also draws Latin letters and digits."""
    return cjk_font()


def font_for(text: str, rng: random.Random, fonts: Sequence[FontInfo] | None = None) -> str:
    """A text font that has every glyph of ``text`` (the CJK font for Chinese)."""
    candidates = [f.path for f in (fonts or text_fonts()) if has_glyphs(f.path, text)]
    if not candidates:
        return cjk_font()
    return rng.choice(candidates)


__all__ = ["BACKGROUNDS", "PRINT_STYLES", "PRODUCTS", "Mark", "Scene", "SceneBuilder", "background", "chinese_font",
           "contrasting", "font_for", "luminance", "product_colour", "text_fonts"]
