"""The labelled sample set: fictional brands, listing photos of every case, and their labels.

``python scripts/make_samples.py --out sample_images`` calls :func:`make_samples`. Each photo is
made from its own seeded generator (``random.Random(f"{seed}:{index}:{case}")``), so one photo
can be regenerated alone (:func:`make_photo`) and tests can check the committed files.

Labels follow DESIGN.md: ``suspect`` when an altered name, an imitation logo, a cue word or mixed
marks are in the photo; ``review`` when only genuine marks are; ``clear`` otherwise. Columns
beyond the four the evaluator reads:

- ``kind``: the case (``altered-leet``, ``cue-zh``, ...);
- ``evidence``: where the marks are visible: ``text``, ``logo``, ``text;logo`` or empty;
- ``marks``: JSON list of ``{"kind", "content", "box", "where"}`` for every logo and text placed.
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from ...fonts import find_font
from .logos import LogoSpec, imitate, random_spec, render_logo
from .scenes import (PRINT_STYLES, PRODUCTS, Scene, SceneBuilder, chinese_font, luminance, product_colour,
                     text_fonts)

SEED = 20240601
SIZES = ((1024, 768), (768, 1024), (1024, 1024), (1024, 683))
LABEL_FIELDS = ("path", "verdict", "brands", "flags", "kind", "evidence", "marks")


@dataclass(frozen=True)
class SampleBrand:
    """A fictional brand of the sample registry and the look of its mark."""

    name: str
    aliases: tuple[str, ...]
    font: str                    # font stem: the brand's wordmark face
    emblem: str
    fg: tuple[int, int, int]
    accent: tuple[int, int, int]
    case: str = "upper"


# Invented names, chosen to carry letters that sellers swap for look-alikes (o/0, e/3, m/rn, Cyrillic
# е/о/а/Т/К/В) and so that ordinary words sit near some of them ("velvet", "crane", "antique").
BRANDS: tuple[SampleBrand, ...] = (
    SampleBrand("Veltora", ("Veltora Paris",), "Lato-Black", "leaf", (24, 28, 40), (176, 32, 52)),
    SampleBrand("Kyrane", ("Kyrane Sport",), "Roboto-Bold", "chevron", (20, 40, 90), (230, 120, 20)),
    SampleBrand("Osmira", (), "C059-Bold", "crest", (70, 20, 40), (150, 110, 40), "title"),
    SampleBrand("Brundell", (), "OpenSans-ExtraBold", "bars", (30, 30, 30), (20, 130, 90)),
    SampleBrand("Lumexa", (), "Cantarell-Bold", "sun", (40, 30, 80), (240, 170, 20), "title"),
    SampleBrand("Tavique", (), "P052-Bold", "monogram", (25, 60, 50), (25, 60, 50)),
    SampleBrand("Zorvik", (), "RobotoCondensed-Bold", "star", (140, 20, 20), (20, 20, 20)),
    SampleBrand("Pellano", (), "URWGothic-Demi", "wave", (10, 70, 130), (0, 150, 190), "title"),
)

# Ordinary words near some brand names (a few letters apart, never a look-alike spelling).
HARD_NEGATIVES = {
    "Veltora": ("VELVET", "VELOUR"), "Kyrane": ("CRANE",), "Tavique": ("ANTIQUE", "UNIQUE"),
    "Lumexa": ("LUMEN",), "Brundell": ("BUNDLE",), "Osmira": ("ADMIRAL",), "Pellano": ("PIANO",),
    "Zorvik": ("ZERO",),
}
GENERIC_EN = ("100% COTTON", "NEW ARRIVAL", "SALE -30%", "Handmade", "FREE SHIPPING", "Genuine leather",
              "Size M", "Limited stock", "Eco friendly", "Best seller", "Gift idea", "Summer collection")
GENERIC_ZH = ("正品保证", "包邮", "新款上市", "现货", "原装正品", "特价", "官方旗舰店", "限时折扣")
CUES_EN = ("REPLICA", "1:1 quality", "AAA grade", "mirror quality", "super copy", "inspired by {b}",
           "AAAA", "Replica {b}")
CUES_ZH = ("高仿", "复刻", "原单", "A货", "仿品", "1比1")
PRODUCT_WORDS = {"tote": "tote bag", "handbag": "handbag", "tshirt": "t-shirt", "sneaker": "sneakers",
                 "box": "gift box", "bottle": "perfume", "cap": "cap", "wallet": "wallet"}
PRODUCT_ZH = {"tote": "手提包", "handbag": "女包", "tshirt": "T恤", "sneaker": "运动鞋", "box": "礼盒",
              "bottle": "香水", "cap": "帽子", "wallet": "钱包"}
PRICES = ("$49.99", "$89", "$129.00", "$24.50", "€59", "$199", "$15", "¥299", "¥88", "$65")

# Cyrillic letters drawn like Latin ones (upper and lower case).
_CYRILLIC = {"A": "А", "B": "В", "E": "Е", "K": "К", "M": "М", "H": "Н", "O": "О", "P": "Р", "C": "С",
             "T": "Т", "X": "Х", "a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у"}
_LEET = {"o": "0", "e": "3", "a": "4", "s": "5", "l": "1", "i": "1", "t": "7", "b": "8"}


def brand_spec(brand: SampleBrand) -> LogoSpec:
    """The brand's reference logo: emblem beside the wordmark, fixed colours and face."""
    base = random_spec(brand.name, random.Random(f"brand:{brand.name}"))
    return replace(base, font=find_font(brand.font).path, layout="emblem-left", emblem=brand.emblem,
                   fg=brand.fg, accent=brand.accent, bg=(255, 255, 255), case=brand.case,
                   outline="none", letter_spacing=0.04, emblem_fill="solid",
                   emblem_letter=brand.name[0], underline=False)


def emblem_spec(brand: SampleBrand) -> LogoSpec:
    return replace(brand_spec(brand), layout="emblem-only")


# --- altered names ----------------------------------------------------------------------------
def alter(name: str, how: str, rng: random.Random) -> str:
    """``name`` written the way a knock-off seller would: leet, rn-for-m, swap, split, Cyrillic, edit."""
    upper = name.upper()
    if how == "leet":
        spots = [i for i, c in enumerate(upper) if c.lower() in _LEET and i > 0]
        i = rng.choice(spots)
        return upper[:i] + _LEET[upper[i].lower()] + upper[i + 1:]
    if how == "rn":
        if "M" in upper:
            return upper.replace("M", "RN", 1)
        if "D" in upper:
            return upper.replace("D", "CL", 1)
        if "W" in upper:
            return upper.replace("W", "VV", 1)
        raise ValueError(f"{name!r} has no m, d or w to write as rn, cl or vv")
    if how == "swap":
        spots = [i for i in range(1, len(upper) - 2) if upper[i] != upper[i + 1]]
        i = rng.choice(spots)
        return upper[:i] + upper[i + 1] + upper[i] + upper[i + 2:]
    if how == "split":
        i = rng.randint(2, len(upper) - 2)
        # Two spaces: one space is narrower than a letter in most faces and a reader (or an
        # OCR engine) sees the name whole; the case is a name visibly broken in two.
        return upper[:i] + "  " + upper[i:]
    if how == "cyrillic":
        spots = [i for i, c in enumerate(upper) if c in _CYRILLIC]
        chosen = rng.sample(spots, k=min(len(spots), rng.choice((1, 2))))
        return "".join(_CYRILLIC[c] if i in chosen else c for i, c in enumerate(upper))
    if how == "edit":
        i = rng.randint(2, len(upper) - 2)
        if rng.random() < 0.5:
            return upper[:i] + upper[i] + upper[i:]  # a doubled letter
        return upper[:i] + upper[i + 1:]             # a dropped letter
    raise ValueError(f"unknown alteration {how!r}")


# --- the cases --------------------------------------------------------------------------------
@dataclass
class _Label:
    verdict: str
    brands: tuple[str, ...] = ()
    flags: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()


class _Photo:
    """Shared helpers for one photo: its generator, size, fonts and builder."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.size = rng.choice(SIZES)
        self.builder = SceneBuilder(rng, self.size)
        self.fonts = text_fonts()

    def font(self, text: str = "") -> str:
        if any(ord(c) > 0x2FFF for c in text):
            return chinese_font()
        if any(0x400 <= ord(c) < 0x500 for c in text):
            # Cyrillic look-alikes need a face that has them (DejaVu, Liberation, Roboto, ...).
            return self.rng.choice([f.path for f in self.fonts
                                    if f.stem.startswith(("DejaVu", "Liberation", "Roboto", "OpenSans"))])
        return self.rng.choice(self.fonts).path

    def product(self, prints: Sequence[tuple[str, object, str]] = (), light: bool | None = None,
                kind: str | None = None) -> str:
        rng = self.rng
        if rng.random() < 0.3:
            # Something else on the table, partly behind the product: plain, no marks.
            w, h = self.size
            bw, bh = int(w * rng.uniform(0.25, 0.4)), int(h * rng.uniform(0.25, 0.4))
            x, y = rng.randint(0, w - bw), rng.randint(0, h - bh)
            self.builder.add_product(rng.choice(PRODUCTS), colour=product_colour(rng),
                                     box=(x, y, x + bw, y + bh))
        kind = kind or rng.choice(PRODUCTS)
        style = "flat"
        if any(p[0] == "logo" for p in prints):
            # Most marks are printed; some pressed, foiled, stitched or on a sewn label.
            style = rng.choices(PRINT_STYLES, weights=(12, 2, 2, 2, 2))[0]
            if style == "foil":
                light = False  # foil reads on dark material, not on cream
        colour = product_colour(rng, light=light)
        self.builder.add_product(kind, colour=colour, prints=prints, print_style=style)
        return kind

    def caption(self, lines: Sequence[str], position: str | None = None) -> None:
        font = self.font("".join(lines))
        self.builder.add_caption(lines, font, position, cap_height=self.rng.randint(26, 34))

    def tag(self, lines: Sequence[str]) -> None:
        self.builder.add_tag(lines, self.font("".join(lines)), cap_height=self.rng.randint(26, 34))

    def finish(self) -> Scene:
        return self.builder.finish()


def _logo_prints(spec: LogoSpec, label: str, height: int = 240) -> tuple[str, object, str]:
    return ("logo", render_logo(spec, height), label)


def _case_clean(p: _Photo, ctx: "_Context") -> _Label:
    kind = p.product()
    roll = p.rng.random()
    if roll < 0.4:
        p.tag([p.rng.choice(PRICES)])
    elif roll < 0.7:
        p.caption([f"{p.rng.choice(GENERIC_EN)} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
    return _Label("clear")


def _case_unregistered_logo(p: _Photo, ctx: "_Context") -> _Label:
    # A logo of a brand nobody registered: marks exist, but none is protected.
    from .logos import random_brand_name

    while True:
        name = random_brand_name(p.rng)
        if all(abs(len(name) - len(b.name)) > 1 or name[:3].lower() != b.name[:3].lower() for b in BRANDS):
            break
    spec = random_spec(name, p.rng)
    spec = replace(spec, outline="none", layout=p.rng.choice(("emblem-left", "emblem-top", "wordmark-only")))
    p.product([_logo_prints(spec, name)], light=luminance(spec.fg) < 0.5)
    if p.rng.random() < 0.5:
        p.tag([p.rng.choice(PRICES)])
    return _Label("clear")


def _case_hard_negative(p: _Photo, ctx: "_Context") -> _Label:
    if ctx.index_in_case % 3 == 2:
        words = p.rng.sample(GENERIC_ZH, 2)
        kind = p.product()
        p.caption([f"{words[0]} {PRODUCT_ZH[kind]} {p.rng.choice(PRICES)}", words[1]])
        return _Label("clear")
    brand = BRANDS[ctx.index_in_case % len(BRANDS)]
    word = p.rng.choice(HARD_NEGATIVES[brand.name])
    kind = p.product([("text", word, p.font())], light=True)
    if p.rng.random() < 0.5:
        p.caption([f"{word.title()} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
    return _Label("clear")


def _case_genuine_text(p: _Photo, ctx: "_Context") -> _Label:
    brand = ctx.brand()
    name = brand.name.upper() if p.rng.random() < 0.6 else brand.name
    if ctx.index_in_case % 2 == 0:
        kind = p.product([("text", name, p.font())], light=p.rng.random() < 0.7)
    else:
        kind = p.product()
        p.caption([f"{brand.name} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
    return _Label("review", (brand.name,), ("brand_mark",), ("text",))


def _case_genuine_alias(p: _Photo, ctx: "_Context") -> _Label:
    brand = [b for b in BRANDS if b.aliases][ctx.index_in_case % 2]
    kind = p.product()
    p.caption([f"{brand.aliases[0]} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
    return _Label("review", (brand.name,), ("brand_mark",), ("text",))


def _case_genuine_logo(p: _Photo, ctx: "_Context") -> _Label:
    brand = ctx.brand()
    p.product([_logo_prints(brand_spec(brand), brand.name)], light=True)
    if p.rng.random() < 0.5:
        p.tag([p.rng.choice(PRICES)])
    return _Label("review", (brand.name,), ("brand_mark",), ("text", "logo"))


def _case_genuine_emblem(p: _Photo, ctx: "_Context") -> _Label:
    brand = ctx.brand()
    p.product([_logo_prints(emblem_spec(brand), brand.name, 260)], light=True)
    if p.rng.random() < 0.4:
        p.tag([p.rng.choice(PRICES)])
    return _Label("review", (brand.name,), ("brand_mark",), ("logo",))


def _altered_case(how: str) -> Callable[[_Photo, "_Context"], _Label]:
    def case(p: _Photo, ctx: "_Context") -> _Label:
        candidates = BRANDS
        if how == "rn":
            candidates = tuple(b for b in BRANDS if any(c in b.name.lower() for c in "mdw"))
        brand = candidates[ctx.index_in_case % len(candidates)]
        text = alter(brand.name, how, p.rng)
        if p.rng.random() < 0.6:
            kind = p.product([("text", text, p.font(text))], light=p.rng.random() < 0.7)
            if p.rng.random() < 0.4:
                p.tag([p.rng.choice(PRICES)])
        else:
            kind = p.product()
            p.caption([f"{text} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
        return _Label("suspect", (brand.name,), ("altered_brand_name",), ("text",))
    return case


def _case_cue(lang: str) -> Callable[[_Photo, "_Context"], _Label]:
    def case(p: _Photo, ctx: "_Context") -> _Label:
        with_brand = ctx.index_in_case % 2 == 0
        brand = ctx.brand() if with_brand else None
        if lang == "en":
            cue = CUES_EN[ctx.index_in_case % len(CUES_EN)]
            if "{b}" in cue and brand is None:
                cue = cue.replace(" {b}", "").replace("{b} ", "") + " designer"
            cue = cue.replace("{b}", brand.name if brand else "")
        else:
            cue = CUES_ZH[ctx.index_in_case % len(CUES_ZH)]
        kind = p.product()
        word = PRODUCT_WORDS[kind] if lang == "en" else PRODUCT_ZH[kind]
        name = brand.name if brand else ""
        where = ctx.index_in_case % 3
        if where == 0 or (lang == "en" and "{b}" in CUES_EN[ctx.index_in_case % len(CUES_EN)]):
            line = cue if name and name in cue else " ".join(x for x in (cue, name, word) if x)
            p.caption([line, p.rng.choice(PRICES)])
        elif where == 1:
            if name:
                p.caption([f"{name} {word}"])
            p.tag([cue, p.rng.choice(PRICES)])
        else:
            p.caption([" ".join(x for x in (name, word) if x) + f" {p.rng.choice(PRICES)}", cue])
        flags = ("brand_mark", "counterfeit_cue") if brand else ("counterfeit_cue",)
        return _Label("suspect", (brand.name,) if brand else (), flags, ("text",))
    return case


def _changes(spec: LogoSpec, fake: LogoSpec) -> str:
    """What an imitation changed, for the label's marks (e.g. ``emblem_letter O->B``)."""
    return ", ".join(f"{k} {getattr(spec, k)}->{getattr(fake, k)}" for k in spec.__dict__
                     if getattr(spec, k) != getattr(fake, k) and k != "font") or "font"


def _visible_difference(a: LogoSpec, b: LogoSpec) -> float:
    """Share of the mark's ink that differs between two specs, compared at 64 x 64."""
    import numpy as np

    def ink(spec: LogoSpec) -> "np.ndarray":
        image = render_logo(spec, 64).resize((64, 64))
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255
        return rgb * (np.asarray(image.getchannel("A"), dtype=np.float32)[..., None] / 255)

    x, y = ink(a), ink(b)
    return float(np.abs(x - y).sum() / max(1e-6, np.maximum(x, y).sum()))


def _case_imitation_emblem(p: _Photo, ctx: "_Context") -> _Label:
    brand = ctx.brand()
    spec = emblem_spec(brand)
    # A reviewer must be able to see the change: skip imitations that differ by a hair.
    for _ in range(10):
        fake = imitate(spec, p.rng, parts=["emblem"])
        if _visible_difference(spec, fake) >= 0.12:
            break
    p.product([_logo_prints(fake, f"{brand.name} imitation ({_changes(spec, fake)})", 260)], light=True)
    if p.rng.random() < 0.4:
        p.tag([p.rng.choice(PRICES)])
    return _Label("suspect", (brand.name,), ("imitation_logo",), ("logo",))


def _case_imitation_full(p: _Photo, ctx: "_Context") -> _Label:
    brand = ctx.brand()
    parts = ["name"] if ctx.index_in_case % 2 == 0 else ["name", "emblem"]
    spec = brand_spec(brand)
    fake = imitate(spec, p.rng, parts=parts)
    p.product([_logo_prints(fake, f"{brand.name} imitation ({_changes(spec, fake)})")], light=True)
    return _Label("suspect", (brand.name,), ("altered_brand_name", "imitation_logo"), ("text", "logo"))


def _case_mixed(p: _Photo, ctx: "_Context") -> _Label:
    a = ctx.brand()
    b = BRANDS[(BRANDS.index(a) + 3) % len(BRANDS)]
    name = b.name.upper() if p.rng.random() < 0.5 else b.name
    if ctx.index_in_case % 2 == 0:
        p.product([_logo_prints(emblem_spec(a), a.name, 240), ("text", name, p.font())], light=True)
    else:
        kind = p.product([_logo_prints(emblem_spec(a), a.name, 260)], light=True)
        p.caption([f"{b.name} {PRODUCT_WORDS[kind]}", p.rng.choice(PRICES)])
    return _Label("suspect", tuple(sorted((a.name, b.name))), ("brand_mark", "mixed_marks"),
                  ("text", "logo"))


# (case name, count, maker): the plan of the sample set, in file order.
CASES: tuple[tuple[str, int, Callable[[_Photo, "_Context"], _Label]], ...] = (
    ("clean", 12, _case_clean),
    ("unregistered-logo", 4, _case_unregistered_logo),
    ("hard-negative", 10, _case_hard_negative),
    ("genuine-text", 8, _case_genuine_text),
    ("genuine-alias", 2, _case_genuine_alias),
    ("genuine-logo", 8, _case_genuine_logo),
    ("genuine-emblem", 8, _case_genuine_emblem),
    ("altered-leet", 4, _altered_case("leet")),
    ("altered-rn", 3, _altered_case("rn")),
    ("altered-swap", 3, _altered_case("swap")),
    ("altered-split", 3, _altered_case("split")),
    ("altered-cyrillic", 3, _altered_case("cyrillic")),
    ("altered-edit", 3, _altered_case("edit")),
    ("cue-en", 8, _case_cue("en")),
    ("cue-zh", 8, _case_cue("zh")),
    ("imitation-emblem", 5, _case_imitation_emblem),
    ("imitation-logo", 4, _case_imitation_full),
    ("mixed-marks", 6, _case_mixed),
)


@dataclass
class _Context:
    index: int
    case: str
    index_in_case: int

    def brand(self) -> SampleBrand:
        # Spread brands over cases: each case starts at a different brand.
        return BRANDS[(self.index_in_case + len(self.case)) % len(BRANDS)]


def plan() -> list[tuple[int, str, int]]:
    """(photo index, case, index within the case) for every photo, in file order."""
    out, index = [], 0
    for case, count, _ in CASES:
        for k in range(count):
            out.append((index, case, k))
            index += 1
    return out


def photo_name(index: int, case: str) -> str:
    return f"listings/{index:03d}-{case}.jpg"


def make_photo(index: int, case: str, index_in_case: int, seed: int = SEED) -> tuple[Scene, dict]:
    """One listing photo and its label row (``path`` relative to the sample folder)."""
    maker = {name: fn for name, _, fn in CASES}[case]
    rng = random.Random(f"{seed}:{index}:{case}")
    photo = _Photo(rng)
    label = maker(photo, _Context(index, case, index_in_case))
    scene = photo.finish()
    row = {
        "path": photo_name(index, case), "verdict": label.verdict, "brands": ";".join(label.brands),
        "flags": ";".join(sorted(label.flags)), "kind": case, "evidence": ";".join(label.evidence),
        "marks": json.dumps([{"kind": m.kind, "content": m.content, "box": list(m.box), "where": m.where}
                             for m in scene.marks], ensure_ascii=False),
    }
    return scene, row


def make_registry(out: Path) -> None:
    """Write ``out/brands`` with every sample brand: a full logo and its emblem alone."""
    from ...brands import BrandRegistry

    root = out / "brands"
    if root.exists():
        shutil.rmtree(root)
    registry = BrandRegistry(root)
    with tempfile.TemporaryDirectory() as tmp:
        for brand in BRANDS:
            folder = Path(tmp) / brand.name
            folder.mkdir()
            logo, emblem = folder / "logo.png", folder / "emblem.png"
            render_logo(brand_spec(brand), 256).save(logo, optimize=True)
            render_logo(emblem_spec(brand), 256).save(emblem, optimize=True)
            registry.add(brand.name, logos=[logo, emblem], aliases=brand.aliases,
                         extra={"owner": f"{brand.name} (fictional sample brand)"})
    registry.save()


def make_samples(out: str | Path, seed: int = SEED, progress: Callable[[str], None] | None = None) -> list[dict]:
    """Write the registry, every listing photo and ``labels.csv`` under ``out``; return the rows."""
    out = Path(out)
    make_registry(out)
    listings = out / "listings"
    if listings.exists():
        shutil.rmtree(listings)
    listings.mkdir(parents=True)
    rows = []
    for index, case, k in plan():
        scene, row = make_photo(index, case, k, seed)
        (out / row["path"]).write_bytes(scene.jpeg)
        rows.append(row)
        if progress:
            progress(row["path"])
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=LABEL_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows
