"""Logo stage speed per 1024 px photo and how it grows with the number of registered brands.

Usage::

    python benchmarks/logo_speed.py [--brands 10 30 100] [--refs 5] [--photos 10] [--threads 1] [--net-threads N] [--sift-sides 1024 800]
        [--runtime onnxruntime|torch] [--affine-views on|off|both] [--model NAME] [--small-side 500]

Registers N fictional brands (``screener.train.synth.logos``) with ``--refs`` reference logos each,
screens the same ``--photos`` rendered 1024 x 768 listings with every registry (each listing shows
a brand of the smallest registry; the registries nest, so every one holds it), and prints the
median milliseconds per photo with the stage's own breakdown (cutting candidates, the network,
similarity with every reference, picking each brand's best window, alignment, SIFT) and the cost
of building the reference set (cold, and from the on-disk cache: until ``build_logo_stage`` returns, and until the SIFT inverted file it
loads in the background is there). All sizes run interleaved photo by photo, so a busy machine slows
them alike: compare the ratios within one run. ``--affine-views both`` runs every size with and
without SIFT's tilted reference views (``"tilted"`` in ``logo.verifiers``), interleaved, and reports the
reference keypoints each keeps in memory. ``--small-side N`` also screens each listing shrunk to a
long side of N px, interleaved with the full-size one (the stage enlarges it to its working side).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.brands import BrandRegistry  # noqa: E402
from screener.config import Config  # noqa: E402


def make_registry(root: Path, brands: int, refs: int, seed: int) -> tuple[BrandRegistry, list]:
    from screener.train.synth import logos

    rng = random.Random(seed)
    registry = BrandRegistry(root)
    specs = []
    for i in range(brands):
        spec = logos.random_spec(logos.random_brand_name(rng), rng)
        specs.append(spec)
        files = []
        for r in range(refs):
            variant = spec if r == 0 else logos.imitate(spec, rng, parts=["style"])
            path = root.parent / f"src-{root.name}-{i}-{r}.png"
            logos.render_logo(variant, rng.choice((96, 128, 160))).save(path)
            files.append(path)
        registry.add(spec.name, logos=files)
    registry.save()
    return BrandRegistry.load(root), specs


def make_photo(spec, seed: int) -> np.ndarray:
    from screener.train.synth import logos

    rng = random.Random(seed)
    scene = Image.new("RGB", (1024, 768), tuple(rng.randint(150, 240) for _ in range(3)))
    scene.paste(tuple(rng.randint(20, 200) for _ in range(3)), (rng.randint(300, 500), 100, 980, 700))
    logo = logos.render_logo(spec, rng.randint(60, 160))
    logo.thumbnail((900, 600))  # a long wordmark must still fit the scene
    scene.paste(logo, (rng.randint(0, 1024 - logo.width), rng.randint(0, 768 - logo.height)), logo)
    return np.asarray(scene.filter(ImageFilter.GaussianBlur(0.7)))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--brands", type=int, nargs="+", default=[10, 30, 100])
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--photos", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="threads of the network and OpenCV")
    parser.add_argument("--net-threads", type=int, default=0,
                        help="threads of the network alone (default: as the screener picks, "
                             "screener.logo.matcher.network_threads)")
    parser.add_argument("--runtime", default="onnxruntime", choices=("onnxruntime", "torch"))
    parser.add_argument("--model", default=Config().logo.model,
                        help="logo network (a manifest name); its operating point comes with it")
    parser.add_argument("--sift-sides", type=int, nargs="*", default=[],
                        help="also time OpenCV SIFT detection alone on the photos at these long sides")
    parser.add_argument("--affine-views", choices=("on", "off", "both"), default="on",
                        help='SIFT\'s tilted reference views ("tilted" in logo.verifiers)')
    parser.add_argument("--small-side", type=int, default=0,
                        help="also screen every listing shrunk to this long side (0: no)")
    args = parser.parse_args(argv)
    views = {"on": (True,), "off": (False,), "both": (True, False)}[args.affine_views]

    import cv2

    from screener.logo.matcher import build_logo_stage, network_threads
    from screener.logo.weights import load_embedder

    cv2.setNumThreads(args.threads)
    base = Config().with_dotted({"logo.model": args.model})
    net_threads = args.net_threads or network_threads(base.logo, args.threads)
    if args.runtime == "torch":  # the training's runtime (the train extra), for comparison
        from screener.train.network import load_torch_embedder

        embedder = load_torch_embedder(args.model, threads=net_threads)
    else:
        embedder = load_embedder(args.model, threads=net_threads)
    with tempfile.TemporaryDirectory() as tmp:
        stages, build = {}, {}
        photos = None
        runs = [(n, v) for n in args.brands for v in views]  # (brands, affine views)
        # A key of its own for the shrunk listings: they share the full-size run's stage.
        sizes = [(r, small) for r in runs for small in ((False, True) if args.small_side else (False,))]
        for n, v in runs:
            # One seed: the registries nest (the first 10 brands of 30 are the 10), so every size
            # has the brands of the photos registered, as the target asks.
            registry, specs = make_registry(Path(tmp) / f"reg{n}-{v}", n, args.refs, seed=0)
            config = base.replace(logo__cache_dir=str(Path(tmp) / f"cache{n}-{v}"),
                                  logo__verifiers=[x for x in base.logo.verifiers if v or x != "tilted"])
            started = time.perf_counter()
            stage = build_logo_stage(registry, config, embedder=embedder, threads=args.threads)
            if stage.verifier is not None:
                stage.verifier.index  # noqa: B018  # built in a thread of its own: wait for it
            cold = time.perf_counter() - started
            del stage
            started = time.perf_counter()
            stages[n, v] = build_logo_stage(registry, config, embedder=embedder, threads=args.threads)
            returned = time.perf_counter() - started
            if stages[n, v].verifier is not None:
                stages[n, v].verifier.index  # noqa: B018  # the inverted file, mapped in the background
            build[n, v] = (cold, returned, time.perf_counter() - started)
            if photos is None:
                photos = [make_photo(specs[i % len(specs)], i) for i in range(args.photos)]
        first = stages[runs[0]]
        print(f"{args.model}, {embedder.runtime}, {args.threads} thread(s) ({net_threads} for the network), {args.photos} photos 1024x768, {args.refs} references "
              f"per brand, {first.references.vectors.shape[0] // (args.brands[0] * args.refs)} "
              "variants per reference")
        times: dict[tuple, list[dict[str, float]]] = {s: [] for s in sizes}
        counts: dict[tuple, list[int]] = {s: [] for s in sizes}
        shrunk = [cv2.resize(p, (args.small_side, args.small_side * p.shape[0] // p.shape[1]),
                             interpolation=cv2.INTER_AREA) for p in photos] if args.small_side else photos
        for i, photo in enumerate(photos):
            # Interleaved, the machine's load hits every size alike; each photo starts at another
            # size, so none always pays for being first (its photo not yet in the caches).
            k = i % len(sizes)
            for r, small in sizes[k:] + sizes[:k]:
                stages[r](shrunk[i] if small else photo)
                times[r, small].append(stages[r].last_timings)
                counts[r, small].append(stages[r].last_candidates)
        for key in sizes:
            r, small = key
            n, v = r
            med = {k: 1000 * statistics.median(t[k] for t in times[key]) for k in times[key][0]}
            parts = ", ".join(f"{k} {v:.0f}" for k, v in med.items() if k != "total")
            verifier = stages[r].verifier
            keypoints = len(verifier.ref_owner) if verifier is not None else 0
            print(f"brands={n:>3}{'' if len(views) == 1 else (' views' if v else ' plain')}"
                  f"{f' at {args.small_side} px' if small else ''}: "
                  f"{med['total']:.0f} ms/photo ({parts}); "
                  f"{statistics.median(counts[key]):.0f} windows; "
                  f"reference set build {build[r][0]:.1f} s cold, {build[r][1]:.2f} s cached "
                  f"({build[r][2]:.2f} s with the inverted file mapped); "
                  f"{keypoints} SIFT reference keypoints ({keypoints * 130 * 4 / 2**20:.0f} MiB); "
                  f"x{med['total'] / (1000 * statistics.median(t['total'] for t in times[runs[0], False])):.2f} "
                  f"vs {args.brands[0]} brands at full size")
        for side in args.sift_sides:  # what SIFT verification's time is made of
            sift, seconds = cv2.SIFT_create(), []
            for photo in photos:
                grey = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY)
                f = side / max(grey.shape)
                grey = cv2.resize(grey, None, fx=f, fy=f, interpolation=cv2.INTER_AREA if f < 1 else cv2.INTER_LINEAR)
                started = time.perf_counter()
                sift.detectAndCompute(grey, None)
                seconds.append(time.perf_counter() - started)
            print(f"SIFT detection alone at {side} px: {1000 * statistics.median(seconds):.0f} ms/photo")
    return 0


if __name__ == "__main__":
    sys.exit(main())
