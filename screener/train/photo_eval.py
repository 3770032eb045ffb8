"""The logo stage on whole dev photos: the photos' protocol and the threshold-free ranking.

Crops of held-out brands (:mod:`.trunk_eval`) do not tell how a network does in the logo stage,
which pools a trunk's windows from whole-photo passes (:class:`screener.logo.trunk.PooledRegions`)
instead of cutting them: heads that win on crops lose on photos (BENCHMARKS.md, "Crops are not
photos"). So the stage itself is run here, over the photos ``benchmarks/logo_flickr.py`` screens,
and measured as ``benchmarks/logo_halves.py --ranking`` measures a run; both scripts use this
module, and ``trunk_head`` records the fitting half's measures.

Protocol (FlickrLogos-27 dev, the split recorded in the model's manifest entry): every brand is
registered from up to ``refs`` crops of its boxes (:func:`choose_references`): trained brands'
from their training photos, held-out brands' from their own photos, which are then not
screened. The photos screened are the others the network never trained on, and the ICDAR 2015
dev street photos (logo-free, named ``icdar/<file>``), optionally one ``evaluation_half`` of
each. The stage reports every brand's best region (the operating point's ``near_threshold`` 0),
so a photo's scores are ``{brand: its best region's score}``.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Mapping, Sequence

import cv2
import numpy as np

from .data import FlickrBox, benchmark_photos, evaluation_half

if TYPE_CHECKING:
    from ..brands import BrandRegistry
    from ..config import Config
    from ..logo.base import LogoStage
    from ..logo.model import Embedder
    from ..types import LogoHit

Scores = dict[str, dict[str, float]]  # photo -> {brand: score}


def read_rgb(path: Path) -> np.ndarray | None:
    """The photo's RGB pixels, or None when it cannot be read."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


# --- 1. the photos and the registry --------------------------------------------------------------
@dataclass(frozen=True)
class DevPhotos:
    """Which crops register each brand, what each photo shows, and the photos screened."""

    images: Path  # the FlickrLogos photos' folder
    brands: tuple[str, ...]  # registered, in name order
    heldout_brands: tuple[str, ...]
    references: dict[str, list[FlickrBox]]  # brand -> the boxes its reference crops are cut from
    truth: dict[str, set[str]]  # FlickrLogos photo -> the brands its boxes show
    trained: tuple[str, ...]  # screened photos showing a trained brand
    heldout: tuple[str, ...]  # screened photos showing a held-out brand
    street: tuple[Path, ...]  # logo-free photos

    def screened(self) -> list[tuple[str, Path]]:
        """``(name, path)`` of every photo screened, logo photos first, in the benchmarks' order."""
        logo = sorted(set(self.trained) | set(self.heldout))
        return [(p, self.images / p) for p in logo] + [(f"icdar/{p.name}", p) for p in self.street]


def dev_photos(data: Path, icdar: Path | None, split: Mapping[str, Any], refs: int = 5, seed: int = 0,
               largest: bool = False, half: str = "all", limit: int = 0,
               logo_file_brands: Collection[str] | None = None) -> DevPhotos:
    """The protocol's photos (module doc). ``split``: the manifest entry's ``split`` table;
    ``half``: "all", "fit" or "report"; ``limit``: at most that many photos of each group;
    ``logo_file_brands``: the brands registered from a logo file instead (``logo_flickr.py
    --logo-files``): no photo is used up as a reference, other brands are neither registered
    nor scored."""
    # References of trained brands come from training photos (the network saw them anyway);
    # held-out brands' references from their own photos, which are then not screened.
    protocol = benchmark_photos(data, 0 if logo_file_brands is not None else refs, seed,
                                (int(split.get("heldout", 5)), float(split.get("test_fraction", 0.3)),
                                 int(split.get("seed", 0))), largest)
    references, truth, test = protocol.references, protocol.truth, protocol.photos
    if logo_file_brands is not None:  # only the brands with a logo file, and the photos showing one
        references = {}
        truth = {p: shown & set(logo_file_brands) for p, shown in truth.items() if shown & set(logo_file_brands)}
        test = [p for p in test if p in truth]
    brands = sorted(set().union(*truth.values()))
    trained = [p for p in test if truth[p] & set(protocol.train_brands)]
    held = [p for p in test if truth[p] & set(protocol.heldout_brands)]
    street = sorted((icdar / "images").glob("*.jpg")) if icdar else []
    if half != "all":  # the one by-photo split: fit on "fit", report "report"
        trained = [p for p in trained if evaluation_half(p) == half]
        held = [p for p in held if evaluation_half(p) == half]
        street = [p for p in street if evaluation_half(p.name) == half]
    if limit:
        trained, held, street = trained[:limit], held[:limit], street[:limit]
    return DevPhotos(data / "images", tuple(brands), protocol.heldout_brands, references, dict(truth),
                     tuple(trained), tuple(held), tuple(street))


def write_registry(photos: DevPhotos, folder: Path, logo_files: Mapping[str, np.ndarray] | None = None
                   ) -> tuple["BrandRegistry", list[tuple[str, np.ndarray]]]:
    """Every brand registered from its logo file (BGR(A), ``logo_files``) and its reference crops,
    the files written to ``folder`` and the registry saved under ``folder / "registry"``; returns
    the registry as loaded from disk and the ``(brand, RGB crop)`` references, in that order."""
    from ..brands import BrandRegistry

    logo_files = logo_files or {}
    registry = BrandRegistry(folder / "registry")
    crops = []
    for brand in photos.brands:
        files = []
        if brand in logo_files:
            path = folder / f"{brand}-logo.png"
            cv2.imwrite(str(path), logo_files[brand])
            files.append(path)
        for i, b in enumerate(photos.references.get(brand, ())):
            rgb = read_rgb(photos.images / b.image)
            if rgb is None:  # a reference must be registered, or every later number is off
                raise FileNotFoundError(f"reference photo {photos.images / b.image} of {brand} cannot be read")
            x1, y1, x2, y2 = b.box
            crop = rgb[y1:y2, x1:x2]
            crops.append((brand, crop))
            path = folder / f"{brand}-{i}.png"
            cv2.imwrite(str(path), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
            files.append(path)
        registry.add(brand, logos=files)
    registry.save()
    return BrandRegistry.load(registry.root), crops


# --- 2. the stage and the scores ----------------------------------------------------------------
def every_brand_stage(registry: "BrandRegistry", config: "Config", models_dir: Path | None = None,
                      threads: int | None = None, embedder: "Embedder | None" = None) -> "LogoStage":
    """The logo stage as ``config`` sets it, but reporting every brand's best region
    (``near_threshold`` 0), so thresholds can be swept and scores ranked afterwards."""
    from ..logo.matcher import build_logo_stage

    low = config.replace(logo__operating_point={"near_threshold": 0.0})
    return build_logo_stage(registry, low, models_dir=models_dir, threads=threads, embedder=embedder)


def stage_pixels(rgb: np.ndarray) -> np.ndarray:
    """The photo as the screener hands it to its stages (long side at most ``STAGE_MAX_SIDE``)."""
    from ..io import STAGE_MAX_SIDE, resize_for_stages

    return resize_for_stages(rgb, STAGE_MAX_SIDE)[0]


def hit_scores(hits: Iterable["LogoHit"]) -> dict[str, float]:
    """``{brand: score}`` of a photo's hits, rounded as the benchmarks' JSON records them."""
    return {h.brand: round(h.score, 4) for h in hits}


def photo_scores(stage: Callable[[np.ndarray], Sequence["LogoHit"]], photos: DevPhotos,
                 log: Callable[[str], None] | None = None) -> Scores:
    """Every screened photo's scores (a photo that cannot be read is left out)."""
    screened = photos.screened()
    scores: Scores = {}
    for n, (name, path) in enumerate(screened, 1):
        rgb = read_rgb(path)
        if rgb is not None:
            scores[name] = hit_scores(stage(stage_pixels(rgb)))
        if log is not None and n % 50 == 0:
            log(f"photo check: {n}/{len(screened)} photos")
    return scores


# --- 3. the ranking -----------------------------------------------------------------------------
@dataclass(frozen=True)
class PhotoRanking:
    """Threshold-free measures of one half's scores (:func:`photo_ranking`)."""

    top1_trained: float  # trained-brand photos whose highest-scoring brand is one of theirs
    top1_heldout: float  # the same for held-out-brand photos
    over_street_q99_trained: float  # ... whose top-1 brand's score also beats ``street_q99``
    over_street_q99_heldout: float
    street_q99: float  # the 99th percentile of the street photos' best scores
    trained: int  # photos in each group
    heldout: int

    def metrics(self, prefix: str = "fit_") -> dict[str, float]:
        """The five measures under the manifest's metric names (``prefix``: the half)."""
        return {f"{prefix}photos_top1_trained": round(self.top1_trained, 4),
                f"{prefix}photos_top1_heldout": round(self.top1_heldout, 4),
                f"{prefix}photos_over_street_q99_trained": round(self.over_street_q99_trained, 4),
                f"{prefix}photos_over_street_q99_heldout": round(self.over_street_q99_heldout, 4),
                f"{prefix}street_q99": round(self.street_q99, 4)}


def photo_ranking(scores: Mapping[str, Mapping[str, float]], truth: Mapping[str, Collection[str]],
                  heldout_brands: Collection[str]) -> PhotoRanking | None:
    """Top-1 and over-street-q99 shares of ``scores`` (photos of one half; street photos are
    named ``icdar/...``, the others' brands are ``truth``); None without a street photo.

    A photo is in the trained group when it shows a brand not in ``heldout_brands``, in the
    held-out group when it shows one that is (a photo may be in both). Over street q99 counts a
    photo whose top brand is its own and scores above the 99th percentile of the street photos'
    best scores (about 1 false mark per 100 street photos): a threshold that is not fitted."""
    held = set(heldout_brands)
    street = [max(got.values(), default=0.0) for p, got in scores.items() if p.startswith("icdar/")]
    if not street:
        return None
    q99 = float(np.quantile(street, 0.99))
    cells = []
    for in_group in (lambda t: bool(t - held), lambda t: bool(t & held)):
        photos = [(got, set(truth[p])) for p, got in scores.items() if truth.get(p) and in_group(set(truth[p]))]
        right = []  # the top score of each photo whose top brand is one of its own
        for got, brands in photos:
            top = max(got, key=got.__getitem__) if got else None
            if top in brands:
                right.append(got[top])  # type: ignore[index]
        cells.append((len(right) / max(1, len(photos)), sum(v > q99 for v in right) / max(1, len(photos)),
                      len(photos)))
    (t1, o1, n1), (t2, o2, n2) = cells
    return PhotoRanking(t1, t2, o1, o2, q99, n1, n2)


def fit_half_ranking(flickr: Path, icdar: Path, config: "Config", split: Mapping[str, Any],
                     models_dir: Path | None = None, embedder: "Embedder | None" = None,
                     threads: int | None = None, limit: int = 0,
                     log: Callable[[str], None] | None = None) -> PhotoRanking:
    """The logo stage (``config``'s network, or ``embedder``) over the fitting half's photos,
    5 references a brand: what ``logo_flickr.py --half fit`` then ``logo_halves.py --ranking``
    measure, without the JSON in between."""
    photos = dev_photos(flickr, icdar, split, half="fit", limit=limit)
    with tempfile.TemporaryDirectory() as tmp:
        registry, _ = write_registry(photos, Path(tmp))
        stage = every_brand_stage(registry, config, models_dir, threads, embedder)
        scores = photo_scores(stage, photos, log)
    ranking = photo_ranking(scores, photos.truth, photos.heldout_brands)
    if ranking is None:
        raise ValueError(f"no street photo of the fitting half under {icdar / 'images'}")
    return ranking
