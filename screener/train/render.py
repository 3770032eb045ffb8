"""A small internal logo-identity renderer for training the embedding network.

Each identity is a :class:`MarkSpec` (made-up wordmark, font, spacing, emblem shape, colours,
layout); :func:`render_mark` draws it as an RGBA image on a transparent canvas, and
:func:`imitate_mark` makes a near-duplicate (one letter changed, a colour changed, or an emblem
part changed) that the network must keep apart from the original, so imitation marks land in a
band below genuine matches. Everything is seeded by the ``random.Random`` passed in.

Used when the project's sample generator (``screener.train.synth.logos``) is not importable, and as
a second source of identities besides it.
"""

from __future__ import annotations

import colorsys
import dataclasses
import functools
import math
import random
from dataclasses import dataclass
from PIL import Image, ImageDraw, ImageFont

from ..fonts import mark_fonts

SHAPES = ("circle", "square", "rounded", "triangle", "star", "hexagon", "diamond", "shield",
          "ring", "chevron", "stripes", "swoosh", "cross")
LAYOUTS = ("text", "text", "emblem_left", "emblem_top", "badge", "monogram", "emblem", "plate")
_CONSONANTS = "bcdfghjklmnprstvwxz"
_VOWELS = "aeiouy"


@dataclass(frozen=True)
class MarkSpec:
    """One made-up logo identity."""

    text: str
    font: str
    spacing: float  # extra letter spacing as a fraction of the font size
    layout: str
    shape: str
    inner: str  # "" or a letter / "dot" drawn inside the emblem
    fg: tuple[int, int, int]
    accent: tuple[int, int, int]
    plate: tuple[int, int, int] | None  # a filled background plate behind the mark
    outline: int  # outline width in px at the 96 px reference height (0 = none)
    rotation: float  # emblem rotation in degrees


def _word(rng: random.Random) -> str:
    n = rng.randint(3, 9)
    letters = []
    for i in range(n):
        pool = _VOWELS if (i % 2 == 1) ^ (rng.random() < 0.2) else _CONSONANTS
        letters.append(rng.choice(pool))
    word = "".join(letters)
    style = rng.random()
    if style < 0.45:
        return word.upper()
    if style < 0.85:
        return word.capitalize()
    return word


def _colour(rng: random.Random, dark: bool | None = None) -> tuple[int, int, int]:
    h = rng.random()
    s = rng.choice((0.0, 0.6, 0.8, 1.0)) if rng.random() < 0.85 else rng.random()
    v = rng.uniform(0.1, 0.45) if dark else rng.uniform(0.55, 1.0) if dark is False else rng.uniform(0.1, 1.0)
    r, g, b = colorsys.hsv_to_rgb(h, s, v)
    return (int(r * 255), int(g * 255), int(b * 255))


def random_mark(rng: random.Random) -> MarkSpec:
    """A random logo identity."""
    fonts = mark_fonts()
    plate = _colour(rng) if rng.random() < 0.25 else None
    fg = _colour(rng)
    if plate is not None and sum(abs(a - b) for a, b in zip(fg, plate)) < 200:
        fg = (255, 255, 255) if sum(plate) < 380 else (10, 10, 10)
    return MarkSpec(
        text=_word(rng), font=rng.choice(fonts) if fonts else "", spacing=rng.choice((0.0, 0.0, 0.05, 0.12, 0.25)),
        layout=rng.choice(LAYOUTS), shape=rng.choice(SHAPES),
        inner=rng.choice(("", "", "dot", "letter")), fg=fg, accent=_colour(rng), plate=plate,
        outline=rng.choice((0, 0, 0, 2, 4)), rotation=rng.choice((0.0, 0.0, 15.0, 45.0, rng.uniform(0, 90))))


def imitate_mark(spec: MarkSpec, rng: random.Random) -> MarkSpec:
    """A near-duplicate: one letter changed (most often), a colour changed, or an emblem part."""
    has_text = spec.layout not in ("emblem",)
    has_emblem = spec.layout not in ("text", "plate")
    roll = rng.random()
    if has_text and (roll < 0.55 or not has_emblem):
        text = list(spec.text)
        i = rng.randrange(len(text))
        pool = _VOWELS if text[i].lower() in _VOWELS else _CONSONANTS
        choices = [c for c in pool if c != text[i].lower()]
        new = rng.choice(choices)
        text[i] = new.upper() if text[i].isupper() else new
        if rng.random() < 0.3 and len(text) > 3:  # or drop / double a letter
            j = rng.randrange(len(text))
            text = text[:j] + text[j + 1:] if rng.random() < 0.5 else text[:j] + [text[j]] + text[j:]
        return dataclasses.replace(spec, text="".join(text))
    if has_emblem and roll < 0.85:
        if rng.random() < 0.6:
            return dataclasses.replace(spec, shape=rng.choice([s for s in SHAPES if s != spec.shape]))
        return dataclasses.replace(spec, inner=rng.choice([s for s in ("", "dot", "letter") if s != spec.inner]),
                                   rotation=spec.rotation + rng.choice((30.0, 45.0)))
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in spec.fg))
    h = (h + rng.uniform(0.25, 0.75)) % 1.0
    s = max(s, 0.7)
    v = max(v, 0.5)
    fg = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h, s, v))
    return dataclasses.replace(spec, fg=fg)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=256)
def _font(path: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(path, size)
    except (OSError, ValueError):
        return ImageFont.load_default()


def _draw_text(spec: MarkSpec, text: str, size: int, colour: tuple[int, int, int]) -> Image.Image:
    font = _font(spec.font, size)
    gap = int(spec.spacing * size)
    widths = [max(1, int(font.getlength(ch))) for ch in text]
    width = sum(widths) + gap * (len(text) - 1) + size
    canvas = Image.new("RGBA", (width, int(size * 1.6)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    x = size // 2
    stroke = max(0, spec.outline * size // 96)
    for ch, w in zip(text, widths):
        draw.text((x, size // 4), ch, font=font, fill=colour + (255,),
                  stroke_width=stroke, stroke_fill=spec.accent + (255,))
        x += w + gap
    bbox = canvas.getbbox()
    return canvas.crop(bbox) if bbox else canvas


def _polygon(shape: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    def ring(n: int, radius: float, offset: float = 0.0) -> list[tuple[float, float]]:
        return [(cx + radius * math.cos(math.radians(rot + offset + 360 * k / n)),
                 cy + radius * math.sin(math.radians(rot + offset + 360 * k / n))) for k in range(n)]

    if shape == "triangle":
        return ring(3, r, -90)
    if shape == "hexagon":
        return ring(6, r)
    if shape == "diamond":
        return ring(4, r)
    if shape == "star":
        outer, inner = ring(5, r, -90), ring(5, r * 0.45, -54)
        return [p for pair in zip(outer, inner) for p in pair]
    if shape == "shield":
        return [(cx - r, cy - r), (cx + r, cy - r), (cx + r, cy + 0.1 * r), (cx, cy + r), (cx - r, cy + 0.1 * r)]
    if shape == "chevron":
        return [(cx - r, cy - 0.6 * r), (cx, cy + 0.2 * r), (cx + r, cy - 0.6 * r), (cx + r, cy),
                (cx, cy + 0.8 * r), (cx - r, cy)]
    if shape == "cross":
        a = r * 0.35
        return [(cx - a, cy - r), (cx + a, cy - r), (cx + a, cy - a), (cx + r, cy - a), (cx + r, cy + a),
                (cx + a, cy + a), (cx + a, cy + r), (cx - a, cy + r), (cx - a, cy + a), (cx - r, cy + a),
                (cx - r, cy - a), (cx - a, cy - a)]
    return ring(4, r * 1.3, 45)  # square


def _draw_emblem(spec: MarkSpec, size: int) -> Image.Image:
    canvas = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    c, r = size / 2, size * 0.46
    fill = spec.accent + (255,)
    edge = spec.fg + (255,) if spec.outline else None
    width = max(1, spec.outline * size // 96) if spec.outline else 0
    if spec.shape == "circle":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=fill, outline=edge, width=width)
    elif spec.shape == "ring":
        draw.ellipse((c - r, c - r, c + r, c + r), outline=fill, width=max(3, size // 9))
    elif spec.shape == "rounded":
        draw.rounded_rectangle((c - r, c - r, c + r, c + r), radius=size // 5, fill=fill, outline=edge, width=width)
    elif spec.shape == "stripes":
        for k in range(3):
            y0 = c - r + k * (2 * r / 3)
            draw.polygon([(c - r, y0 + r / 4), (c + r, y0), (c + r, y0 + r / 4), (c - r, y0 + r / 2)], fill=fill)
    elif spec.shape == "swoosh":
        draw.arc((c - r, c - r * 1.6, c + r, c + r * 0.6), 20 + spec.rotation / 3, 160 + spec.rotation / 3,
                 fill=fill, width=max(3, size // 7))
    else:
        draw.polygon(_polygon(spec.shape, c, c, r, spec.rotation), fill=fill, outline=edge, width=width)
    if spec.inner == "dot":
        q = r * 0.3
        draw.ellipse((c - q, c - q, c + q, c + q), fill=spec.fg + (255,))
    elif spec.inner == "letter" and spec.text:
        letter = _draw_text(dataclasses.replace(spec, outline=0), spec.text[0].upper(), int(size * 0.5), spec.fg)
        canvas.alpha_composite(letter, (int(c - letter.width / 2), int(c - letter.height / 2)))
    return canvas


def render_mark(spec: MarkSpec, height: int = 96) -> Image.Image:
    """Draw the identity as RGBA (transparent outside the mark), about ``height`` px tall."""
    size = max(16, int(height * 0.8))
    if spec.layout == "emblem":
        out = _draw_emblem(spec, height)
    elif spec.layout == "monogram":
        out = _draw_emblem(dataclasses.replace(spec, inner="letter"), height)
        if len(spec.text) > 1:
            mono = _draw_text(spec, spec.text[:2].upper(), int(height * 0.45), spec.fg)
            out.alpha_composite(mono, (int((height - mono.width) / 2) if mono.width < height else 0,
                                       int((height - mono.height) / 2)))
    elif spec.layout in ("emblem_left", "emblem_top", "badge"):
        text = _draw_text(spec, spec.text, int(size * (0.7 if spec.layout == "emblem_top" else 0.8)), spec.fg)
        emblem = _draw_emblem(spec, height if spec.layout != "emblem_top" else int(height * 0.8))
        if spec.layout == "emblem_left":
            out = Image.new("RGBA", (emblem.width + text.width + height // 6, height), (0, 0, 0, 0))
            out.alpha_composite(emblem, (0, 0))
            out.alpha_composite(text, (emblem.width + height // 6, (height - text.height) // 2))
        elif spec.layout == "emblem_top":
            w = max(emblem.width, text.width)
            out = Image.new("RGBA", (w, emblem.height + text.height + height // 10), (0, 0, 0, 0))
            out.alpha_composite(emblem, ((w - emblem.width) // 2, 0))
            out.alpha_composite(text, ((w - text.width) // 2, emblem.height + height // 10))
        else:  # badge: the text on a wide filled shape
            pad = height // 5
            out = Image.new("RGBA", (text.width + 2 * pad, text.height + 2 * pad), (0, 0, 0, 0))
            draw = ImageDraw.Draw(out)
            box = (0, 0, out.width - 1, out.height - 1)
            if spec.shape in ("circle", "ring", "swoosh"):
                draw.ellipse(box, fill=spec.accent + (255,))
            else:
                draw.rounded_rectangle(box, radius=pad if spec.shape == "rounded" else 2, fill=spec.accent + (255,))
            out.alpha_composite(text, (pad, pad))
    else:
        out = _draw_text(spec, spec.text, size, spec.fg)
    if spec.plate is not None or spec.layout == "plate":
        plate_colour = spec.plate or spec.accent
        pad = max(4, out.height // 4)
        backed = Image.new("RGBA", (out.width + 2 * pad, out.height + 2 * pad), plate_colour + (255,))
        backed.alpha_composite(out, (pad, pad))
        out = backed
    if out.height != height:
        scale = height / out.height
        out = out.resize((max(1, int(out.width * scale)), height), Image.LANCZOS)
    return out
