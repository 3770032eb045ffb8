"""Train the logo stage's head, and the last blocks of the pretrained trunk, on this project's data.

The training views (:mod:`.trunk_data`: the trained FlickrLogos dev brands' boxes (``flickr_split``),
synthetic marks and their imitations, simple-icons brand designs under the exclusion list, street
clutter of the ICDAR dev fitting half) are run once through the frozen trunk and cached under
``--cache`` (up to the first trained block's input when ``--tune-tail`` trains the trunk's last
``--tail-blocks``); the head (:mod:`.trunk_train`: a linear map started at the PCA whitening of
the trunk's pooled stages, plus a residual MLP) trains on them with torch (the train extra). The
trained blocks are written into a trunk graph of the model's own (``trunk-NAME.onnx``, every other
weight still read from the wheel) and the head as ``NAME-head.onnx``. The run then measures the
network on the held-out dev brands' crops (:mod:`.trunk_eval`) and, since crop scores do not
carry over to photos, in the logo stage over the dev fitting half's photos (:mod:`.photo_eval`:
photo top-1 and photos over the street photos' 99th percentile, per trained and held-out brands;
``--no-photo-check`` skips it), and writes its manifest entry (command, recipe, seed, exclusion
list, metrics). A held-out brand's crop is never trained on.

The defaults are the shipped default network's recipe (``logo-trunk-tuned``)::

    python -m screener.train.trunk_head --flickr ../shared/data/flickrlogos27-dev \
        --icdar ../shared/data/icdar2015-dev --out runs/rebuild

``screener train-logo --network logo-trunk-tuned`` replays the command its manifest entry
records (:func:`recorded_argv`). A PCA whitening alone (no gradient training, the ``logo-trunk``
network of 2026-12-02) was this module's first mode; it was deleted once the trained network beat
it on every measure (BENCHMARKS.md, "logo-trunk deleted").
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..logo.weights import MODELS_DIR

Box = tuple[float, float, float, float]
# The trunk passes a photo's windows are pooled from (scales of the logo stage's 640 px working
# copy; screener.logo.trunk.PooledRegions), written to a trained head's manifest entry: without
# them the stage would cut and embed every window, which is not how the shipped head runs.
REGION_SCALES = (1.0, 0.5, 0.25)


# --- crops --------------------------------------------------------------------------------------
def read_rgb(path: Path) -> np.ndarray:
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def squash(image: np.ndarray, box: Box, size: int) -> np.ndarray:
    """The box's pixels squashed to ``size`` x ``size`` (as the logo stage cuts windows)."""
    x1, y1, x2, y2 = (int(round(v)) for v in box)
    h, w = image.shape[:2]
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(w, max(x1 + 2, x2)), min(h, max(y1 + 2, y2))
    crop = image[y1:y2, x1:x2]
    interp = cv2.INTER_AREA if min(crop.shape[:2]) > size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interp)


def clutter_boxes(images: list[Path], count: int, seed: int) -> list[tuple[Path, Box]]:
    """``count`` seeded random windows over ``images`` (cycled)."""
    rng = random.Random(seed)
    sizes = {p: cv2.imread(str(p), cv2.IMREAD_REDUCED_GRAYSCALE_2).shape[:2] for p in images}
    out = []
    for i in range(count):
        p = images[i % len(images)]
        h, w = (2 * v for v in sizes[p])
        side = rng.uniform(0.08, 0.4) * min(h, w)
        aspect = rng.uniform(0.5, 2.0)
        bw, bh = min(w, side * aspect ** 0.5), min(h, side / aspect ** 0.5)
        x, y = rng.uniform(0, w - bw), rng.uniform(0, h - bh)
        out.append((p, (x, y, x + bw, y + bh)))
    return out


def cut_all(items: list[tuple[Path, Box]], size: int) -> np.ndarray:
    """Every (photo, box) squashed, reading each photo once per run of equal photos."""
    current: tuple[Path | None, np.ndarray | None] = (None, None)
    out = np.empty((len(items), size, size, 3), np.uint8)
    for i, (path, box) in enumerate(items):
        if current[0] != path:
            current = (path, read_rgb(path))
        out[i] = squash(current[1], box, size)  # type: ignore[arg-type]
    return out


# --- whitening ----------------------------------------------------------------------------------
def fit_whitening(fit: np.ndarray, dims: int, shrink: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """PCA whitening (mean, projection D x dims) learnt on ``fit``; eigenvalues are regularised
    by ``shrink`` x their mean so the weakest kept directions are not blown up into noise."""
    mean = fit.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov((fit - mean).T))
    order = np.argsort(-values)[:dims]
    values, vectors = values[order], vectors[:, order]
    projection = vectors / np.sqrt(values + shrink * values.mean())
    return mean.astype(np.float32), projection.astype(np.float32)


def train_mode(args: argparse.Namespace, command: str) -> int:
    """Cached trunk features → a trained head (and trunk blocks) → ONNX + manifest entry."""
    import dataclasses
    import time

    from ..config import Config
    from ..logo.matcher import network_threads
    from ..logo.trunk import Trunk, TrunkSpec, load_trunk, load_trunk_embedder, pooled_crops, unit
    from ..logo.weights import read_manifest, update_manifest
    from .bank import save_bank
    from .exclusion import EXCLUSION_FILE, load_exclusions
    from .photo_eval import fit_half_ranking
    from .trainer import require_training_packages
    from .trunk_data import ViewRecipe, cached_features
    from .trunk_eval import crop_metrics, heldout_crops
    from .trunk_train import HeadSettings, train_head, trained_head_graph

    require_training_packages()
    t0 = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - t0:6.0f} s] {message}", file=sys.stderr, flush=True)

    trunk = load_trunk(args.trunk, args.out, threads=args.threads)
    recipe = ViewRecipe(size=args.size, seed=args.seed, synth_identities=args.synth, clutter_windows=args.clutter,
                        icon_views=args.icon_views, icons_limit=args.icons)
    settings = HeadSettings(dims=args.dims, hidden=args.hidden, steps=args.steps, lr=args.lr,
                            temperature=args.temperature, tail_lr=args.tune_tail, seed=args.seed, threads=args.threads)
    trunk_entry: dict[str, Any] | None = None
    if args.tune_tail > 0:
        # The trunk's last blocks train with the head (.trunk_tail): features cached up to the
        # first one's input, then the trained blocks written into a trunk graph of this model's own.
        from .trunk_export import export, load_state
        from .trunk_tail import tail_module, tuned_tensors

        source = args.trunk.removeprefix("trunk-")
        suffix = "" if args.tail_blocks == 1 else f"-{args.tail_blocks}"
        training_graph = export(source, args.cache, tail_input=True, tail_blocks=args.tail_blocks,
                                file_name=f"{args.trunk}-tail-input{suffix}.onnx")
        data = cached_features(args.flickr, args.icdar, recipe,
                               Trunk(TrunkSpec.from_entry(training_graph), args.cache, args.threads), args.cache,
                               log, pre_tail=True)
        state = load_state(source)
        tail = tail_module(state, args.tail_blocks)
        stride = training_graph["strides"][-1]
        head, record = train_head(data, settings, log, tail, (tail.input_channels, args.size // stride,
                                                               args.size // stride))
        trunk_entry = export(source, args.out, tuned=tuned_tensors(tail), file_name=f"trunk-{args.name}.onnx")
        one = len(tail) == 1
        trunk_entry.update({
            "export_command": command,
            "tuned": f"the last {_blocks_phrase(len(tail))} ({', '.join(tail.prefixes)}) trained here with the head "
                     f"{args.name!r}, {'its' if one else 'their'} tensors held in this graph; every other weight read "
                     "from the wheel",
            "licence": trunk_entry["licence"] + f"; the trained {'block' if one else 'blocks'}: this project's licence"})
        trunk = Trunk(TrunkSpec.from_entry(trunk_entry), args.out, args.threads)
    else:
        data = cached_features(args.flickr, args.icdar, recipe, trunk, args.cache, log)
        head, record = train_head(data, settings, log)
    data_bytes = trained_head_graph(head).SerializeToString()
    head_file = args.out / f"{args.name}-head.onnx"
    head_file.write_bytes(data_bytes)

    held = heldout_crops(args.flickr, args.icdar)
    raw = {}
    for part in ("refs", "queries", "clutter"):
        path = args.cache / f"heldout-{trunk.sha256[:12]}-{args.size}-{part}.npy"
        if not path.exists():
            np.save(path, unit(pooled_crops(trunk, cut_all(list(getattr(held, part)), args.size))))
        raw[part] = np.load(path)
    metrics = crop_metrics(head.embed(raw["refs"]), held.ref_brand, head.embed(raw["queries"]), held.query_brand,
                           head.embed(raw["clutter"]))
    exclusions = load_exclusions()
    entry = {
        "name": args.name, "kind": "trunk-head", "trunk": trunk_entry["name"] if trunk_entry else args.trunk,
        "head_file": head_file.name,
        "head_sha256": hashlib.sha256(data_bytes).hexdigest(), "dim": args.dims, "input_size": args.size,
        "gem_p": 3.0, "region_scales": list(REGION_SCALES),
        "head": (f"trained on the {'' if trunk_entry else 'frozen '}trunk's stages (each GeM-pooled, p = 3, L2-normalised, concatenated, "
                 f"L2-normalised)" + (f", the trunk's last {_blocks_phrase(args.tail_blocks)} trained with it (lr "
                                      f"{args.tune_tail}, batch-normalisation statistics frozen)" if trunk_entry else "")
                 + f": linear {head.weight.shape[0]} -> {args.dims} started at the PCA whitening"
                 + (f" + a residual MLP ({args.hidden} ReLU units) started at zero" if args.hidden else "")
                 + ", then L2 normalisation; supervised contrastive loss, temperature "
                 f"{args.temperature}, AdamW lr {args.lr} one-cycle, {args.steps} steps"),
        "training_command": command, "data_recipe": recipe.describe(), "seed": args.seed,
        "excluded_brands": list(exclusions.brands), "exclusion_file": f"screener/train/{EXCLUSION_FILE.name}",
        "exclusion_rule": "names and aliases folded (accents, case, punctuation, spaces, & = and); a mark is "
                          "excluded when a run of words of its title, or the start of its slug, is one of them",
        "training_note": "",  # written last, with the command's minutes
        "identities": record["identities"], "negatives": record["negatives"],
        "metrics": {"heldout_top1": round(metrics["top1"], 4), "heldout_tar_at_far1e-2": round(metrics["tar@0.01"], 4),
                    "heldout_tar_at_far1e-3": round(metrics["tar@0.001"], 4), "heldout_queries": metrics["queries"],
                    "heldout_impostors": metrics["impostors"], "final_loss": record["final_loss"],
                    **{f"icon_validation_{k.replace('@', '_at_far')}": round(v, 4)
                       for k, v in record["validation"].items() if isinstance(v, float)}},
        "split": {"heldout": 5, "test_fraction": 0.3, "seed": 0, "heldout_brands": list(held.brands)},
        "settings": {k: v for k, v in dataclasses.asdict(settings).items() if k != "threads"}
                    | ({"tail_blocks": args.tail_blocks} if args.tune_tail else {}),
    }
    photo = ""
    if args.manifest or args.photo_check:
        # The entry is written last, with the photo check's measures in it (and not at all with
        # --no-manifest), so the check cannot load the head through the manifest: it loads it from
        # the entry in memory, as load_embedder does from a manifest (the same embedder, pooled
        # windows included). The head's background bank, which the stage calibrates its
        # references against (screener.logo.bank), is embedded by that embedder and written
        # beside the head first; its keys go into the entry.
        config = Config().replace(logo__model=args.name)
        embedder = load_trunk_embedder(entry, args.out, threads=network_threads(config.logo, args.threads),
                                       trunk=trunk if trunk_entry else None)
        entry.update(save_bank(embedder, args.name, args.out))
        embedder.source = (entry, args.out)
    if args.photo_check:
        # The real logo stage over the fitting half's photos (benchmarks/logo_flickr.py --half fit,
        # then logo_halves.py --ranking): crop scores do not carry over to photos. Its thresholds
        # are the network's measured operating point, which Config reads by name from the
        # shipped manifest (a new name has the defaults): geometry's gates decide which regions
        # are aligned or verified, and so some hits' scores.
        ranking = fit_half_ranking(args.flickr, args.icdar, config, entry["split"], embedder=embedder,
                                   threads=args.threads, log=log)
        entry["metrics"].update(ranking.metrics("fit_"))
        photo = (f"; fitting half's photos top-1 trained / held-out {ranking.top1_trained:.3f} / "
                 f"{ranking.top1_heldout:.3f}, over street q99 {ranking.over_street_q99_trained:.3f} / "
                 f"{ranking.over_street_q99_heldout:.3f} (street q99 {ranking.street_q99:.3f})")
    minutes = (time.perf_counter() - t0) / 60
    log(f"{head_file}: held-out dev brands' crops top-1 {metrics['top1']:.3f}, TAR@1e-2 {metrics['tar@0.01']:.3f}, "
        f"TAR@1e-3 {metrics['tar@0.001']:.3f}{photo}; {minutes:.1f} minutes")
    entry["training_note"] = (f"one run of one command, {minutes:.1f} minutes on the 2-core development machine "
                              f"(shared); features cached under {args.cache}, training {record['train_seconds']} s")
    if args.manifest:
        earlier = next((e for e in read_manifest(args.out) if e.get("name") == args.name), {})
        carried, stale = carried_tables(earlier, entry)
        entry.update(carried)
        if trunk_entry:
            update_manifest(args.out / "manifest.toml", trunk_entry)
        update_manifest(args.out / "manifest.toml", entry)
        if stale:
            log(f"warning: {args.name}'s {' and '.join(stale)} were fitted for its previous head and are dropped: "
                "refit them (benchmarks/logo_halves.py --min-precision 0.95, python -m screener.train.fit_geometry "
                f"--model {args.name}, python -m screener.train.fit_decision --set logo.model={args.name}) before "
                "the stage uses this head; until then it has the default thresholds")
    print(f"{head_file}: sha256 {entry['head_sha256']}", file=sys.stderr)
    return 0


# Tables of a head's entry that other commands fit for that head (its thresholds, their report).
FITTED_FOR_HEAD = ("operating_point", "report")


def carried_tables(earlier: dict[str, Any], entry: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """What a rewritten entry keeps of ``earlier`` (the same model's entry before): the tables
    fitted for its head (``FITTED_FOR_HEAD``) when the head and its background bank came out
    byte for byte the same, and the names of those dropped because they did not (stale
    thresholds would judge another network's scores, or scores calibrated against another bank).
    The manifest entry is rendered anew, so their comments are not kept."""
    present = [k for k in FITTED_FOR_HEAD if k in earlier]
    if all(earlier.get(key) == entry.get(key) for key in ("head_sha256", "bank_sha256")):
        return {k: earlier[k] for k in present}, []
    return {}, present


def _blocks_phrase(blocks: int) -> str:
    """"block" or "N blocks", as the manifest's descriptions say it."""
    return "block" if blocks == 1 else f"{blocks} blocks"


# --- the recorded recipe -------------------------------------------------------------------------
RECIPE_MODULE = "screener.train.trunk_head"
# Options that say where this machine keeps things, not what the network is: a replay takes
# them from the caller, everything else (mode, name, steps, trained blocks, seed) from the record.
MACHINE_OPTIONS = ("--flickr", "--icdar", "--out", "--threads")


def recorded_argv(entry: dict[str, Any], flickr: Path, icdar: Path, out: Path, threads: int) -> list[str]:
    """:func:`main`'s arguments that rebuild the network of manifest ``entry`` from the command
    recorded in it (``training_command``), with this machine's data folders, output folder and
    thread count in place of the recorded ones. A clear error for an entry this module did not train."""
    import shlex

    from ..errors import ScreenerError

    name = entry.get("name")
    words = shlex.split(str(entry.get("training_command", "")))
    if words[:3] != ["python", "-m", RECIPE_MODULE]:
        raise ScreenerError(f"model {name!r} was not trained by {RECIPE_MODULE} (its recorded command: "
                            f"{entry.get('training_command', 'none')!r}); `screener train-logo` without "
                            "--network retrains logo-embed")
    kept, skip = [], False
    for word in words[3:]:
        if skip:
            skip = False
        elif word.split("=", 1)[0] in MACHINE_OPTIONS:
            skip = "=" not in word  # "--out DIR" drops the next word too, "--out=DIR" only itself
        else:
            kept.append(word)
    return kept + ["--flickr", str(flickr), "--icdar", str(icdar), "--out", str(out), "--threads", str(threads)]


def start_models_folder(out: Path) -> bool:
    """Make ``out`` a models folder if it is not one (no manifest): a copy of the package's. The
    recipe reads the trunk's entry from ``out``'s manifest and writes its own entries there, so a
    rebuild into a new folder replaces the copy's files and leaves the installed models as they are.
    True when it copied."""
    if (out / "manifest.toml").exists():
        return False
    shutil.copytree(MODELS_DIR, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # The only mode since the PCA head was deleted; accepted so recorded commands replay.
    parser.add_argument("--mode", choices=("trained",), default="trained", help=argparse.SUPPRESS)
    parser.add_argument("--flickr", type=Path, required=True)
    parser.add_argument("--icdar", type=Path, required=True)
    parser.add_argument("--trunk", default="trunk-effnet-lite0")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--dims", type=int, default=256)
    parser.add_argument("--shrink", type=float, default=0.1)
    parser.add_argument("--clutter", type=int, default=4000, help="street windows among the negatives")
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=MODELS_DIR,
                        help="models folder (default: the package's; a folder without a manifest starts as a copy of it)")
    parser.add_argument("--name", default="logo-trunk-tuned")
    trained = parser.add_argument_group("training")
    trained.add_argument("--cache", type=Path, default=Path("runs/trunk_head"), help="cached trunk features")
    trained.add_argument("--synth", type=int, default=1000, help="synthetic identities")
    trained.add_argument("--icons", type=int, default=0, help="simple-icons marks used (0: every usable one)")
    trained.add_argument("--icon-views", type=int, default=6, help="prints per simple-icons mark")
    trained.add_argument("--hidden", type=int, default=512, help="residual MLP width (0: linear head)")
    trained.add_argument("--steps", type=int, default=1500)
    trained.add_argument("--lr", type=float, default=1e-3)
    trained.add_argument("--temperature", type=float, default=0.1)
    trained.add_argument("--tune-tail", type=float, default=1e-4, metavar="LR",
                         help="also train the trunk's last block at this peak learning rate (0: frozen trunk); "
                              "writes trunk-NAME.onnx beside the head")
    trained.add_argument("--tail-blocks", type=int, default=2, metavar="N",
                         help="with --tune-tail: train the trunk's last N blocks (those on its stride-32 map)")
    trained.add_argument("--no-manifest", dest="manifest", action="store_false",
                         help="write the head file (and, for the photo check, its background bank), not its "
                              "manifest entry")
    trained.add_argument("--no-photo-check", dest="photo_check", action="store_false",
                         help="skip running the head in the logo stage over the fitting half's photos (quick "
                              "experiments; the entry then records crop metrics only)")
    args = parser.parse_args(argv)
    # Cached trunk features would let a run train for an hour before the held-out check read a
    # missing folder: say so before anything runs.
    for option, folder in (("--flickr", args.flickr), ("--icdar", args.icdar)):
        if not folder.is_dir():
            parser.error(f"{option} {folder}: no such folder")
    if start_models_folder(args.out):
        print(f"{args.out}: started as a copy of {MODELS_DIR}", file=sys.stderr)
    command = "python -m screener.train.trunk_head " + " ".join(sys.argv[1:] if argv is None else argv)
    return train_mode(args, command)


if __name__ == "__main__":
    raise SystemExit(main())
