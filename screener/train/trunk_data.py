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
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

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
    seed: int = 0

    def describe(self) -> str:
        return (f"per source, {self.size} px crops run once through the frozen trunk (up to its last block when "
                f"that block trains): FlickrLogos-27 dev boxes of "
                f"the trained brands in their training photos (flickr_split seed 0), each as cut + "
                f"{self.flickr_views} augmented views, one identity per brand; {self.synth_identities} synthetic "
                f"marks x {self.synth_views} views, {self.synth_imitation_share:.0%} with a near-duplicate "
                f"imitation (never colour only) as a separate identity; simple-icons-pack marks (CC0, the "
                f"exclusion list applied, {self.icon_validation_share:.0%} kept for validation) x "
                f"{self.icon_views} prints (own colour, other colours, inverted, outlined, embossed, on textures "
                f"and photo patches); negatives: {self.clutter_windows} windows of ICDAR 2015 dev 'fit'-half "
                f"street photos and training-photo patches away from logo boxes; seed {self.seed}")


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


# --- embedding and caching ----------------------------------------------------------------------
def embed_views(views: Iterator[View], embed: Callable[[np.ndarray], np.ndarray], source: str,
                chunk: int = 256, log: Callable[[str], None] | None = None) -> FeatureSet:
    """Run ``embed`` over the views in chunks (never holding every crop in memory)."""
    feats, labels, partners, held = [], [], [], []
    batch: list[np.ndarray] = []
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
        if len(batch) >= chunk:
            flush()
    flush()
    n = len(labels)
    return FeatureSet(np.concatenate(feats).astype(np.float32) if feats else np.zeros((0, 0), np.float32),
                      np.asarray(labels, np.int64), np.asarray(partners, np.int64),
                      np.full(n, SOURCES.index(source), np.int8), np.asarray(held, bool))


def cached_features(flickr: Path, icdar: Path, recipe: ViewRecipe, trunk, cache: Path,
                    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
                    pre_tail: bool = False) -> FeatureSet:
    """Every source's features, computed once per (trunk, recipe) and read back from ``cache``.
    With ``pre_tail``, ``trunk`` is the training graph (outputs ``s4`` and the last block's input)
    and the features are :func:`.trunk_tail.pre_tail_features`, for a head trained with that block."""
    from ..logo.trunk import pooled_crops, unit
    from .trunk_tail import pre_tail_features

    cache.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(json.dumps([trunk.sha256, dataclasses.asdict(recipe)] + (["pre-tail"] if pre_tail else []))
                         .encode()).hexdigest()[:16]
    describe = ((lambda crops: pre_tail_features(trunk, crops)) if pre_tail
                else (lambda crops: unit(pooled_crops(trunk, crops))))
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
        part = embed_views(makers[source](), describe, source, log=log)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **{f.name: getattr(part, f.name) for f in dataclasses.fields(FeatureSet)})
        tmp.replace(path)
        log(f"{source}: {len(part)} views embedded in {time.perf_counter() - t0:.0f} s -> {path}")
        parts.append(part)
    return FeatureSet.concat(parts)
