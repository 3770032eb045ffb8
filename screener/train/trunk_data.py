"""Training views for the trunk head, embedded once by the frozen trunk and cached on disk.

The head trains on *features*, not pixels: every view below is cut to the logo stage's crop size,
run through the frozen trunk (:func:`screener.logo.trunk.pooled_crops`, then L2-normalised, exactly
what :class:`~screener.logo.trunk.TrunkEmbedder` feeds its head) and stored, one ``.npz`` per
source under ``runs/``, keyed by the trunk and the recipe. Training then takes seconds per epoch.

Sources (seeded; identities are labels >= 0, ``-1`` is a negative that belongs to no identity):

- ``flickr``: the FlickrLogos-27 dev boxes of the *trained* brands in their training photos
  (``flickr_split``), one identity per brand: each box squashed as the logo stage cuts it, plus
  augmented views (margin, shift, warp, light). Never a held-out brand, never an evaluation photo;
- ``synth``: made-up marks (half :mod:`.synth.logos`, half :mod:`.render`), one clean view and
  augmented ones; half of them with a near-duplicate imitation (a letter, an emblem part or the
  lettering changed, never only the colour) as a *separate* identity, recorded as its ``partner``;
- ``icons``: simple-icons brand designs (:mod:`.icons`), the exclusion list applied: the brand's
  own colour, other colours, inverted, outlined, embossed, on product textures and photo patches;
- ``clutter``: negatives: windows of ICDAR 2015 dev street photos of the ``fit`` half
  (``evaluation_half``) and patches of the training photos away from any logo box.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import cv2
import numpy as np

from . import augment, render
from .exclusion import fold

SOURCES = ("flickr", "synth", "icons", "clutter")


@dataclass(frozen=True)
class ViewRecipe:
    """How many views of what: recorded in the manifest as the head's data recipe."""

    size: int = 128
    flickr_views: int = 4  # augmented views per box, beside the box as the logo stage cuts it
    synth_identities: int = 1000
    synth_imitation_share: float = 0.5
    synth_views: int = 4
    icon_views: int = 6  # the brand's own print + 5 other prints
    icons_limit: int = 0  # 0 = every usable mark; else an evenly spaced subset (quick runs, tests)
    icon_validation_share: float = 0.05  # marks kept out of training, to watch overfitting
    clutter_windows: int = 4000
    # Share of every identity's views also pasted into a street photo and pooled from whole-photo
    # trunk passes, as the logo stage pools its windows (``PooledRegions``): a box pooled in
    # context is not the descriptor of its crop (held-out dev crops, the shipped head: top-1 0.89
    # cut, 0.74 pooled), so the head must learn to bring the two together.
    pooled_share: float = 0.0
    in_photo_views: int = 0  # jittered windows per trained-brand box pooled in its own photo (0: none)
    region_scales: tuple[float, ...] = (1.0, 0.5, 0.25)  # the logo stage's (the manifest's region_scales)
    seed: int = 0

    def describe(self) -> str:
        return (f"per source, {self.size} px crops embedded once by the frozen trunk: FlickrLogos-27 dev boxes of "
                f"the trained brands in their training photos (flickr_split seed 0), each as cut + "
                f"{self.flickr_views} augmented views, one identity per brand; {self.synth_identities} synthetic "
                f"marks x {self.synth_views} views, {self.synth_imitation_share:.0%} with a near-duplicate "
                f"imitation (never colour only) as a separate identity; simple-icons-pack marks (CC0, the "
                f"exclusion list applied, {self.icon_validation_share:.0%} kept for validation) x "
                f"{self.icon_views} prints (own colour, other colours, inverted, outlined, embossed, on textures "
                f"and photo patches); negatives: {self.clutter_windows} windows of ICDAR 2015 dev 'fit'-half "
                f"street photos and training-photo patches away from logo boxes"
                + (f"; {self.pooled_share:.0%} of the views also pasted into ICDAR 2015 dev 'fit'-half street photos "
                   f"(up to 6 a photo, short side 32-200 px of the 640 px working copy, aspect 0.6-1.7) and pooled "
                   f"from whole-photo trunk passes as the logo stage pools its windows (box jittered), with 3 "
                   f"pooled street windows a photo as negatives" if self.pooled_share else "")
                + f"; seed {self.seed}")


@dataclass(frozen=True)
class FeatureSet:
    """Cached trunk features of one or more sources, one row per view."""

    features: np.ndarray  # N x D float32, unit length
    labels: np.ndarray  # N int64: identity, -1 = negative only
    partner: np.ndarray  # N int64: the identity this one imitates (or is imitated by), -1 if none
    source: np.ndarray  # N int8: index into SOURCES
    validation: np.ndarray  # N bool: kept out of training

    def __len__(self) -> int:
        return len(self.labels)

    @staticmethod
    def concat(parts: list["FeatureSet"]) -> "FeatureSet":
        """Sources joined with identity labels renumbered so that none collide."""
        out, offset = [], 0
        for p in parts:
            shift = np.where(p.labels >= 0, offset, 0)
            pshift = np.where(p.partner >= 0, offset, 0)
            out.append(dataclasses.replace(p, labels=p.labels + shift, partner=p.partner + pshift))
            if (p.labels >= 0).any():
                offset += int(p.labels.max()) + 1
        return FeatureSet(*(np.concatenate([getattr(p, f.name) for p in out]) for f in dataclasses.fields(FeatureSet)))


# --- views per source ---------------------------------------------------------------------------
View = tuple[np.ndarray, int, int, bool]  # crop, label, partner, validation


def _photo_patches(flickr: Path, icdar: Path, recipe: ViewRecipe) -> tuple[list, list[np.ndarray]]:
    """The trained brands' crops (per brand) and background patches of training photos and of
    fit-half street photos, used as grounds to print marks on."""
    from .data import evaluation_half, flickr_split, load_real_crops
    from .trunk_head import clutter_boxes, cut_all

    split = flickr_split(flickr)
    real, backgrounds = load_real_crops(flickr, split.train_boxes)
    street = sorted((icdar / "images").glob("*.jpg"))
    windows = clutter_boxes([p for p in street if evaluation_half(p.name) == "fit"], 600, recipe.seed + 11)
    return sorted(real.items()), backgrounds + list(cut_all(windows, 96))  # type: ignore[arg-type]


def flickr_views(real: list, recipe: ViewRecipe) -> Iterator[View]:
    rng = random.Random(recipe.seed)
    for label, (_, crops) in enumerate(real):
        for crop in crops:
            yield augment.to_input(augment.crop_with_margin(crop.pixels, crop.box, 0.0), recipe.size), label, -1, False
            for _ in range(recipe.flickr_views):
                view = augment.crop_with_margin(crop.pixels, crop.box, rng.uniform(-0.03, 0.25),
                                                (rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)))
                view = augment.geometric(view, rng, strength=0.5)
                view = augment.photometric(view, rng, strength=0.6)
                yield augment.to_input(view, recipe.size, rng), label, -1, False


def _synthetic_pair(rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """A made-up mark and a near-duplicate of it whose change is not only its colour (a genuine
    mark printed in another colour is the same mark), as RGBA arrays."""
    from .synth import logos as synth_logos

    height = rng.choice((64, 80, 96))
    if rng.random() < 0.5:
        spec = synth_logos.random_spec(synth_logos.random_brand_name(rng), rng)
        pool = (["name", "name", "style"] if spec.has_text else []) + (["emblem"] if spec.has_emblem else [])
        twin = synth_logos.imitate(spec, rng, parts=[rng.choice(pool or ["emblem"])])
        return (np.asarray(synth_logos.render_logo(spec, height).convert("RGBA")),
                np.asarray(synth_logos.render_logo(twin, height).convert("RGBA")))
    mark = render.random_mark(rng)
    for _ in range(10):
        twin_mark = render.imitate_mark(mark, rng)
        if dataclasses.replace(twin_mark, fg=mark.fg) != mark:
            break
    return (np.asarray(render.render_mark(mark, height).convert("RGBA")),
            np.asarray(render.render_mark(twin_mark, height).convert("RGBA")))


def synth_views(grounds: list[np.ndarray], recipe: ViewRecipe) -> Iterator[View]:
    rng = random.Random(recipe.seed + 1)
    label = 0
    for i in range(recipe.synth_identities):
        logo, twin = _synthetic_pair(rng)
        members = [logo, twin] if rng.random() < recipe.synth_imitation_share else [logo]
        for m, member in enumerate(members):
            partner = label + 1 - 2 * m if len(members) == 2 else -1
            for v in range(recipe.synth_views):
                if v == 0:
                    view = augment.photometric(augment.composite(member, rng, clean=True), rng, strength=0.2)
                    yield augment.to_input(view, recipe.size), label, partner, False
                    continue
                ground = rng.choice(grounds) if grounds and rng.random() < 0.4 else None
                view = augment.composite(member, rng, background=ground)
                view = augment.photometric(augment.geometric(view, rng), rng)
                yield augment.to_input(view, recipe.size, rng), label, partner, False
            label += 1


def icon_views(grounds: list[np.ndarray], recipe: ViewRecipe) -> Iterator[View]:
    from . import icons

    rng = random.Random(recipe.seed + 2)
    others = [v for v in icons.VARIANTS if v != "brand"]
    marks = icons.usable_icons()
    if recipe.icons_limit:
        marks = marks[::max(1, len(marks) // recipe.icons_limit)][:recipe.icons_limit]
    for label, mark in enumerate(marks):
        mask = icons.render_mask(mark)
        if mask.size == 0 or mask.max() == 0:
            continue
        held = int(hashlib.sha256(fold(mark.slug).encode()).hexdigest()[:8], 16) / 2**32 < recipe.icon_validation_share
        variants = ["brand"] + [others[(label + k) % len(others)] for k in range(recipe.icon_views - 1)]
        for variant in variants:
            yield icons.icon_view(mask, mark.colour, variant, rng, recipe.size, grounds), label, -1, held


def clutter_views(flickr: Path, icdar: Path, grounds: list[np.ndarray], recipe: ViewRecipe) -> Iterator[View]:
    from .data import evaluation_half
    from .trunk_head import clutter_boxes, cut_all

    rng = random.Random(recipe.seed + 3)
    street = sorted((icdar / "images").glob("*.jpg"))
    windows = clutter_boxes([p for p in street if evaluation_half(p.name) == "fit"], recipe.clutter_windows,
                            recipe.seed + 2)
    for start in range(0, len(windows), 256):
        for crop in cut_all(windows[start:start + 256], recipe.size):
            yield crop, -1, -1, False
    for patch in grounds:
        yield augment.to_input(augment.photometric(patch, rng, strength=0.5), recipe.size), -1, -1, False


# --- views pooled in a photo, as the logo stage pools its windows --------------------------------
class ScenePooler:
    """Pastes views into street photos and pools each pasted box from whole-photo trunk passes
    (:class:`screener.logo.trunk.PooledRegions`, the logo stage's own region mode), so the head
    also learns a mark as the stage meets it: not squashed, the photo around it in the trunk's
    receptive field, the window a little off the mark. Each photo also gives ``negatives`` pooled
    street windows away from the pasted views."""

    GRID = 3  # a photo is cut into GRID x GRID cells; each view or negative window takes one
    PER_SCENE = 6

    def __init__(self, trunk, scenes: list[np.ndarray], scales: tuple[float, ...], target: float,
                 seed: int, negatives: int = 3, p: float = 3.0) -> None:
        self.trunk, self.scenes, self.scales, self.target, self.p = trunk, scenes, scales, target, p
        self.rng = random.Random(seed)
        self.negatives = negatives
        self.pending: list[tuple[np.ndarray, int, int, bool]] = []

    def add(self, view: View) -> list[tuple[np.ndarray, int, int, bool]]:
        """Queue one view; returns pooled ``(descriptor, label, partner, validation)`` rows when a
        photo fills up."""
        self.pending.append(view)
        return self.flush() if len(self.pending) >= self.PER_SCENE else []

    def flush(self) -> list[tuple[np.ndarray, int, int, bool]]:
        from ..logo.trunk import PooledRegions

        if not self.pending:
            return []
        rng = self.rng
        scene = rng.choice(self.scenes).copy()
        h, w = scene.shape[:2]
        ch, cw = h // self.GRID, w // self.GRID
        cells = rng.sample(range(self.GRID * self.GRID), len(self.pending) + self.negatives)
        boxes, rows = [], []
        for (crop, label, partner, val), cell in zip(self.pending, cells):
            aspect = math.exp(rng.uniform(math.log(0.6), math.log(1.7)))
            short = math.exp(rng.uniform(math.log(32), math.log(200)))
            bw = int(min(cw, short * max(1.0, aspect)))
            bh = int(min(ch, short * max(1.0, 1 / aspect)))
            x = (cell % self.GRID) * cw + rng.randint(0, cw - bw)
            y = (cell // self.GRID) * ch + rng.randint(0, ch - bh)
            scene[y:y + bh, x:x + bw] = cv2.resize(crop, (bw, bh), interpolation=cv2.INTER_AREA)
            grow = rng.uniform(0.9, 1.2)
            cx, cy = x + bw / 2 + rng.uniform(-0.08, 0.08) * bw, y + bh / 2 + rng.uniform(-0.08, 0.08) * bh
            boxes.append((cx - bw * grow / 2, cy - bh * grow / 2, cx + bw * grow / 2, cy + bh * grow / 2))
            rows.append((label, partner, val))
        for cell in cells[len(self.pending):]:
            side = rng.uniform(0.4, 1.0) * min(ch, cw)
            x = (cell % self.GRID) * cw + rng.uniform(0, cw - side)
            y = (cell // self.GRID) * ch + rng.uniform(0, ch - side)
            boxes.append((x, y, x + side, y + side))
            rows.append((-1, -1, False))
        self.pending = []
        pooled = PooledRegions(self.trunk, scene, self.scales, self.target, self.p).descriptors(np.array(boxes, np.float32))
        return [(d, *r) for d, r in zip(pooled, rows)]


def in_photo_views(flickr: Path, icdar: Path, recipe: ViewRecipe, trunk, brands: list[str]) -> FeatureSet:
    """The trained brands' boxes pooled where they are: each training photo at the logo stage's
    working size, ``recipe.in_photo_views`` jittered windows per box pooled from its whole-photo
    passes (label: the brand's index in ``brands``), 3 windows away from the boxes and 10 windows
    of each fit-half street photo as negatives."""
    from ..logo.trunk import PooledRegions
    from .data import evaluation_half, flickr_split
    from .trunk_head import read_rgb

    rng = random.Random(recipe.seed + 5)
    by_photo: dict[str, list] = {}
    for b in flickr_split(flickr).train_boxes:
        if min(b.box[2] - b.box[0], b.box[3] - b.box[1]) >= 8 and b.brand in brands:
            by_photo.setdefault(b.image, []).append(b)
    photos = [(flickr / "images" / name, items) for name, items in sorted(by_photo.items())]
    photos += [(path, []) for path in sorted((icdar / "images").glob("*.jpg")) if evaluation_half(path.name) == "fit"]
    feats, labels = [], []
    for path, items in photos:
        image = read_rgb(path)
        s = 640 / max(image.shape[:2])
        image = cv2.resize(image, (round(image.shape[1] * s), round(image.shape[0] * s)), interpolation=cv2.INTER_AREA)
        h, w = image.shape[:2]
        boxes, rows = [], []
        for b in items:
            x1, y1, x2, y2 = (v * s for v in b.box)
            bw, bh = x2 - x1, y2 - y1
            for _ in range(recipe.in_photo_views):
                gx, gy = rng.uniform(0.9, 1.3), rng.uniform(0.9, 1.3)
                cx, cy = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * bw, (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * bh
                boxes.append((cx - bw * gx / 2, cy - bh * gy / 2, cx + bw * gx / 2, cy + bh * gy / 2))
                rows.append(brands.index(b.brand))
        for _ in range(3 if items else 10):
            for _try in range(10):
                side = rng.uniform(0.08, 0.4) * min(h, w)
                aspect = rng.uniform(0.5, 2.0)
                bw, bh = side * aspect ** 0.5, side / aspect ** 0.5
                x, y = rng.uniform(0, max(1, w - bw)), rng.uniform(0, max(1, h - bh))
                if all(x + bw <= b.box[0] * s or x >= b.box[2] * s or y + bh <= b.box[1] * s or y >= b.box[3] * s
                       for b in items):
                    boxes.append((x, y, x + bw, y + bh))
                    rows.append(-1)
                    break
        if boxes:
            regions = PooledRegions(trunk, image, recipe.region_scales, float(recipe.size))
            feats.append(regions.descriptors(np.array(boxes, np.float32)))
            labels += rows
    n = len(labels)
    return FeatureSet(np.concatenate(feats).astype(np.float32), np.asarray(labels, np.int64), np.full(n, -1, np.int64),
                      np.full(n, SOURCES.index("flickr"), np.int8), np.zeros(n, bool))


def street_scenes(icdar: Path, side: int = 640) -> list[np.ndarray]:
    """ICDAR 2015 dev street photos of the ``fit`` half, at the logo stage's working size."""
    from .data import evaluation_half
    from .trunk_head import read_rgb

    out = []
    for path in sorted((icdar / "images").glob("*.jpg")):
        if evaluation_half(path.name) == "fit":
            img = read_rgb(path)
            s = side / max(img.shape[:2])
            out.append(cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)), interpolation=cv2.INTER_AREA))
    return out


# --- embedding and caching ----------------------------------------------------------------------
def embed_views(views: Iterator[View], embed: Callable[[np.ndarray], np.ndarray], source: str,
                chunk: int = 256, log: Callable[[str], None] | None = None,
                pooler: ScenePooler | None = None, pooled_share: float = 0.0) -> FeatureSet:
    """Run ``embed`` over the views in chunks (never holding every crop in memory); with a
    ``pooler``, a ``pooled_share`` of the views is also pooled in a street photo (extra rows)."""
    feats, labels, partners, held = [], [], [], []
    batch: list[np.ndarray] = []
    pooled: list[tuple[np.ndarray, int, int, bool]] = []
    pick = random.Random(SOURCES.index(source) + 101)
    t0 = time.perf_counter()

    def flush() -> None:
        if batch:
            feats.append(embed(np.stack(batch)))
            batch.clear()
            if log and len(feats) % 20 == 0:
                log(f"{source}: {len(labels)} views, {time.perf_counter() - t0:.0f} s")

    for crop, label, partner, val in views:
        batch.append(crop)
        labels.append(label)
        partners.append(partner)
        held.append(val)
        if pooler is not None and label >= 0 and pick.random() < pooled_share:
            pooled += pooler.add((crop, label, partner, val))
        if len(batch) >= chunk:
            flush()
    flush()
    if pooler is not None:
        pooled += pooler.flush()
        if pooled:
            feats.append(np.stack([d for d, *_ in pooled]))
            labels += [r[1] for r in pooled]
            partners += [r[2] for r in pooled]
            held += [r[3] for r in pooled]
    n = len(labels)
    return FeatureSet(np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, 0), np.float32),
                      np.asarray(labels, np.int64), np.asarray(partners, np.int64),
                      np.full(n, SOURCES.index(source), np.int8), np.asarray(held, bool))


def cached_features(flickr: Path, icdar: Path, recipe: ViewRecipe, trunk, cache: Path,
                    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> FeatureSet:
    """Every source's features, computed once per (trunk, recipe) and read back from ``cache``."""
    from ..logo.trunk import pooled_crops, unit

    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps([trunk.sha256, dataclasses.asdict(recipe)]).encode()).hexdigest()[:16]
    context: dict[str, object] = {}

    def grounds() -> tuple[list, list[np.ndarray]]:
        if "patches" not in context:
            context["patches"] = _photo_patches(flickr, icdar, recipe)
        return context["patches"]  # type: ignore[return-value]

    makers: dict[str, Callable[[], Iterator[View]]] = {
        "flickr": lambda: flickr_views(grounds()[0], recipe),
        "synth": lambda: synth_views(grounds()[1], recipe),
        "icons": lambda: icon_views(grounds()[1], recipe),
        "clutter": lambda: clutter_views(flickr, icdar, grounds()[1], recipe),
    }
    parts = []
    for source in SOURCES:
        path = cache / f"{source}-{key}.npz"
        if path.exists():
            with np.load(path) as data:
                parts.append(FeatureSet(*(data[f.name] for f in dataclasses.fields(FeatureSet))))
            log(f"{source}: {len(parts[-1])} cached views ({path})")
            continue
        t0 = time.perf_counter()
        pooler = None
        if recipe.pooled_share > 0:
            if "scenes" not in context:
                context["scenes"] = street_scenes(icdar)
            pooler = ScenePooler(trunk, context["scenes"], recipe.region_scales, float(recipe.size),  # type: ignore[arg-type]
                                 recipe.seed + 7 + SOURCES.index(source))
        part = embed_views(makers[source](), lambda crops: unit(pooled_crops(trunk, crops)), source, log=log,
                           pooler=pooler, pooled_share=recipe.pooled_share)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f.name: getattr(part, f.name) for f in dataclasses.fields(FeatureSet)})
        tmp.replace(path)
        log(f"{source}: {len(part)} views embedded in {time.perf_counter() - t0:.0f} s -> {path}")
        parts.append(part)
    if recipe.in_photo_views:
        path = cache / f"inphoto-{key}.npz"
        if not path.exists():
            part = in_photo_views(flickr, icdar, recipe, trunk, [brand for brand, _ in grounds()[0]])
            np.savez(path, **{f.name: getattr(part, f.name) for f in dataclasses.fields(FeatureSet)})
        with np.load(path) as data:
            extra = FeatureSet(*(data[f.name] for f in dataclasses.fields(FeatureSet)))
        log(f"in-photo: {int((extra.labels >= 0).sum())} pooled views, {int((extra.labels < 0).sum())} negatives")
        parts[0] = FeatureSet(*(np.concatenate([getattr(parts[0], f.name), getattr(extra, f.name)])
                                for f in dataclasses.fields(FeatureSet)))
    return FeatureSet.concat(parts)
