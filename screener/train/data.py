"""Training data for the logo network: synthetic identities and real FlickrLogos-27 crops.

Every training batch holds P identities x K views plus background crops:

- synthetic identities, half from the sample generator (``screener.train.synth.logos``) and half from
  the internal renderer (:mod:`screener.train.render`); one view of each is reference-like (clean
  background), the others composited and damaged (:mod:`screener.train.augment`). Some identities
  come with a near-duplicate imitation as a *separate* identity in the same batch, so the loss
  pushes imitations away from the genuine mark;
- real logo boxes from FlickrLogos-27 (``boxes.csv``), one identity per brand, different boxes of
  a brand as its views. The brands are split by a seeded shuffle into trained and held-out ones
  (brand-disjoint validation), and the trained brands' photos into training and test photos, so
  benchmarks screen photos the network never saw;
- background crops (procedural, and from training photos away from their logo boxes) that belong
  to no identity: they only ever act as negatives;
- optionally (``BatchRecipe.patches``), some of those real background patches as identities of
  their own, each with several views.

The synthetic part needs no real data: ``data_dir=None`` trains on synthetic identities alone.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Collection, Iterable, Sequence

import cv2
import numpy as np

from . import augment, render
from .recipe import BatchRecipe


# --- FlickrLogos-27 split ----------------------------------------------------------------------
@dataclass(frozen=True)
class FlickrBox:
    image: str
    brand: str
    box: tuple[int, int, int, int]


@dataclass(frozen=True)
class FlickrSplit:
    """A seeded, brand-disjoint split of ``boxes.csv`` (recorded in the model manifest)."""

    train_brands: tuple[str, ...]
    heldout_brands: tuple[str, ...]
    train_boxes: tuple[FlickrBox, ...]  # boxes of trained brands in training photos
    train_photos: frozenset[str]  # every photo whose pixels the network trained on
    boxes: tuple[FlickrBox, ...] = field(repr=False, default=())  # all boxes


def read_boxes(data_dir: str | Path) -> list[FlickrBox]:
    """Rows of ``boxes.csv`` (image, brand, x1, y1, x2, y2)."""
    path = Path(data_dir) / "boxes.csv"
    with open(path, newline="", encoding="utf-8") as handle:
        return [FlickrBox(r["image"], r["brand"], (int(r["x1"]), int(r["y1"]), int(r["x2"]), int(r["y2"])))
                for r in csv.DictReader(handle)]


def _unit(text: str, seed: int) -> float:
    return int(hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:8], 16) / 2**32


def flickr_split(data_dir: str | Path, heldout: int = 5, test_fraction: float = 0.3,
                 seed: int = 0) -> FlickrSplit:
    """Hold out ``heldout`` brands (seeded shuffle, never chosen by name) and ``test_fraction`` of
    the trained brands' photos. A photo showing any held-out brand is never trained on."""
    boxes = read_boxes(data_dir)
    brands = sorted({b.brand for b in boxes})
    shuffled = sorted(brands, key=lambda name: _unit(name, seed))
    held = tuple(sorted(shuffled[:heldout]))
    trained = tuple(sorted(shuffled[heldout:]))
    by_photo: dict[str, list[FlickrBox]] = defaultdict(list)
    for b in boxes:
        by_photo[b.image].append(b)
    train_photos = frozenset(
        photo for photo, items in by_photo.items()
        if not any(b.brand in held for b in items) and _unit(photo, seed + 1) >= test_fraction)
    train_boxes = tuple(b for b in boxes if b.image in train_photos)
    return FlickrSplit(trained, held, train_boxes, train_photos, tuple(boxes))


def evaluation_half(photo: str) -> str:
    """``"fit"`` or ``"report"``: the one by-photo split of every evaluation photo (FlickrLogos
    photos the network never trained on, ICDAR street photos), seeded by the photo's file name.

    Every threshold, head, weight or rule is chosen on the ``fit`` half; BENCHMARKS reports the
    ``report`` half. Decided once (2026-12-02) and never re-drawn, so nothing is tuned to the
    photos that are reported.
    """
    return "fit" if _unit(Path(photo).name, 1_000_003) < 0.5 else "report"


def choose_references(boxes: Sequence[FlickrBox], brands: Iterable[str], refs: int, seed: int,
                      allowed_photos: Collection[str] | None = None,
                      largest: bool = False) -> dict[str, list[FlickrBox]]:
    """Up to ``refs`` boxes per brand, each from a different photo and at least 24 px a side:
    seeded, or with ``largest`` the largest first (the one-shot protocol: the brand's best view,
    as a brand owner would pick it). The benchmarks and the decision fit register brands with it,
    so they measure the same photos."""
    rng = random.Random(seed)
    chosen = {}
    for brand in brands:
        pool = [b for b in boxes if b.brand == brand and min(b.box[2] - b.box[0], b.box[3] - b.box[1]) >= 24
                and (allowed_photos is None or b.image in allowed_photos)]
        rng.shuffle(pool)
        if largest:
            pool.sort(key=lambda b: -(b.box[2] - b.box[0]) * (b.box[3] - b.box[1]))
        picked, photos = [], set()
        for b in pool:
            if len(picked) >= refs:  # refs 0: no reference (a registry of logo files only)
                break
            if b.image not in photos:
                picked.append(b)
                photos.add(b.image)
        chosen[brand] = picked
    return chosen


@dataclass(frozen=True)
class BenchmarkPhotos:
    """The logo benchmarks' protocol on FlickrLogos dev: which crops register each brand, what
    each photo shows, and the photos screened (neither a training photo nor a reference's)."""

    references: dict[str, list[FlickrBox]]
    truth: dict[str, set[str]]  # every FlickrLogos photo -> the brands its boxes show
    photos: list[str]  # screened, in name order
    train_brands: tuple[str, ...] = ()
    heldout_brands: tuple[str, ...] = ()

    def reference_crops(self, data_dir: str | Path) -> list[tuple[str, np.ndarray]]:
        """``(brand, RGB crop)`` per reference box, brands in name order: what the SIFT
        benchmarks register."""
        crops = []
        for brand in sorted(self.references):
            for b in self.references[brand]:
                x1, y1, x2, y2 = b.box
                bgr = cv2.imread(str(Path(data_dir) / "images" / b.image))
                crops.append((brand, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)[y1:y2, x1:x2]))
        return crops


def benchmark_photos(data_dir: str | Path, refs: int = 5, seed: int = 0,
                     split: tuple[int, float, int] = (5, 0.3, 0), largest: bool = False) -> BenchmarkPhotos:
    """Trained brands registered from crops of their training photos, held-out brands from their
    own photos (then not screened): the one protocol of the logo benchmarks, the decision fit and
    the head's photo check (``split``: :func:`flickr_split`'s heldout, test_fraction and seed;
    ``refs``, ``seed``, ``largest``: :func:`choose_references`'s)."""
    boxes = read_boxes(data_dir)
    brands = flickr_split(data_dir, *split)
    references = {**choose_references(boxes, brands.train_brands, refs, seed, brands.train_photos, largest),
                  **choose_references(boxes, brands.heldout_brands, refs, seed, largest=largest)}
    used = {b.image for picks in references.values() for b in picks}
    truth: dict[str, set[str]] = {}
    for b in boxes:
        truth.setdefault(b.image, set()).add(b.brand)
    photos = sorted(p for p in truth if p not in brands.train_photos and p not in used)
    return BenchmarkPhotos(references, truth, photos, tuple(brands.train_brands), tuple(brands.heldout_brands))


# --- real crops --------------------------------------------------------------------------------
@dataclass
class RealCrop:
    """A logo box with some of its surroundings, kept small in memory."""

    pixels: np.ndarray  # RGB
    box: tuple[float, float, float, float]  # the logo box inside ``pixels``


def load_real_crops(data_dir: str | Path, boxes: tuple[FlickrBox, ...], max_side: int = 192,
                    context: float = 0.4, background_tries: int = 3,
                    ) -> tuple[dict[str, list[RealCrop]], list[np.ndarray]]:
    """Per-brand crops of ``boxes`` (with ``context`` margin) and background patches from the
    same photos away from any box (``background_tries`` random squares per photo)."""
    by_photo: dict[str, list[FlickrBox]] = defaultdict(list)
    for b in boxes:
        by_photo[b.image].append(b)
    crops: dict[str, list[RealCrop]] = defaultdict(list)
    backgrounds: list[np.ndarray] = []
    rng = random.Random(7)
    for photo, items in sorted(by_photo.items()):
        bgr = cv2.imread(str(Path(data_dir) / "images" / photo), cv2.IMREAD_COLOR)
        if bgr is None:
            continue
        image = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        H, W = image.shape[:2]
        for b in items:
            x1, y1, x2, y2 = b.box
            if x2 - x1 < 8 or y2 - y1 < 8:
                continue
            mw, mh = (x2 - x1) * context, (y2 - y1) * context
            a, c = int(max(0, x1 - mw)), int(min(W, x2 + mw))
            d, e = int(max(0, y1 - mh)), int(min(H, y2 + mh))
            patch = image[d:e, a:c]
            scale = min(1.0, max_side / max(patch.shape[:2]))
            if scale < 1.0:
                patch = cv2.resize(patch, (max(1, int(patch.shape[1] * scale)), max(1, int(patch.shape[0] * scale))),
                                   interpolation=cv2.INTER_AREA)
            crops[b.brand].append(RealCrop(np.ascontiguousarray(patch),
                                           ((x1 - a) * scale, (y1 - d) * scale, (x2 - a) * scale, (y2 - d) * scale)))
        for _ in range(background_tries):  # background patches that overlap no logo box
            side = int(min(H, W) * rng.uniform(0.15, 0.4))
            if side < 16:
                break
            x, y = rng.randrange(W - side + 1), rng.randrange(H - side + 1)
            if all(x + side <= b.box[0] or x >= b.box[2] or y + side <= b.box[1] or y >= b.box[3] for b in items):
                backgrounds.append(cv2.resize(image[y:y + side, x:x + side], (96, 96), interpolation=cv2.INTER_AREA))
    return dict(crops), backgrounds


# --- batches -----------------------------------------------------------------------------------
class BatchMaker:
    """Makes training batches: ``(crops N x S x S x 3 uint8, labels N int64)``; label -1 marks a
    background crop (a negative only)."""

    def __init__(self, size: int, recipe: BatchRecipe = BatchRecipe(), seed: int = 0,
                 real: dict[str, list[RealCrop]] | None = None,
                 backgrounds: list[np.ndarray] | None = None, use_sample_generator: bool = True) -> None:
        self.size = size
        self.recipe = recipe
        self.rng = random.Random(seed)
        self.real = {k: v for k, v in (real or {}).items() if v}
        self.backgrounds = backgrounds or []
        # Patches that become identities need content of their own: two blank walls from
        # different photos would be asked to differ.
        self.patch_pool = [b for b in self.backgrounds if float(b.std()) >= 20.0] if recipe.patches else []
        self._synth = None
        if use_sample_generator:
            try:
                from .synth import logos as synth_logos

                self._synth = synth_logos
            except ImportError:  # the sample generator is optional for training
                self._synth = None

    # identities ------------------------------------------------------------------------------
    def _identity(self) -> tuple[np.ndarray, np.ndarray | None]:
        """A fresh synthetic identity and its imitation, as RGBA arrays."""
        rng = self.rng
        height = rng.choice((64, 80, 96))
        if self._synth is not None and rng.random() < 0.5:
            spec = self._synth.random_spec(self._synth.random_brand_name(rng), rng)
            twin = self._synth.imitate(spec, rng)
            return (np.asarray(self._synth.render_logo(spec, height).convert("RGBA")),
                    np.asarray(self._synth.render_logo(twin, height).convert("RGBA")))
        mark = render.random_mark(rng)
        twin_mark = render.imitate_mark(mark, rng)
        return (np.asarray(render.render_mark(mark, height).convert("RGBA")),
                np.asarray(render.render_mark(twin_mark, height).convert("RGBA")))

    def _background(self, h: int, w: int) -> np.ndarray:
        if self.backgrounds and self.rng.random() < 0.4:
            return self.rng.choice(self.backgrounds)
        return augment.procedural_background(self.rng, h, w)

    def _synthetic_view(self, logo: np.ndarray, clean: bool) -> np.ndarray:
        rng = self.rng
        if clean:
            view = augment.composite(logo, rng, clean=True)
            view = augment.photometric(view, rng, strength=0.2)
            return augment.to_input(view, self.size)
        view = augment.composite(logo, rng, background=self._background(*logo.shape[:2]))
        view = augment.geometric(view, rng)
        view = augment.photometric(view, rng)
        return augment.to_input(view, self.size, rng)

    def _real_view(self, crop: RealCrop) -> np.ndarray:
        rng = self.rng
        view = augment.crop_with_margin(crop.pixels, crop.box, rng.uniform(-0.03, 0.25),
                                        (rng.uniform(-0.08, 0.08), rng.uniform(-0.08, 0.08)))
        view = augment.geometric(view, rng, strength=0.5)
        view = augment.photometric(view, rng, strength=0.6)
        return augment.to_input(view, self.size, rng)

    def _patch_view(self, patch: np.ndarray) -> np.ndarray:
        """A view of a background patch as its own identity: a shifted sub-crop, warped and
        relit like a logo view, so only the patch's content ties its views together."""
        rng = self.rng
        h, w = patch.shape[:2]
        side = rng.uniform(0.7, 1.0)
        ch, cw = max(8, int(h * side)), max(8, int(w * side))
        y, x = rng.randrange(h - ch + 1), rng.randrange(w - cw + 1)
        view = augment.geometric(patch[y:y + ch, x:x + cw], rng, strength=0.5)
        view = augment.photometric(view, rng, strength=0.6)
        return augment.to_input(view, self.size, rng)

    def _negative(self) -> np.ndarray:
        rng = self.rng
        if self.backgrounds and rng.random() < 0.5:
            view = rng.choice(self.backgrounds)
        else:
            view = augment.procedural_background(rng, 96, 96)
        view = augment.photometric(view, rng, strength=0.5)
        return augment.to_input(view, self.size)

    def make(self) -> tuple[np.ndarray, np.ndarray]:
        r, rng = self.recipe, self.rng
        crops: list[np.ndarray] = []
        labels: list[int] = []
        label = 0
        for i in range(r.synthetic):
            logo, twin = self._identity()
            members = [logo] + ([twin] if i < r.imitations and twin is not None else [])
            for member in members:
                for v in range(r.views):
                    crops.append(self._synthetic_view(member, clean=(v == 0)))
                    labels.append(label)
                label += 1
        if self.real:
            brands = sorted(self.real)
            for brand in rng.sample(brands, min(r.real, len(brands))):
                pool = self.real[brand]
                picks = rng.sample(pool, r.views) if len(pool) >= r.views else [rng.choice(pool) for _ in range(r.views)]
                for crop in picks:
                    crops.append(self._real_view(crop))
                    labels.append(label)
                label += 1
        if self.patch_pool:
            for patch in rng.sample(self.patch_pool, min(r.patches, len(self.patch_pool))):
                for _ in range(r.views):
                    crops.append(self._patch_view(patch))
                    labels.append(label)
                label += 1
        for _ in range(r.negatives):
            crops.append(self._negative())
            labels.append(-1)
        return np.stack(crops), np.asarray(labels, dtype=np.int64)
