"""Train the logo embedding network from scratch: ``python -m screener.train`` or
``screener train-logo``.

One seeded, reproducible command (same seed, steps and data → same batches, same schedule):
supervised contrastive loss (Khosla et al. 2020) over batches of P identities x K views with
near-duplicate imitations as separate identities and background crops as extra negatives, AdamW
with a warm-up and cosine decay. At the end it measures the network on brands it never trained
on (a brand-disjoint FlickrLogos split) and on synthetic imitations, writes the weights as a plain
``state_dict`` (``.pt``, loadable with ``weights_only=True``) and records everything in
``screener/models/manifest.toml``. Checkpoints (``.ckpt``) are for resuming only and are git-ignored.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..logo.model import ModelSpec
from .network import build_network
from .recipe import BatchRecipe

if TYPE_CHECKING:  # pragma: no cover
    from .data import FlickrSplit

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "models"


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides a training run (recorded in the manifest)."""

    steps: int = 1500
    seed: int = 0
    lr: float = 2e-3
    weight_decay: float = 5e-4
    temperature: float = 0.1
    warmup: int = 100
    threads: int = 2
    workers: int = 1
    heldout: int = 5
    test_fraction: float = 0.3
    max_minutes: float = 60.0
    split_seed: int = 0  # seed of the brand-disjoint FlickrLogos split (kept across stages)
    init: str = ""  # start from these weights (a state_dict .pt) instead of from scratch
    bn_batches: int = 20  # batches for the final BatchNorm re-estimation
    eval_synthetic: int = 200  # synthetic identities in the final imitation check
    snapshot_every: int = 0  # also write the weights and manifest every N steps (0 = only at the end)


def supcon_loss(z: "Any", labels: "Any", temperature: float) -> "Any":
    """Supervised contrastive loss. Rows with label -1 are negatives only (never anchors)."""
    import torch

    sim = z @ z.t() / temperature
    n = z.shape[0]
    eye = torch.eye(n, dtype=torch.bool, device=z.device)
    sim = sim.masked_fill(eye, -1e9)
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    same = (labels[:, None] == labels[None, :]) & ~eye & (labels[:, None] >= 0)
    counts = same.sum(dim=1)
    anchors = counts > 0
    per_anchor = -(log_prob * same).sum(dim=1)[anchors] / counts[anchors]
    return per_anchor.mean()


def _batches_dataset(size: int, recipe: BatchRecipe, seed: int, real: Any, backgrounds: Any,
                     steps: int) -> Any:
    """A torch IterableDataset of whole batches, seeded per DataLoader worker."""
    import torch

    class _Dataset(_Batches, torch.utils.data.IterableDataset):
        pass

    return _Dataset(size, recipe, seed, real, backgrounds, steps)


class _Batches:
    """Yields batches; worker ``i`` of ``n`` makes batches i, i+n, ... with its own seed."""

    def __init__(self, size: int, recipe: BatchRecipe, seed: int, real: Any, backgrounds: Any, steps: int) -> None:
        self.args = (size, recipe, seed, real, backgrounds)
        self.steps = steps

    def __iter__(self):  # noqa: ANN204
        import torch

        info = torch.utils.data.get_worker_info()
        workers = info.num_workers if info else 1
        worker = info.id if info else 0
        size, recipe, seed, real, backgrounds = self.args
        from .data import BatchMaker

        maker = BatchMaker(size, recipe, seed=seed * 1000 + worker, real=real, backgrounds=backgrounds)
        for _ in range(worker, self.steps, workers):
            crops, labels = maker.make()
            yield torch.from_numpy(crops), torch.from_numpy(labels)


def _to_tensor(crops: Any, spec: ModelSpec) -> Any:
    import torch

    x = crops.float().permute(0, 3, 1, 2) / 255.0
    mean = torch.tensor(spec.mean).view(1, 3, 1, 1)
    std = torch.tensor(spec.std).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous(memory_format=torch.channels_last)


def train(spec: ModelSpec, settings: TrainSettings, data_dir: str | Path | None, out_dir: Path,
          name: str = "logo-embed", recipe: BatchRecipe = BatchRecipe(), command: str = "",
          log=print) -> dict[str, Any]:
    """Train, evaluate, write ``<out_dir>/<name>.pt`` and its manifest entry; returns the entry."""
    import torch

    torch.manual_seed(settings.seed)
    random.seed(settings.seed)
    np.random.seed(settings.seed)
    torch.set_num_threads(settings.threads)
    from .data import flickr_split, load_real_crops

    split: FlickrSplit | None = None
    real, backgrounds = None, None
    if data_dir is not None:
        split = flickr_split(data_dir, settings.heldout, settings.test_fraction, settings.split_seed)
        # Patch identities want many distinct patches; the old recipe's 3 per photo is kept
        # when there are none, so its runs stay reproducible.
        real, backgrounds = load_real_crops(data_dir, split.train_boxes,
                                            background_tries=20 if recipe.patches else 3)
        log(f"real data: {sum(len(v) for v in real.values())} boxes of {len(real)} brands; "
            f"held out: {', '.join(split.heldout_brands)}")
    if not real:
        recipe = BatchRecipe(**{**recipe.to_dict(), "real": 0})
    network = build_network(spec)
    init_sha = ""
    if settings.init:  # a second stage: continue from a first stage's weights
        from ..logo.weights import sha256_file

        network.load_state_dict(torch.load(settings.init, map_location="cpu", weights_only=True))
        init_sha = sha256_file(settings.init)
        log(f"starting from {settings.init} (sha256 {init_sha[:12]}...)")
    network = network.to(memory_format=torch.channels_last)
    network.train()
    optimiser = torch.optim.AdamW(network.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return settings.lr * (step + 1) / settings.warmup
        progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return settings.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))

    loader = torch.utils.data.DataLoader(
        _batches_dataset(spec.input_size, recipe, settings.seed, real, backgrounds, settings.steps),
        batch_size=None, num_workers=settings.workers, persistent_workers=False,
        prefetch_factor=4 if settings.workers else None)
    started = time.time()
    step = 0
    losses: list[float] = []
    stopped_early = False
    for crops, labels in loader:
        for group in optimiser.param_groups:
            group["lr"] = lr_at(step)
        z = network(_to_tensor(crops, spec))
        loss = supcon_loss(z, labels, settings.temperature)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
        step += 1
        if settings.snapshot_every and step % settings.snapshot_every == 0 and step < settings.steps:
            recalibrate_batchnorm(network, spec, recipe, settings.seed, real, backgrounds, settings.bn_batches)
            snap = evaluate(network, spec, data_dir, split, settings.split_seed, settings.eval_synthetic)
            snap.update(steps_done=step, train_minutes=round((time.time() - started) / 60, 1))
            log(f"snapshot at step {step}: " + ", ".join(f"{k}={v}" for k, v in snap.items()))
            write_model(network, spec, settings, recipe, split, snap, out_dir, name, command, True)
            network.train()
        if step % 25 == 0 or step == settings.steps:
            elapsed = time.time() - started
            log(f"step {step}/{settings.steps} loss {np.mean(losses[-25:]):.3f} "
                f"lr {lr_at(step):.5f} {elapsed / 60:.1f} min")
        if (time.time() - started) / 60 > settings.max_minutes:
            stopped_early = True
            log(f"stopping at step {step}: the {settings.max_minutes} min budget is spent")
            break
    minutes = (time.time() - started) / 60
    recalibrate_batchnorm(network, spec, recipe, settings.seed, real, backgrounds, settings.bn_batches)
    metrics = evaluate(network, spec, data_dir, split, settings.split_seed, settings.eval_synthetic)
    metrics["train_minutes"] = round(minutes, 1)
    metrics["steps_done"] = step
    metrics["final_loss"] = round(float(np.mean(losses[-50:])) if losses else float("nan"), 4)
    log("validation: " + ", ".join(f"{k}={v}" for k, v in metrics.items()))
    return write_model(network, spec, settings, recipe, split, metrics, out_dir, name, command,
                       stopped_early, init_sha)


def recalibrate_batchnorm(network: Any, spec: ModelSpec, recipe: BatchRecipe, seed: int, real: Any,
                          backgrounds: Any, batches: int = 20) -> None:
    """Re-estimate every BatchNorm's running statistics as exact averages over ``batches`` fresh
    training batches (seeded). torchvision's MobileNetV3 tracks them with momentum 0.01, so they
    lag far behind weights trained from scratch; measured after 100 steps, eval-mode features
    had shrunk to the same vector for every crop."""
    import torch

    from .data import BatchMaker

    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    maker = BatchMaker(spec.input_size, recipe, seed=seed + 777, real=real, backgrounds=backgrounds)
    network.train()
    with torch.no_grad():
        for _ in range(batches):
            crops, _labels = maker.make()
            network(_to_tensor(torch.from_numpy(crops), spec))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    network.eval()


# --- validation --------------------------------------------------------------------------------
def evaluate(network: Any, spec: ModelSpec, data_dir: str | Path | None, split: FlickrSplit | None,
             seed: int = 0, synthetic: int = 200) -> dict[str, float]:
    """Brand-disjoint retrieval on held-out real brands and genuine/imitation separation on
    synthetic marks the network never saw."""
    import cv2

    from . import augment, render
    from .network import TorchEmbedder

    embedder = TorchEmbedder(network, spec)
    size = spec.input_size
    out: dict[str, float] = {}
    if data_dir is not None and split is not None:
        crops, labels = [], []
        for b in split.boxes:
            if b.brand not in split.heldout_brands:
                continue
            bgr = cv2.imread(str(Path(data_dir) / "images" / b.image))
            if bgr is None:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            crop = augment.crop_with_margin(rgb, b.box, 0.05)
            crops.append(augment.to_input(crop, size))
            labels.append(b.brand)
        z = embedder.embed(np.stack(crops))
        sim = z @ z.T
        np.fill_diagonal(sim, -2)
        lab = np.asarray(labels)
        same = lab[:, None] == lab[None, :]
        np.fill_diagonal(same, False)
        out["heldout_top1"] = round(float(np.mean(lab[sim.argmax(1)] == lab)), 4)
        pos = sim[same]
        neg = sim[~same & (sim > -2)]
        thr = float(np.quantile(neg, 0.99))
        out["heldout_pos_mean"] = round(float(pos.mean()), 4)
        out["heldout_neg_mean"] = round(float(neg.mean()), 4)
        out["heldout_neg_p99"] = round(thr, 4)
        out["heldout_tar_at_far1"] = round(float(np.mean(pos > thr)), 4)
        out["heldout_brands"] = len(set(labels))  # type: ignore[assignment]
    rng = random.Random(10_000 + seed)
    refs, views, imits = [], [], []
    for _ in range(synthetic):
        mark = render.random_mark(rng)
        twin = render.imitate_mark(mark, rng)
        logo = np.asarray(render.render_mark(mark, 80).convert("RGBA"))
        refs.append(augment.to_input(augment.composite(logo, rng, clean=True), size))
        view = augment.photometric(augment.geometric(augment.composite(logo, rng), rng, 0.7), rng, 0.7)
        views.append(augment.to_input(view, size))
        twin_logo = np.asarray(render.render_mark(twin, 80).convert("RGBA"))
        imits.append(augment.to_input(augment.composite(twin_logo, rng, clean=True), size))
    r, v, m = embedder.embed(np.stack(refs)), embedder.embed(np.stack(views)), embedder.embed(np.stack(imits))
    genuine = np.sum(r * v, axis=1)
    imitation = np.sum(r * m, axis=1)
    cross = (r @ v.T)[~np.eye(len(r), dtype=bool)]
    out["synth_genuine_mean"] = round(float(genuine.mean()), 4)
    out["synth_imitation_mean"] = round(float(imitation.mean()), 4)
    out["synth_other_mean"] = round(float(cross.mean()), 4)
    out["synth_top1"] = round(float(np.mean((r @ v.T).argmax(0) == np.arange(len(r)))), 4)
    return out


# --- writing -----------------------------------------------------------------------------------
def write_model(network: Any, spec: ModelSpec, settings: TrainSettings, recipe: BatchRecipe,
                split: FlickrSplit | None, metrics: dict[str, Any], out_dir: Path, name: str,
                command: str, stopped_early: bool = False, init_sha: str = "") -> dict[str, Any]:
    """Save the weights as a plain state_dict and add/replace the manifest entry, then make the
    network's background bank (:mod:`screener.train.bank`)."""
    import torch

    from ..logo.weights import sha256_file, update_manifest

    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.pt"
    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    entry: dict[str, Any] = {
        "name": name, "file": path.name, "sha256": sha256_file(path),
        **onnx_twin(network, spec, out_dir / f"{name}.onnx"), **spec.to_dict(),
        "normalisation": "RGB / 255, minus mean, divided by std (ImageNet statistics)",
        "training_command": command,
        "data_recipe": ("per batch: synthetic identities (half screener.train.synth.logos, half "
                        "screener.train.render) x views, some with their imitation as a separate "
                        "identity; FlickrLogos-27 dev boxes of the trained brands' training photos; "
                        "background crops as negatives. Supervised contrastive loss."),
        "batch": recipe.to_dict(),
        "seed": settings.seed, "steps": settings.steps, "lr": settings.lr,
        "temperature": settings.temperature, "stopped_early": stopped_early,
        **({"init_sha256": init_sha} if init_sha else {}),
        "metrics": metrics,
    }
    if split is not None:
        entry["split"] = {"heldout_brands": list(split.heldout_brands),
                          "train_brands": list(split.train_brands),
                          "heldout": settings.heldout, "test_fraction": settings.test_fraction,
                          "seed": settings.split_seed, "train_photos": len(split.train_photos)}
    update_manifest(out_dir / "manifest.toml", entry)
    # The new entry has no background bank (it is the new network's): without one the logo stage
    # cannot calibrate its references, so the weights are made screenable here.
    from .bank import write_bank

    return {**entry, **write_bank(name, out_dir)}


def onnx_twin(network: Any, spec: ModelSpec, path: Path) -> dict[str, Any]:
    """Export ``network`` to ONNX at ``path`` (what screening runs) and return its manifest fields."""
    from ..logo.weights import sha256_file
    from .network import ONNX_OPSET, export_onnx

    tmp = path.with_suffix(".onnx.tmp")
    export_onnx(network, spec, tmp)
    os.replace(tmp, path)
    return {"onnx_file": path.name, "onnx_sha256": sha256_file(path), "onnx_opset": ONNX_OPSET}


# --- command line --------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainSettings()
    s = ModelSpec()
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="FlickrLogos-27 dev folder (boxes.csv + images/); omit for synthetic data only")
    parser.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help="folder for <name>.pt and manifest.toml (default: the package's models/)")
    parser.add_argument("--name", default="logo-embed", help="model name in the manifest")
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--threads", type=int, default=d.threads, help="torch threads for training")
    parser.add_argument("--workers", type=int, default=d.workers, help="batch-making processes")
    parser.add_argument("--max-minutes", type=float, default=d.max_minutes, help="stop early after this long")
    parser.add_argument("--snapshot-every", type=int, default=0, metavar="N",
                        help="also write weights + manifest every N steps")
    parser.add_argument("--split-seed", type=int, default=d.split_seed,
                        help="seed of the brand-disjoint FlickrLogos split")
    parser.add_argument("--init", metavar="PT", default="",
                        help="continue from these weights (a second training stage)")
    parser.add_argument("--arch", default=s.arch)
    parser.add_argument("--size", type=int, default=s.input_size, help="input crop size in px")
    parser.add_argument("--dim", type=int, default=s.dim, help="embedding size")
    parser.add_argument("--synthetic", type=int, default=BatchRecipe().synthetic,
                        help="synthetic identities per batch")
    parser.add_argument("--real", type=int, default=BatchRecipe().real, help="real brands per batch")
    parser.add_argument("--views", type=int, default=BatchRecipe().views)
    parser.add_argument("--patches", type=int, default=BatchRecipe().patches,
                        help="real background patches per batch, each its own identity")


def require_training_packages() -> None:
    """Raise :class:`EngineUnavailableError` naming the ``train`` extra when torch, torchvision or
    onnx is missing (a screening install has none of them)."""
    import importlib.util

    missing = []
    for name in ("torch", "torchvision", "onnx"):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # ValueError: a None placeholder in sys.modules
            found = False
        if not found:
            missing.append(name)
    if missing:
        from ..errors import EngineUnavailableError

        raise EngineUnavailableError(f"training needs {', '.join(missing)}, which a screening install leaves "
                                     "out; install the train extra: pip install 'screener[train]' "
                                     "(or scripts/install.sh --train)")


def run(args: argparse.Namespace, command: str) -> int:
    require_training_packages()
    spec = ModelSpec(arch=args.arch, dim=args.dim, input_size=args.size)
    settings = TrainSettings(steps=args.steps, seed=args.seed, lr=args.lr, threads=args.threads,
                             workers=args.workers, max_minutes=args.max_minutes,
                             snapshot_every=args.snapshot_every, init=args.init,
                             split_seed=args.split_seed,
                             warmup=min(100, max(1, args.steps // 10)))
    base = BatchRecipe()
    recipe = BatchRecipe(synthetic=args.synthetic, imitations=min(base.imitations, args.synthetic),
                         real=args.real, views=args.views, negatives=base.negatives,
                         patches=args.patches)
    if args.data is not None and not (Path(args.data) / "boxes.csv").is_file():
        from ..errors import InputError

        raise InputError(f"{args.data} has no boxes.csv (expected a FlickrLogos-27 dev folder)")
    entry = train(spec, settings, args.data, Path(args.out), args.name, recipe, command,
                  log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"wrote {Path(args.out) / entry['file']} (sha256 {entry['sha256'][:12]}...)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screener.train", description=__doc__.split("\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    return run(args, "python -m screener.train " + " ".join(argv))


if __name__ == "__main__":
    sys.exit(main())
