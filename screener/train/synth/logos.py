"""Synthetic logos: a frozen spec, a renderer, near-duplicate imitations and brand names.

A logo is described by a :class:`LogoSpec` (text, font, layout, emblem, colours, style, seed) so
that the same spec always renders the same pixels, and an imitation is the same spec with one or
two parts changed (a letter, a colour, an emblem part) - the near-duplicate negatives the logo
network needs, and the "imitation logo" listings of the sample set.

Rendering draws every element as an 8-bit mask at 2x and colours it in, then downsamples once:
PIL's polygon and ellipse drawing has no anti-aliasing of its own. A 128 px logo takes a few
milliseconds on one core.
"""

from __future__ import annotations

import colorsys
import math
import random
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable, Sequence

from PIL import Image, ImageChops, ImageDraw

from ...fonts import FontInfo, load_font, logo_fonts

RGB = tuple[int, int, int]

LAYOUTS = ("emblem-left", "emblem-top", "wordmark-only", "emblem-only", "badge")
EMBLEMS = ("circle", "ring", "polygon", "star", "shield", "crest", "leaf", "monogram", "badge",
           "sun", "wave", "chevron", "bars", "drop", "cross", "swoosh")
CASES = ("upper", "lower", "title")
OUTLINES = ("none", "stroke", "hollow")
FILLS = ("solid", "outline", "split")

# Emblem kinds that read alike: an imitation swaps an emblem for one of its neighbours.
_SIMILAR = {
    "circle": ("ring", "badge", "sun"), "ring": ("circle", "monogram"), "polygon": ("badge", "shield"),
    "star": ("sun", "badge"), "shield": ("crest", "polygon"), "crest": ("shield",),
    "leaf": ("drop", "swoosh"), "monogram": ("ring", "badge", "circle"), "badge": ("star", "monogram"),
    "sun": ("star", "circle"), "wave": ("swoosh", "bars"), "chevron": ("bars", "wave"),
    "bars": ("chevron",), "drop": ("leaf",), "cross": ("star", "polygon"), "swoosh": ("wave", "leaf"),
}
_SS = 2  # supersampling factor


@dataclass(frozen=True)
class LogoSpec:
    """Everything that decides how a logo looks; the same spec renders the same pixels."""

    name: str                       # the wordmark text as the brand writes it
    font: str                       # path of the wordmark font
    layout: str                     # one of LAYOUTS
    emblem: str                     # one of EMBLEMS (unused by "wordmark-only")
    fg: RGB                         # wordmark colour
    bg: RGB                         # badge plate colour and cut-outs inside emblems
    accent: RGB                     # emblem colour, text stroke, underline
    letter_spacing: float = 0.0     # extra space between letters, as a fraction of the font size
    case: str = "upper"             # one of CASES
    outline: str = "none"           # one of OUTLINES: plain, accent stroke, or hollow letters
    emblem_sides: int = 5           # polygon sides, star points, rays, bars, badge teeth / 2
    emblem_fill: str = "solid"      # one of FILLS
    emblem_rotation: float = 0.0    # degrees
    emblem_letter: str = ""         # letters inside monograms, badges, crests
    underline: bool = False
    seed: int = 0                   # small shape details (leaf curve, crest band, wave phase)

    @property
    def text(self) -> str:
        """The wordmark as drawn (case applied)."""
        return apply_case(self.name, self.case)

    @property
    def has_text(self) -> bool:
        return self.layout != "emblem-only"

    @property
    def has_emblem(self) -> bool:
        return self.layout != "wordmark-only"


def apply_case(text: str, case: str) -> str:
    if case == "upper":
        return text.upper()
    if case == "lower":
        return text.lower()
    if case == "title":
        return " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))
    return text


# --- names ------------------------------------------------------------------------------------
_ONSETS = ("b", "br", "c", "cr", "d", "dr", "f", "fl", "g", "gr", "k", "l", "m", "n", "p", "pr",
           "r", "s", "st", "t", "tr", "v", "z", "ph", "th", "sk", "vel", "kal", "mor", "sol")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ia", "ea", "ou", "y")
_CODAS = ("", "", "", "n", "r", "s", "l", "x", "nt", "rt", "m", "k")
_ENDINGS = ("a", "o", "is", "ex", "on", "ora", "ine", "elle", "ano", "ix", "ara", "us", "et", "ia")


def random_brand_name(rng: random.Random, min_len: int = 4, max_len: int = 10) -> str:
    """A pronounceable fictional brand name in title case, e.g. ``"Veltora"``."""
    while True:
        parts = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS)]
        for _ in range(rng.choice((0, 1, 1, 2))):
            parts.append(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS))
        if rng.random() < 0.6:
            parts.append(rng.choice(_ENDINGS))
        name = "".join(parts)
        # No triple letters and no awkward consonant pile-ups at syllable joins.
        if min_len <= len(name) <= max_len and not any(name[i] == name[i + 1] == name[i + 2]
                                                       for i in range(len(name) - 2)):
            return name[:1].upper() + name[1:]


# --- colours ----------------------------------------------------------------------------------
def _hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return (round(r * 255), round(g * 255), round(b * 255))


def _random_colours(rng: random.Random) -> tuple[RGB, RGB, RGB]:
    scheme = rng.random()
    hue = rng.random()
    if scheme < 0.25:   # monochrome: black or dark grey mark, white cut-outs
        fg = _hsv(hue, rng.uniform(0, 0.15), rng.uniform(0.05, 0.25))
        return fg, (255, 255, 255), fg if rng.random() < 0.6 else _hsv(hue, 0.8, 0.8)
    if scheme < 0.55:   # one saturated hue
        fg = _hsv(hue, rng.uniform(0.6, 1.0), rng.uniform(0.45, 0.9))
        return fg, (255, 255, 255), fg
    if scheme < 0.85:   # dark text, saturated accent
        fg = _hsv(hue, rng.uniform(0.2, 0.6), rng.uniform(0.1, 0.35))
        accent = _hsv(hue + rng.uniform(0.2, 0.8), rng.uniform(0.6, 1.0), rng.uniform(0.6, 1.0))
        return fg, _hsv(0, 0, rng.uniform(0.92, 1.0)), accent
    # light mark on a dark plate (used by badges; on photos it needs a dark background)
    fg = _hsv(hue, rng.uniform(0, 0.3), rng.uniform(0.9, 1.0))
    return fg, _hsv(hue + 0.5, rng.uniform(0.5, 0.9), rng.uniform(0.2, 0.45)), \
        _hsv(hue + 0.1, rng.uniform(0.5, 1.0), rng.uniform(0.7, 1.0))


def _shift_hue(colour: RGB, amount: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    if s < 0.15:  # grey: a hue shift would not show, give it colour instead
        s, v = 0.75, max(v, 0.45)
    return _hsv(h + amount, s, v)


# --- specs ------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _fonts() -> tuple[FontInfo, ...]:
    fonts = logo_fonts(min_weight=300)
    if not fonts:
        raise LookupError("no fonts found for logos: install the Debian font packages "
                          "(fonts-dejavu, fonts-lato, ...) listed in scripts/install.sh")
    return fonts


def _initials(name: str, rng: random.Random) -> str:
    words = [w for w in name.split() if w]
    if len(words) > 1 and rng.random() < 0.7:
        return (words[0][0] + words[1][0]).upper()
    if rng.random() < 0.25 and len(name) > 2:
        return (name[0] + name[len(name) // 2]).upper()
    return name[0].upper()


def _sides_for(emblem: str, rng: random.Random) -> int:
    if emblem in ("polygon",):
        return rng.choice((3, 4, 5, 6, 8))
    if emblem in ("star", "cross"):
        return rng.choice((4, 5, 6, 8))
    if emblem in ("sun", "badge"):
        return rng.choice((8, 10, 12, 16))
    if emblem in ("bars", "chevron", "wave"):
        return rng.choice((2, 3, 4, 5))
    if emblem in ("monogram", "shield", "crest"):
        return rng.choice((0, 4, 6))
    return rng.choice((0, 1, 2, 3))


def random_spec(name: str, rng: random.Random) -> LogoSpec:
    """A random but plausible logo for ``name``: deterministic given the generator's state."""
    layout = rng.choices(LAYOUTS, weights=(4, 2, 3, 1, 2))[0]
    emblem = rng.choice(EMBLEMS)
    font = rng.choice(_fonts())
    fg, bg, accent = _random_colours(rng)
    case = rng.choices(CASES, weights=(5, 2, 3))[0]
    return LogoSpec(
        name=name, font=font.path, layout=layout, emblem=emblem, fg=fg, bg=bg, accent=accent,
        letter_spacing=rng.choice((0.0, 0.0, 0.0, 0.03, 0.06, 0.1, 0.18)),
        case=case,
        outline=rng.choices(OUTLINES, weights=(8, 2, 1))[0],
        emblem_sides=_sides_for(emblem, rng),
        emblem_fill=rng.choices(FILLS, weights=(5, 2, 1))[0],
        emblem_rotation=rng.choice((0.0, 0.0, 15.0, 30.0, 45.0, rng.uniform(0, 360))),
        emblem_letter=_initials(name, rng),
        underline=layout == "wordmark-only" and rng.random() < 0.3,
        seed=rng.getrandbits(32),
    )


_LOOKALIKE = {
    "a": "eoa", "b": "dhp", "c": "eoa", "d": "bcl", "e": "ca", "f": "tl", "g": "qy", "h": "bn",
    "i": "lj", "j": "i", "k": "hx", "l": "it", "m": "nw", "n": "mhu", "o": "aceu", "p": "bq",
    "q": "gp", "r": "nt", "s": "zc", "t": "lf", "u": "vno", "v": "uwy", "w": "vm", "x": "kz",
    "y": "vg", "z": "s",
}


def _alter_name(name: str, rng: random.Random) -> str:
    """The name with one letter changed, added, removed or two neighbours swapped."""
    letters = [i for i, ch in enumerate(name) if ch.isalpha()]
    for _ in range(20):
        op = rng.choice(("substitute", "substitute", "insert", "delete", "swap"))
        chars = list(name)
        i = rng.choice(letters[1:] or letters)  # keep the first letter: imitators usually do
        if op == "substitute":
            low = chars[i].lower()
            new = rng.choice(_LOOKALIKE.get(low, "aeiou"))
            chars[i] = new.upper() if chars[i].isupper() else new
        elif op == "insert":
            extra = chars[i] if rng.random() < 0.5 else rng.choice("aeilnorst")
            chars.insert(i, extra.lower() if chars[i].islower() else extra.upper())
        elif op == "delete" and len(letters) > 4:
            del chars[i]
        elif op == "swap" and i + 1 < len(chars) and chars[i + 1].isalpha():
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        altered = "".join(chars)
        if altered.casefold() != name.casefold():
            return altered
    return name[:-1] + ("a" if name[-1].lower() != "a" else "e")


def _alter_emblem(spec: LogoSpec, rng: random.Random) -> LogoSpec:
    # Not every emblem uses every field (a drop has no sides): keep the first change that shows,
    # checked on a small emblem-only render. A different kind of emblem or a mere rotation is
    # not an imitation (photos rotate marks), so those are left out; a neighbouring kind is the
    # last resort for an emblem with nothing else to change.
    probe = replace(spec, layout="emblem-only")
    before = render_logo(probe, 40).tobytes()
    for _ in range(8):
        changed = _alter_emblem_once(spec, rng)
        if render_logo(replace(changed, layout="emblem-only"), 40).tobytes() != before:
            return changed
    return replace(spec, emblem=rng.choice(_SIMILAR[spec.emblem]))


def _alter_emblem_once(spec: LogoSpec, rng: random.Random) -> LogoSpec:
    choice = rng.choice(("sides", "fill", "letter", "detail"))
    if choice == "sides":
        delta = rng.choice((-2, -1, 1, 2))
        return replace(spec, emblem_sides=max(0, spec.emblem_sides + delta))
    if choice == "fill":
        return replace(spec, emblem_fill=rng.choice([f for f in FILLS if f != spec.emblem_fill]))
    if choice == "detail":  # the seed draws the small details: leaf bend, bar heights, wave phase
        return replace(spec, seed=rng.getrandbits(32))
    letters = [c for c in "ABCDEFGHKLMNPRSTVXZ" if c not in spec.emblem_letter]
    new_letter = rng.choice(letters) + spec.emblem_letter[1:]
    return replace(spec, emblem_letter=new_letter)


def _alter_colour(spec: LogoSpec, rng: random.Random) -> LogoSpec:
    amount = rng.choice((-1, 1)) * rng.uniform(0.12, 0.4)
    if rng.random() < 0.3 and spec.fg != spec.accent:
        return replace(spec, fg=spec.accent, accent=spec.fg)
    return replace(spec, fg=_shift_hue(spec.fg, amount), accent=_shift_hue(spec.accent, amount))


def _alter_style(spec: LogoSpec, rng: random.Random) -> LogoSpec:
    fonts = _fonts()
    current = next((f for f in fonts if f.path == spec.font), None)
    siblings = [f for f in fonts if current and f.family == current.family and f.path != spec.font]
    if siblings and rng.random() < 0.6:
        return replace(spec, font=rng.choice(siblings).path)
    return replace(spec, letter_spacing=round(spec.letter_spacing + rng.choice((0.06, 0.1, 0.15)), 3))


def imitate(spec: LogoSpec, rng: random.Random, parts: Sequence[str] | None = None) -> LogoSpec:
    """A near-duplicate of ``spec``: one or two of its parts changed, the rest kept.

    ``parts`` picks what changes, from ``"name"`` (a letter changed, added, removed or swapped),
    ``"colour"``, ``"emblem"`` (sides, fill, letter or a shape detail) and ``"style"``
    (font weight or letter spacing); by default one or two are chosen, favouring the name when
    the logo shows it.
    """
    if parts is None:
        pool = ["name", "name", "colour", "emblem", "style"] if spec.has_text else ["emblem", "colour"]
        if not spec.has_emblem:
            pool = [p for p in pool if p != "emblem"]
        first = rng.choice(pool)
        parts = [first]
        if rng.random() < 0.4:
            rest = [p for p in pool if p != first]
            if rest:
                parts.append(rng.choice(rest))
    changers: dict[str, Callable[[LogoSpec, random.Random], LogoSpec]] = {
        "name": lambda s, r: replace(s, name=_alter_name(s.name, r)),
        "colour": _alter_colour, "emblem": _alter_emblem, "style": _alter_style,
    }
    out = spec
    for part in parts:
        if part not in changers:
            raise ValueError(f"unknown logo part {part!r}; expected one of {sorted(changers)}")
        out = changers[part](out, rng)
    if out == spec:  # a no-op change (e.g. a fill with nothing to fill): change the colour
        out = _alter_colour(spec, rng)
    return out


# --- rendering --------------------------------------------------------------------------------
def render_logo(spec: LogoSpec, height: int = 128) -> Image.Image:
    """Draw ``spec`` as an RGBA image ``height`` pixels high, transparent around a tight crop."""
    if spec.layout not in LAYOUTS:
        raise ValueError(f"unknown layout {spec.layout!r}; expected one of {LAYOUTS}")
    if spec.has_emblem and spec.emblem not in EMBLEMS:
        raise ValueError(f"unknown emblem {spec.emblem!r}; expected one of {EMBLEMS}")
    H = max(8, int(height)) * _SS
    rng = random.Random(spec.seed)
    if spec.layout == "wordmark-only":
        canvas = _wordmark(spec, int(H * 0.62))
        if spec.underline:
            canvas = _stack([canvas, _bar(canvas.width, max(2, H // 14), spec.accent)], H // 16)
    elif spec.layout == "emblem-only":
        canvas = _emblem(spec, H, rng)
    elif spec.layout == "emblem-left":
        canvas = _row([_emblem(spec, H, rng), _wordmark(spec, int(H * 0.42))], int(H * 0.16))
    elif spec.layout == "emblem-top":
        canvas = _stack([_emblem(spec, int(H * 0.6), rng), _wordmark(spec, int(H * 0.24))],
                        int(H * 0.07))
    else:
        canvas = _badge(spec, H, rng)
    canvas = _tight(canvas)
    w = max(1, round(canvas.width * height / canvas.height))
    return canvas.resize((w, int(height)), Image.LANCZOS)


def _tight(image: Image.Image) -> Image.Image:
    box = image.getchannel("A").getbbox()
    return image.crop(box) if box else image


def _paint(size: tuple[int, int], mask: Image.Image, colour: RGB,
           under: Image.Image | None = None) -> Image.Image:
    """Colour a mask in; optionally over an existing RGBA layer."""
    out = under if under is not None else Image.new("RGBA", size, (0, 0, 0, 0))
    out.paste(colour + (255,), (0, 0), mask)
    return out


def _row(parts: list[Image.Image], gap: int) -> Image.Image:
    parts = [_tight(p) for p in parts]
    h = max(p.height for p in parts)
    w = sum(p.width for p in parts) + gap * (len(parts) - 1)
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    x = 0
    for p in parts:
        out.alpha_composite(p, (x, (h - p.height) // 2))
        x += p.width + gap
    return out


def _stack(parts: list[Image.Image], gap: int) -> Image.Image:
    parts = [_tight(p) for p in parts]
    w = max(p.width for p in parts)
    h = sum(p.height for p in parts) + gap * (len(parts) - 1)
    out = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    y = 0
    for p in parts:
        out.alpha_composite(p, ((w - p.width) // 2, y))
        y += p.height + gap
    return out


def _bar(width: int, height: int, colour: RGB) -> Image.Image:
    return Image.new("RGBA", (max(1, width), max(1, height)), colour + (255,))


@lru_cache(maxsize=256)
def _cap_ratio(font_path: str) -> float:
    """Cap height per pixel of font size, so wordmarks of every font come out the same height."""
    font = load_font(font_path, 200)
    box = font.getbbox("H")
    return max(0.3, (box[3] - box[1]) / 200)


def text_mask(text: str, font_path: str, cap_height: int, letter_spacing: float = 0.0,
              stroke: int = 0) -> Image.Image:
    """An L mask of ``text`` whose capital letters are ``cap_height`` pixels tall."""
    size = max(4, round(cap_height / _cap_ratio(font_path)))
    font = load_font(font_path, size)
    pad = stroke + size // 4 + 2
    spacing = letter_spacing * size
    if spacing == 0:
        left, top, right, bottom = font.getbbox(text, stroke_width=stroke)
        mask = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
        ImageDraw.Draw(mask).text((pad - left, pad - top), text, font=font, fill=255,
                                  stroke_width=stroke, stroke_fill=255)
        return mask
    width = int(sum(font.getlength(c) for c in text) + spacing * max(0, len(text) - 1)) + 2 * pad
    asc, desc = font.getmetrics()
    mask = Image.new("L", (width, asc + desc + 2 * pad), 0)
    draw = ImageDraw.Draw(mask)
    x = float(pad)
    for char in text:
        draw.text((x, pad), char, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
        x += font.getlength(char) + spacing
    return mask


def _wordmark(spec: LogoSpec, cap: int) -> Image.Image:
    text = spec.text
    stroke = max(1, cap // 14) if spec.outline != "none" else 0
    fill = text_mask(text, spec.font, cap, spec.letter_spacing, 0)
    if spec.outline == "none":
        return _paint(fill.size, fill, spec.fg)
    outer = text_mask(text, spec.font, cap, spec.letter_spacing, stroke)
    # The stroked mask is larger by the stroke on each side: centre the plain mask on it.
    plain = Image.new("L", outer.size, 0)
    plain.paste(fill, ((outer.width - fill.width) // 2, (outer.height - fill.height) // 2))
    if spec.outline == "hollow":
        return _paint(outer.size, ImageChops.subtract(outer, plain), spec.fg)
    out = _paint(outer.size, outer, spec.accent)
    return _paint(outer.size, plain, spec.fg, out)


def _badge(spec: LogoSpec, H: int, rng: random.Random) -> Image.Image:
    text = _tight(_wordmark(replace(spec, fg=spec.fg if spec.fg != spec.bg else spec.accent,
                                    outline="none"), int(H * 0.34)))
    inner = text
    if spec.emblem in ("star", "sun", "circle", "ring", "leaf", "drop", "cross", "polygon"):
        inner = _row([_emblem(replace(spec, accent=spec.fg, bg=spec.bg), int(H * 0.5), rng), text],
                     int(H * 0.1))
    pad_x, pad_y = int(H * 0.28), (H - inner.height) // 2
    w = inner.width + 2 * pad_x
    plate = Image.new("L", (w, H), 0)
    draw = ImageDraw.Draw(plate)
    shape = rng.random()
    if shape < 0.45:
        draw.rounded_rectangle((0, 0, w - 1, H - 1), radius=int(H * rng.choice((0.12, 0.25, 0.5))),
                               fill=255)
    elif shape < 0.75:
        draw.ellipse((0, 0, w - 1, H - 1), fill=255)
        pad_x = (w - inner.width) // 2
    else:
        draw.rectangle((0, 0, w - 1, H - 1), fill=255)
        border = max(2, H // 20)
        draw.rectangle((border * 2, border * 2, w - 1 - border * 2, H - 1 - border * 2), fill=0)
        draw.rectangle((border * 3, border * 3, w - 1 - border * 3, H - 1 - border * 3), fill=255)
    out = _paint(plate.size, plate, spec.bg if spec.bg != (255, 255, 255) or spec.fg != spec.bg
                 else spec.accent)
    if shape >= 0.75:  # the double frame line in the accent colour
        ring = Image.new("L", plate.size, 0)
        border = max(2, H // 20)
        ImageDraw.Draw(ring).rectangle((border * 2, border * 2, w - 1 - border * 2,
                                        H - 1 - border * 2), outline=255, width=border)
        out = _paint(plate.size, ring, spec.accent, out)
    out.alpha_composite(inner, ((w - inner.width) // 2, pad_y))
    return out


# --- emblems ----------------------------------------------------------------------------------
def _polygon(cx: float, cy: float, r: float, n: int, rot: float) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(math.radians(rot) + 2 * math.pi * k / n - math.pi / 2),
             cy + r * math.sin(math.radians(rot) + 2 * math.pi * k / n - math.pi / 2))
            for k in range(n)]


def _star(cx: float, cy: float, r: float, inner: float, n: int, rot: float) -> list[tuple[float, float]]:
    pts = []
    for k in range(2 * n):
        rr = r if k % 2 == 0 else r * inner
        a = math.radians(rot) + math.pi * k / n - math.pi / 2
        pts.append((cx + rr * math.cos(a), cy + rr * math.sin(a)))
    return pts


def _shield(s: int, m: float) -> list[tuple[float, float]]:
    pts = [(m, m), (s - m, m), (s - m, s * 0.5)]
    for k in range(1, 10):  # the curved lower half ending in a point
        t = k / 10
        pts.append((s - m - (s / 2 - m) * t ** 0.8, s * 0.5 + (s - m - s * 0.5) * math.sin(t * math.pi / 2)))
    pts.append((s / 2, s - m))
    for x, y in reversed(pts[2:-1]):
        pts.append((s - x, y))
    pts.append((m, s * 0.5))
    return pts


def _letters_mask(s: int, letters: str, font_path: str, frac: float) -> Image.Image:
    """Letters centred in an s x s mask, capital height ``frac`` of s."""
    mask = Image.new("L", (s, s), 0)
    if not letters:
        return mask
    glyphs = _tight_l(text_mask(letters, font_path, int(s * frac)))
    if glyphs.width > s * 0.8:  # two wide letters: shrink to fit the frame
        scale = s * 0.8 / glyphs.width
        glyphs = glyphs.resize((max(1, int(glyphs.width * scale)), max(1, int(glyphs.height * scale))),
                               Image.BILINEAR)
    mask.paste(glyphs, ((s - glyphs.width) // 2, (s - glyphs.height) // 2))
    return mask


def _tight_l(mask: Image.Image) -> Image.Image:
    box = mask.getbbox()
    return mask.crop(box) if box else mask


def _emblem(spec: LogoSpec, s: int, rng: random.Random) -> Image.Image:
    """The emblem in an s x s RGBA image: a shape mask in the accent colour with cut-outs."""
    s = max(8, s)
    shape = Image.new("L", (s, s), 0)     # coloured accent
    cut = Image.new("L", (s, s), 0)       # drawn over the shape in bg (or transparent)
    d, dc = ImageDraw.Draw(shape), ImageDraw.Draw(cut)
    c, r, m = s / 2, s / 2 * 0.96, s * 0.02
    line = max(2, int(s * 0.07))
    kind, n, rot, fill = spec.emblem, spec.emblem_sides, spec.emblem_rotation, spec.emblem_fill
    letter = spec.emblem_letter or spec.name[:1].upper()
    hollow = fill == "outline"

    def outline_or_fill(pts: list[tuple[float, float]]) -> None:
        if hollow:
            d.polygon(pts, outline=255, width=line)
        else:
            d.polygon(pts, fill=255)

    if kind == "circle":
        if hollow:
            d.ellipse((m, m, s - m, s - m), outline=255, width=line)
        else:
            d.ellipse((m, m, s - m, s - m), fill=255)
        if n % 2 == 1:
            cut.paste(_letters_mask(s, letter, spec.font, 0.45))
        elif n == 2:
            dc.ellipse((c - r * 0.35, c - r * 0.35, c + r * 0.35, c + r * 0.35), fill=255)
    elif kind == "ring":
        d.ellipse((m, m, s - m, s - m), outline=255, width=max(line, int(s * (0.08 + 0.03 * (n % 3)))))
        if n % 2 == 0:
            rr = r * 0.3
            d.ellipse((c - rr, c - rr, c + rr, c + rr), fill=255)
        else:
            shape.paste(255, (0, 0), _letters_mask(s, letter, spec.font, 0.4))
    elif kind == "polygon":
        outline_or_fill(_polygon(c, c, r, max(3, n), rot))
        if n % 2 == 0 and not hollow:
            dc.polygon(_polygon(c, c, r * 0.45, max(3, n), rot + 180 / max(3, n)), fill=255)
    elif kind == "star":
        inner = 0.38 + 0.12 * (spec.seed % 3) / 2
        outline_or_fill(_star(c, c, r, inner, max(4, n), rot))
    elif kind in ("shield", "crest"):
        outline_or_fill(_shield(s, m))
        if kind == "crest":
            band = s * (0.3 + 0.1 * rng.random())
            dc.rectangle((0, band, s, band + s * 0.1), fill=255)
            for k in range(3):
                dc.polygon(_star(s * (0.3 + 0.2 * k), s * 0.2, s * 0.07, 0.45, 5, 0), fill=255)
            cut.paste(255, (0, int(s * 0.12)), _letters_mask(s, letter[:1], spec.font, 0.3))
        elif n:
            dc.polygon([(s * 0.25, s * 0.35), (s * 0.5, s * 0.55), (s * 0.75, s * 0.35),
                        (s * 0.75, s * 0.47), (s * 0.5, s * 0.67), (s * 0.25, s * 0.47)], fill=255)
        else:
            cut.paste(_letters_mask(s, letter, spec.font, 0.38))
    elif kind == "leaf":
        bend = 0.25 + 0.3 * rng.random()
        leaf = Image.new("L", (s, s), 0)
        ld = ImageDraw.Draw(leaf)
        ld.ellipse((s * (0.5 - bend), m, s * (0.5 + bend), s - m), fill=255)
        shape.paste(leaf.rotate(rot or 35, resample=Image.BILINEAR, center=(c, c)))
        vein = Image.new("L", (s, s), 0)
        ImageDraw.Draw(vein).line((c, s * 0.12, c, s * 0.88), fill=255, width=max(1, line // 2))
        cut.paste(vein.rotate(rot or 35, resample=Image.BILINEAR, center=(c, c)))
    elif kind == "monogram":
        frame = n if n in (4, 6) else 0
        if frame:
            d.polygon(_polygon(c, c, r, frame, 45 if frame == 4 else 0), outline=255, width=line)
        else:
            d.ellipse((m, m, s - m, s - m), outline=255, width=line)
        shape.paste(255, (0, 0), _letters_mask(s, letter, spec.font, 0.42 if frame != 4 else 0.34))
    elif kind == "badge":
        teeth = max(6, n)
        d.polygon(_star(c, c, r, 0.86, teeth, rot), fill=255)
        if hollow:
            dc.ellipse((c - r * 0.62, c - r * 0.62, c + r * 0.62, c + r * 0.62), fill=255)
            shape.paste(255, (0, 0), _letters_mask(s, letter, spec.font, 0.34))
        else:
            cut.paste(_letters_mask(s, letter, spec.font, 0.4))
    elif kind == "sun":
        rays = max(6, n)
        core = r * 0.5
        d.ellipse((c - core, c - core, c + core, c + core), fill=255)
        for k in range(rays):
            a = math.radians(rot) + 2 * math.pi * k / rays
            w = math.pi / rays * 0.5
            d.polygon([(c + core * 1.15 * math.cos(a - w), c + core * 1.15 * math.sin(a - w)),
                       (c + r * math.cos(a), c + r * math.sin(a)),
                       (c + core * 1.15 * math.cos(a + w), c + core * 1.15 * math.sin(a + w))],
                      fill=255)
        if hollow:
            dc.ellipse((c - core * 0.6, c - core * 0.6, c + core * 0.6, c + core * 0.6), fill=255)
    elif kind == "wave":
        bands = max(2, min(5, n))
        phase = rng.random() * math.pi
        thick = s / (bands * 2.2)
        for b in range(bands):
            y0 = s * 0.18 + b * (s * 0.64) / max(1, bands - 1) - thick / 2
            top = [(x, y0 + s * 0.09 * math.sin(x / s * 2 * math.pi + phase)) for x in range(0, s + 1, 2)]
            d.polygon(top + [(x, y + thick) for x, y in reversed(top)], fill=255)
    elif kind == "chevron":
        count = max(1, min(4, n))
        rise = s * (0.2 + 0.06 * (spec.seed % 3))  # the seed sets how steep the chevrons are
        for k in range(count):
            y = s * 0.15 + k * s * 0.7 / max(1, count)
            d.line([(m, y + rise), (c, y), (s - m, y + rise)], fill=255,
                   width=max(2, int(s * 0.11)), joint="curve")
    elif kind == "bars":
        count = max(2, min(6, n + 1))
        bw = s / (count * 1.6)
        for k in range(count):
            h = s * (0.35 + 0.6 * ((k * 7 + spec.seed) % count + 1) / count)
            x = m + k * (s - 2 * m) / count
            d.rectangle((x, s - m - h, x + bw, s - m), fill=255)
    elif kind == "drop":
        d.ellipse((s * 0.2, s * 0.35, s * 0.8, s - m), fill=255)
        d.polygon([(c, m), (s * 0.23, s * 0.58), (s * 0.77, s * 0.58)], fill=255)
        if hollow:
            dc.ellipse((s * 0.35, s * 0.52, s * 0.65, s * 0.82), fill=255)
    elif kind == "cross":
        arms = max(3, n)
        for k in range(arms):
            a = math.radians(rot) + 2 * math.pi * k / arms
            d.line([(c, c), (c + r * math.cos(a), c + r * math.sin(a))], fill=255,
                   width=max(3, int(s * 0.2)))
        if hollow:
            dc.ellipse((c - r * 0.15, c - r * 0.15, c + r * 0.15, c + r * 0.15), fill=255)
    elif kind == "swoosh":
        big = Image.new("L", (s, s), 0)
        bd = ImageDraw.Draw(big)
        bd.ellipse((m, s * 0.2, s - m, s - m), fill=255)
        off = s * (0.1 + 0.08 * rng.random())
        bd.ellipse((m + off, s * 0.2 - off, s - m + off * 0.5, s - m - off * 1.2), fill=0)
        shape.paste(big.rotate(rot, resample=Image.BILINEAR, center=(c, c)))

    if fill == "split" and kind not in ("wave", "bars", "chevron"):
        # Two-tone: the right half of the shape in the text colour.
        half = Image.new("L", (s, s), 0)
        ImageDraw.Draw(half).rectangle((s // 2, 0, s, s), fill=255)
        right = ImageChops.multiply(shape, half)
        out = _paint((s, s), ImageChops.subtract(shape, right), spec.accent)
        out = _paint((s, s), right, spec.fg if spec.fg != spec.accent else _shift_hue(spec.fg, 0.5), out)
    else:
        out = _paint((s, s), shape, spec.accent)
    # Cut-outs only where the shape is: the bg colour over a solid shape reads as a knock-out.
    inside = ImageChops.multiply(cut, shape)
    return _paint((s, s), inside, spec.bg, out)
