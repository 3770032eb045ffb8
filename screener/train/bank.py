"""Make each logo network's background bank (:mod:`screener.logo.bank`): one command.

    python -m screener.train.bank [--models screener/models] [--model NAME ...] [--photos FLICKR_DEV]

For every logo network in the manifest (default: each one the logo stage can run, i.e. a trained
embedding or a trunk with a fitted head), the bank's images are embedded by the network *as
screening loads it* (:func:`screener.logo.weights.load_embedder`, the ONNX export in onnxruntime,
so the vectors are the ones a scan would compute), and the vectors are written to
``bank-<model>.npy`` beside the network, with ``bank_file``, ``bank_sha256``, ``bank_recipe``,
``bank_quantile`` and ``bank_model_sha256`` added to its manifest entry (the entry's other keys and
comments stay as written). Run it again whenever a network's files change; training does so
itself (:func:`screener.train.trainer.write_model`, ``trunk_head --mode trained``).

Two recipes:

- :func:`background_bank` (synthetic, the default): seeded made-up marks, words and backgrounds.
  They need no data files, only the fonts the training renderer draws marks with
  (:func:`screener.fonts.mark_fonts`): a machine with other fonts draws other marks, which is why
  screening loads these vectors rather than drawing the bank itself.
- :func:`clutter_bank` (``--photos``, networks that pool windows from whole-photo feature maps):
  windows of the FlickrLogos-27 dev training photos that touch no logo box, pooled as the stage
  pools its candidates. Only training photos (the trained brands', never a photo of a held-out
  brand or one the benchmarks screen), so the bank holds nothing an evaluation measures.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..logo.bank import SYNTHETIC_QUANTILE, bank_file
from ..logo.matcher import square
from ..logo.model import Embedder
from ..logo.weights import MANIFEST, MODELS_DIR, load_embedder, read_manifest, set_manifest_keys, sha256_file
from . import augment, render

# The images' version: the generator below with these arguments. Another generator, count or seed
# is another recipe (and other floors: the operating points were measured with this one).
BANK_RECIPE = "bank-v1:160 synthetic marks and backgrounds, seed 0"
COUNT, SEED = 160, 0


def background_bank(size: int, count: int = COUNT, seed: int = SEED) -> np.ndarray:
    """Crops of unrelated made-up marks, words and backgrounds (seeded, no data files needed):
    what a reference should *not* match. ``count`` x ``size`` x ``size`` x 3 RGB uint8."""
    rng = random.Random(seed)
    crops = []
    for i in range(count):
        if i % 3 == 2:
            view = augment.procedural_background(rng, 64, 64 * rng.choice((1, 2, 3)))
        else:
            logo = np.asarray(render.render_mark(render.random_mark(rng), 64).convert("RGBA"))
            view = augment.composite(logo, rng, clean=i % 3 == 0)
        crops.append(square(view, size))
    return np.stack(crops)


# The photo-clutter recipe: which windows, how many a photo, and the floors' quantile, chosen on
# the dev fitting half's photos (BENCHMARKS.md, "A background bank of real clutter").
CLUTTER_RECIPE = ("bank-v2:candidate windows pooled as the stage pools them from the FlickrLogos-27 dev training "
                  "photos (flickr_split 5 / 0.3 / 0), none sharing over 5% of its area with a logo box, "
                  "5 a photo, seed 0")
CLUTTER_PER_PHOTO = 5
CLUTTER_QUANTILE = 0.99
CLUTTER_OVERLAP = 0.05  # a window may hold at most this share of a logo box, and a logo box of it


def clutter_bank(embedder: Embedder, flickr: str | Path, per_photo: int = CLUTTER_PER_PHOTO,
                 seed: int = SEED) -> np.ndarray:
    """The stage's pooled candidate windows of the FlickrLogos dev training photos away from
    their logo boxes, ``per_photo`` of each (seeded): N x dim float32. Raises ValueError for a
    network that does not pool windows, FileNotFoundError for a photo that cannot be read (a
    bank missing photos would not be the recipe)."""
    from ..geometry import inside
    from ..logo.candidates import window_candidates
    from ..logo.matcher import MAX_CANDIDATES, working_copy
    from .data import flickr_split
    from .photo_eval import read_rgb, stage_pixels

    split = flickr_split(flickr, heldout=5, test_fraction=0.3, seed=0)  # the recipe's split
    logo_boxes: dict[str, list[tuple[int, int, int, int]]] = {}
    for b in split.boxes:
        logo_boxes.setdefault(b.image, []).append(b.box)
    rng = np.random.default_rng(seed)
    vectors = []
    for photo in sorted(split.train_photos):
        rgb = read_rgb(Path(flickr) / "images" / photo)
        if rgb is None:
            raise FileNotFoundError(f"training photo {Path(flickr) / 'images' / photo} cannot be read")
        pixels = stage_pixels(rgb)
        work, scale = working_copy(pixels)
        pooled = embedder.region_embedder(work)
        if pooled is None:
            raise ValueError(f"the photo-clutter bank is for networks that pool windows from whole-photo maps; "
                             f"{type(embedder).__name__} cuts crops")
        to_work = scale * pixels.shape[0] / rgb.shape[0]
        logos = [np.asarray(box, np.float64) * to_work for box in logo_boxes.get(photo, ())]
        windows = window_candidates(work, MAX_CANDIDATES)
        away = np.array([i for i, w in enumerate(windows)
                         if all(inside(box, w) <= CLUTTER_OVERLAP and inside(w, box) <= CLUTTER_OVERLAP
                                for box in logos)], dtype=np.int64)
        chosen = np.sort(rng.permutation(away)[:per_photo])
        if len(chosen):
            vectors.append(pooled(windows[chosen]))
    return np.concatenate(vectors).astype(np.float32, copy=False)


def logo_networks(models_dir: str | Path = MODELS_DIR) -> list[str]:
    """The manifest's networks the logo stage can run (``logo.model``), which all calibrate their
    references: trained embeddings (no ``kind``) and trunks with a fitted head."""
    return [str(e["name"]) for e in read_manifest(models_dir) if e.get("kind") in (None, "trunk-head")]


def write_bank(name: str, models_dir: str | Path = MODELS_DIR, threads: int | None = 1,
               photos: str | Path | None = None) -> dict[str, Any]:
    """Embed the bank with the network ``name`` and record it in its manifest entry; returns the
    keys written. ``photos``: the FlickrLogos-27 dev folder, for the photo-clutter recipe."""
    folder = Path(models_dir)
    embedder = load_embedder(name, folder, threads=threads)  # the runtime's own path (onnxruntime)
    keys = save_bank(embedder, name, folder, photos)
    set_manifest_keys(folder / MANIFEST, name, keys)
    return keys


def save_bank(embedder: Embedder, name: str, models_dir: str | Path,
              photos: str | Path | None = None) -> dict[str, Any]:
    """Embed the bank with ``embedder`` (the network ``name`` as screening loads it) and write it
    to ``models_dir``; returns the manifest keys that record it, for the caller to write (a
    training command writes them with the network's new entry). ``photos`` (the FlickrLogos-27
    dev folder): the photo-clutter recipe instead of the synthetic one."""
    folder = Path(models_dir)
    if photos is not None:
        vectors, recipe, quantile = clutter_bank(embedder, photos), CLUTTER_RECIPE, CLUTTER_QUANTILE
    else:
        vectors = embedder.embed(background_bank(embedder.size)).astype(np.float32, copy=False)
        recipe, quantile = BANK_RECIPE, SYNTHETIC_QUANTILE
    path = folder / bank_file(name)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp.npy"
    np.save(tmp, vectors, allow_pickle=False)
    os.replace(tmp, path)
    return {"bank_file": path.name, "bank_sha256": sha256_file(path), "bank_recipe": recipe,
            "bank_quantile": quantile, "bank_model_sha256": embedder.sha256}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screener.train.bank", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="folder with manifest.toml")
    parser.add_argument("--model", action="append", metavar="NAME",
                        help="a network in the manifest (repeatable; default: every logo network)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--photos", type=Path, default=None, metavar="FLICKR_DEV",
                        help="the photo-clutter recipe from this FlickrLogos-27 dev folder (trunk networks)")
    args = parser.parse_args(argv)
    for name in args.model or logo_networks(args.models):
        keys = write_bank(name, args.models, args.threads, args.photos)
        print(f"{name}: wrote {args.models / keys['bank_file']} (sha256 {keys['bank_sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
