"""Make each logo network's background bank (:mod:`screener.logo.bank`): one command.

    python -m screener.train.bank [--models screener/models] [--model NAME ...]

For every logo network in the manifest (default: each one the logo stage can run, i.e. a trained
embedding or a trunk with a fitted head), :func:`background_bank` draws the seeded images, the
network embeds them *as screening loads it* (:func:`screener.logo.weights.load_embedder`, the ONNX
export in onnxruntime, so the vectors are the ones a scan would compute), and the vectors are
written to ``bank-<model>.npy`` beside the network, with ``bank_file``, ``bank_sha256``,
``bank_recipe`` and ``bank_model_sha256`` added to its manifest entry (the entry's other keys and
comments stay as written). Run it again whenever a network's files change; training does so
itself (:func:`screener.train.trainer.write_model`, ``trunk_head``).

The images need no data files, only the fonts the training renderer draws marks with
(:func:`screener.fonts.mark_fonts`): a machine with other fonts draws other marks, which is why
screening loads these vectors rather than drawing the bank itself.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..logo.bank import bank_file
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


def logo_networks(models_dir: str | Path = MODELS_DIR) -> list[str]:
    """The manifest's networks the logo stage can run (``logo.model``), which all calibrate their
    references: trained embeddings (no ``kind``) and trunks with a fitted head."""
    return [str(e["name"]) for e in read_manifest(models_dir) if e.get("kind") in (None, "trunk-head")]


def write_bank(name: str, models_dir: str | Path = MODELS_DIR, threads: int | None = 1) -> dict[str, Any]:
    """Embed the bank with the network ``name`` and record it in its manifest entry; returns the
    keys written."""
    folder = Path(models_dir)
    embedder = load_embedder(name, folder, threads=threads)  # the runtime's own path (onnxruntime)
    keys = save_bank(embedder, name, folder)
    set_manifest_keys(folder / MANIFEST, name, keys)
    return keys


def save_bank(embedder: Embedder, name: str, models_dir: str | Path) -> dict[str, Any]:
    """Embed the bank with ``embedder`` (the network ``name`` as screening loads it) and write it
    to ``models_dir``; returns the manifest keys that record it, for the caller to write (a
    training command writes them with the network's new entry)."""
    folder = Path(models_dir)
    vectors = embedder.embed(background_bank(embedder.size)).astype(np.float32, copy=False)
    path = folder / bank_file(name)
    tmp = folder / f".{path.name}.{os.getpid()}.tmp.npy"
    np.save(tmp, vectors, allow_pickle=False)
    os.replace(tmp, path)
    return {"bank_file": path.name, "bank_sha256": sha256_file(path), "bank_recipe": BANK_RECIPE,
            "bank_model_sha256": embedder.sha256}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screener.train.bank", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="folder with manifest.toml")
    parser.add_argument("--model", action="append", metavar="NAME",
                        help="a network in the manifest (repeatable; default: every logo network)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    for name in args.model or logo_networks(args.models):
        keys = write_bank(name, args.models, args.threads)
        print(f"{name}: wrote {args.models / keys['bank_file']} (sha256 {keys['bank_sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
