"""System fonts: found once, listed in a deterministic order. The one font finder of the project:
the OCR glyph check (:mod:`screener.ocr.glyphs`), the synthetic generators
(:mod:`screener.train.synth`) and the training mark renderer (:mod:`screener.train.render`) all
ask it.

The generator draws with fonts from Debian packages that the set-up installs (fonts-dejavu,
fonts-liberation2, fonts-freefont-ttf, fonts-urw-base35, fonts-lato, fonts-open-sans,
fonts-roboto, fonts-wqy-microhei, fonts-crosextra-carlito, fonts-cantarell, fonts-comic-neue).
Nothing is downloaded. Fonts are identified by their file stem (``"Lato-Bold"``), so a sample set
names the same fonts on every machine; ``SCREENER_FONT_DIRS`` (``:``-separated) adds folders.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FONT_DIRS: tuple[str, ...] = ("/usr/share/fonts", "/usr/local/share/fonts")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")
CJK_FONT_STEMS = ("wqy-microhei", "wqy-zenhei", "NotoSansCJK-Regular", "DroidSansFallbackFull")

# The faces the set-up's Debian packages install (scripts/install.sh). Logos draw from these
# only, so a seed makes the same logos on every machine set up that way, whatever else is
# installed (fonts-dejavu-extra, say, would otherwise shift every later random choice).
STANDARD_STEMS = frozenset("""
C059-BdIta C059-Bold C059-Italic C059-Roman Cantarell-Bold Cantarell-ExtraBold Cantarell-Light
Cantarell-Regular Cantarell-Thin Carlito-Bold Carlito-BoldItalic Carlito-Italic Carlito-Regular
ComicNeue-Bold ComicNeue-BoldItalic ComicNeue-Italic ComicNeue-Light ComicNeue-LightItalic
ComicNeue-Regular DejaVuSans DejaVuSans-Bold DejaVuSansMono DejaVuSansMono-Bold DejaVuSerif
DejaVuSerif-Bold FreeMono FreeMonoBold FreeMonoBoldOblique FreeMonoOblique FreeSans FreeSansBold
FreeSansBoldOblique FreeSansOblique FreeSerif FreeSerifBold FreeSerifBoldItalic FreeSerifItalic
Lato-Black Lato-BlackItalic Lato-Bold Lato-BoldItalic Lato-Hairline Lato-HairlineItalic Lato-Heavy
Lato-HeavyItalic Lato-Italic Lato-Light Lato-LightItalic Lato-Medium Lato-MediumItalic Lato-Regular
Lato-Semibold Lato-SemiboldItalic Lato-Thin Lato-ThinItalic LiberationMono-Bold
LiberationMono-BoldItalic LiberationMono-Italic LiberationMono-Regular LiberationSans-Bold
LiberationSans-BoldItalic LiberationSans-Italic LiberationSans-Regular LiberationSerif-Bold
LiberationSerif-BoldItalic LiberationSerif-Italic LiberationSerif-Regular NimbusMonoPS-Bold
NimbusMonoPS-BoldItalic NimbusMonoPS-Italic NimbusMonoPS-Regular NimbusRoman-Bold
NimbusRoman-BoldItalic NimbusRoman-Italic NimbusRoman-Regular NimbusSans-Bold NimbusSans-BoldItalic
NimbusSans-Italic NimbusSans-Regular NimbusSansNarrow-Bold NimbusSansNarrow-BoldOblique
NimbusSansNarrow-Oblique NimbusSansNarrow-Regular OpenSans-Bold OpenSans-BoldItalic OpenSans-CondBold
OpenSans-CondLight OpenSans-CondLightItalic OpenSans-ExtraBold OpenSans-ExtraBoldItalic OpenSans-Italic
OpenSans-Light OpenSans-LightItalic OpenSans-Regular OpenSans-Semibold OpenSans-SemiboldItalic P052-Bold
P052-BoldItalic P052-Italic P052-Roman Roboto-Black Roboto-BlackItalic Roboto-Bold Roboto-BoldItalic
Roboto-Italic Roboto-Light Roboto-LightItalic Roboto-Medium Roboto-MediumItalic Roboto-Regular
Roboto-Thin Roboto-ThinItalic RobotoCondensed-Bold RobotoCondensed-BoldItalic RobotoCondensed-Italic
RobotoCondensed-Light RobotoCondensed-LightItalic RobotoCondensed-Medium RobotoCondensed-MediumItalic
RobotoCondensed-Regular URWBookman-Demi URWBookman-DemiItalic URWBookman-Light URWBookman-LightItalic
URWGothic-Book URWGothic-BookOblique URWGothic-Demi URWGothic-DemiOblique Z003-MediumItalic
""".split())

# Symbol, dingbat and maths fonts have no usable Latin letters.
_EXCLUDE = re.compile(r"(Symbol|D050000L|Math|Dingbat|wqy|Noto.*CJK|DroidSansFallback)", re.I)
# Weight words in file names, most specific first (ExtraBold before Bold).
_WEIGHTS = (
    ("hairline", 100), ("thin", 100), ("extralight", 200), ("ultralight", 200), ("light", 300),
    ("book", 400), ("regular", 400), ("roman", 400), ("medium", 500), ("semibold", 600),
    ("demibold", 600), ("demi", 600), ("extrabold", 800), ("heavy", 800), ("black", 900),
    ("bold", 700), ("bd", 700),
)


@dataclass(frozen=True)
class FontInfo:
    """One font file and what its name says about it."""

    path: str
    stem: str          # file name without suffix, e.g. "Lato-BoldItalic": the stable id
    family: str        # e.g. "Lato"
    weight: int        # 100 (thin) .. 900 (black), from the file name
    italic: bool
    condensed: bool
    mono: bool
    serif: bool


def font_dirs() -> tuple[str, ...]:
    extra = tuple(d for d in os.environ.get("SCREENER_FONT_DIRS", "").split(":") if d)
    return extra + FONT_DIRS


def _font_files(roots: tuple[str, ...], suffixes: tuple[str, ...]) -> list[Path]:
    """Every font file under ``roots`` (in order, each folder's files sorted) ending in ``suffixes``."""
    out: list[Path] = []
    for root in roots:
        base = Path(root)
        if base.is_dir():
            out += [p for p in sorted(base.rglob("*")) if p.suffix.lower() in suffixes and p.is_file()]
    return out


@lru_cache(maxsize=1)
def _all_files() -> tuple[Path, ...]:
    found: dict[str, Path] = {}
    for root in font_dirs():
        for path in _font_files((root,), FONT_SUFFIXES):
            # Same stem in two packages (liberation and liberation2): the last in sorted
            # order wins, which is the newer package and the same choice on every machine.
            found[path.stem] = path
    return tuple(found[k] for k in sorted(found))


def _describe(path: Path) -> FontInfo:
    stem = path.stem
    family, _, style = stem.partition("-")
    lowered = stem.lower().replace("-", "")
    style_l = style.lower()
    weight = 400
    for word, value in _WEIGHTS:
        if word in style_l or (word in lowered and not style_l):
            weight = value
            break
    if family.endswith(("Bold", "BoldOblique", "BoldItalic")) and not style:  # FreeSansBold
        weight = 700
    italic = any(w in lowered for w in ("italic", "oblique", "ita")) or stem.endswith(("Oblique",))
    condensed = any(w in lowered for w in ("condensed", "narrow", "cond"))
    mono = "mono" in lowered
    serif = any(w in lowered for w in ("serif", "roman", "c059", "p052", "bookman", "z003")) \
        and "sans" not in lowered
    family = re.sub(r"(Bold|Oblique|Italic)+$", "", family) or family
    return FontInfo(path=str(path), stem=stem, family=family, weight=weight, italic=italic,
                    condensed=condensed, mono=mono, serif=serif)


# The training mark renderer's list (screener.train.render), older and wider than latin_fonts():
# symbol faces included, duplicate stems kept, SCREENER_FONT_DIRS ignored, sorted by full path.
# The shipped network was trained on marks drawn from it and the logo stage's background bank
# (bank-v1, screener.train.bank) is drawn from it, so it stays as it was: another list changes
# every seeded mark. Screening loads the bank's shipped embeddings and never draws it.
MARK_FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/share/fonts/opentype", "/usr/share/fonts/type1")


@lru_cache(maxsize=1)
def mark_fonts() -> tuple[str, ...]:
    """Font paths for :func:`screener.train.render.random_mark` (CJK-only faces skipped), sorted."""
    found = [str(p) for p in _font_files(MARK_FONT_DIRS, (".ttf", ".otf"))]
    return tuple(sorted(p for p in found if "wqy" not in p.lower() and "droid" not in p.lower()))


@lru_cache(maxsize=1)
def latin_fonts() -> tuple[FontInfo, ...]:
    """Every installed font that draws Latin letters, sorted by stem (deterministic)."""
    fonts = []
    for path in _all_files():
        if _EXCLUDE.search(path.name):
            continue
        fonts.append(_describe(path))
    return tuple(fonts)


def logo_fonts(min_weight: int = 300) -> tuple[FontInfo, ...]:
    """The standard Latin fonts heavy enough for a legible logo (hairline and thin cuts left out).

    Only faces in :data:`STANDARD_STEMS` count, so the list (and every seeded choice from it)
    is the same on each machine set up by scripts/install.sh.
    """
    return tuple(f for f in latin_fonts() if f.weight >= min_weight and f.stem in STANDARD_STEMS)


def find_font(stem: str) -> FontInfo:
    """A font by file stem (``"DejaVuSans-Bold"``); raises LookupError naming the package."""
    for font in latin_fonts():
        if font.stem == stem:
            return font
    raise LookupError(f"font {stem!r} is not installed (searched {', '.join(font_dirs())}); "
                      "install the Debian font packages listed in scripts/install.sh")


@lru_cache(maxsize=1)
def cjk_font() -> str:
    """The path of a font with Chinese glyphs (WenQuanYi Micro Hei from fonts-wqy-microhei)."""
    by_stem = {p.stem: p for p in _all_files()}
    for stem in CJK_FONT_STEMS:
        if stem in by_stem:
            return str(by_stem[stem])
    raise LookupError("no CJK font found: install the Debian package fonts-wqy-microhei")


@lru_cache(maxsize=1024)
def load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    """A cached FreeType font at an integer pixel size (loading a face costs ~1 ms)."""
    return ImageFont.truetype(path, max(1, int(size)))


@lru_cache(maxsize=4096)
def has_glyphs(path: str, text: str) -> bool:
    """Whether the font draws every character of ``text`` (not the missing-glyph box)."""
    font = load_font(path, 32)
    missing = _glyph_bytes(font, "\U0010fffd")
    for char in set(text):
        if char.isspace():
            continue
        if _glyph_bytes(font, char) == missing:
            return False
    return True


def _glyph_bytes(font: ImageFont.FreeTypeFont, char: str) -> bytes:
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(canvas).text((8, 8), char, font=font, fill=255)
    return canvas.tobytes()
