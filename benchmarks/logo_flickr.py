"""Logo recognition on real photos (FlickrLogos-27 dev): the CNN logo stage against a SIFT floor.

Usage::

    python benchmarks/logo_flickr.py ../shared/data/flickrlogos27-dev
        [--icdar ../shared/data/icdar2015-dev] [--refs 5] [--largest] [--threads 1] [--sift] [--limit N]
        [--ocr] [--json out.json] [--half all|fit|report]

Protocol (``../shared/data/README.md``): every brand is registered from at most ``--refs``
reference crops cut from its boxes (seeded choice among boxes at least 24 px on each side); the
screener then screens every photo the references were not cut from and the network never trained
on (the model manifest records the brand-disjoint split: trained brands' training photos are
skipped, held-out brands' photos were never trained on). Per photo, the set of reported brands
(logo hits at or over the model's ``genuine_threshold``) is scored: recall = logo photos whose brand is
reported; precision = correct brands / reported brands. ICDAR 2015 dev photos (street and mall
scenes) count false brand marks per 100 logo-free photos. The photos, the registry and the
stage's scores are :mod:`screener.train.photo_eval`'s, which ``trunk_head --mode trained`` runs too.

Reported separately for photos of brands the network trained on and brands it never saw, with a
threshold sweep (so thresholds are chosen by measurement), the SIFT + RANSAC floor on the same
photos (``--sift``), and, with ``--ocr``, the screener with both stages (brands marked ``exact``
by text or logo).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.train.photo_eval import (dev_photos, every_brand_stage, hit_scores, read_rgb,  # noqa: E402
                                       stage_pixels, write_registry)
from screener.logo.weights import MODELS_DIR, manifest_entry  # noqa: E402
from screener.geometry import share  # noqa: E402


SUSPECT_KINDS = ("altered_brand_name", "imitation_logo", "mixed_marks", "counterfeit_cue")


def score(reported: dict[str, set[str]], truth: dict[str, set[str]], photos) -> dict[str, float]:
    tp = found = n_reported = 0
    for photo in photos:
        got, true = reported.get(photo, set()), truth.get(photo, set())
        n_reported += len(got)
        tp += len(got & true)
        found += bool(got & true) if true else 0
    n_logo = sum(1 for p in photos if truth.get(p))
    return {"photos": len(photos), "recall": found / max(1, n_logo),
            "precision": tp / n_reported if n_reported else 1.0, "reported": n_reported}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--icdar", type=Path, default=None, help="logo-free photos (ICDAR 2015 dev)")
    parser.add_argument("--refs", type=int, default=5)
    parser.add_argument("--largest", action="store_true",
                        help="register each brand from its largest boxes instead of seeded random ones "
                             "(with --refs 1: the one-shot protocol)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=Path, default=MODELS_DIR)
    parser.add_argument("--limit", type=int, default=0, help="at most N photos of each group")
    parser.add_argument("--sift", action="store_true", help="also run the SIFT + RANSAC floor")
    parser.add_argument("--sift-ratio", type=float, default=0.8, help="the floor's ratio test")
    parser.add_argument("--sift-min-side", type=int, default=900, help="the floor enlarges smaller photos to this")
    parser.add_argument("--no-logo", action="store_true", help="skip the CNN stage (SIFT floor only)")
    parser.add_argument("--ocr", action="store_true", help="also run the full screener (OCR + logo)")
    parser.add_argument("--json", type=Path, default=None, help="write per-photo scores here")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--half", choices=("all", "fit", "report"), default="all",
                        help="screen only this evaluation_half of the photos (benchmarks/logo_halves.py "
                             "splits an 'all' run's --json afterwards)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="config override, as for the screener (e.g. logo.verifiers=[\"keypoints\"])")
    parser.add_argument("--logo-files", action="store_true",
                        help="register each brand from its published logo file instead of photo crops: the "
                             "simple-icons mark of the same name (train extra; one-colour SVG, CC0), rendered "
                             "in its colour on transparency; brands without one are not registered and their "
                             "photos not scored (issue 16's one-shot protocol with a clean logo file)")
    parser.add_argument("--no-mark-candidates", action="store_true",
                        help="no boxes fitted to printed marks (screener.logo.candidates), windows only")
    args = parser.parse_args(argv)

    cv2.setNumThreads(args.threads)
    if args.no_mark_candidates:
        from screener.logo import candidates

        candidates.MARK_LIMIT = 0

    from screener.cli.common import config_from_args

    config = config_from_args(argparse.Namespace(config=None, overrides=args.overrides))
    entry = manifest_entry(config.logo.model, args.models)
    logo_files = {}
    if args.logo_files:  # no photo is used up as a reference; unregistered brands are not scored
        from screener.train.data import read_boxes
        from screener.train.icons import published_logo_files

        logo_files = published_logo_files(sorted({b.brand for b in read_boxes(args.data)}))
    protocol = dev_photos(args.data, args.icdar, entry.get("split", {}), args.refs, args.seed, args.largest,
                          args.half, args.limit, logo_file_brands=logo_files if args.logo_files else None)
    truth = protocol.truth
    trained_photos, held_photos, free = list(protocol.trained), list(protocol.heldout), list(protocol.street)
    print(f"held-out brands: {', '.join(protocol.heldout_brands)}; photos: {len(trained_photos)} trained-brand, "
          f"{len(held_photos)} held-out-brand, {len(free)} logo-free", file=sys.stderr)

    with tempfile.TemporaryDirectory() as tmp:
        registry, ref_crops = write_registry(protocol, Path(tmp), logo_files)
        # Every brand's best score is kept (near_threshold 0); thresholds are swept later.
        stage = None if args.no_logo else every_brand_stage(registry, config, args.models, args.threads)
        if stage is not None:
            stage.keep_raw = True  # also record raw cosine maxima, to compare with calibrated scores
        raw_scores: dict[str, dict[str, float]] = {}

        photos = protocol.screened()
        scores: dict[str, dict[str, float]] = {}
        shares: dict[str, dict[str, float]] = {}
        sift_scores: dict[str, dict[str, int]] = {}
        verified: dict[str, dict[str, int]] = {}  # the stage's geometric verification: brand -> inliers
        sift_found: dict[str, dict[str, list[float]]] = {}  # brand: [inliers, worst cell, typical cell]
        times, sift_times = [], []
        sift = None
        if args.sift:
            from screener.logo.sift import SiftMatcher

            sift = SiftMatcher(ref_crops, min_inliers=4, ratio=args.sift_ratio, min_side=args.sift_min_side)
        combined: dict[str, set[str]] = {}
        named: dict[str, set[str]] = {}
        screener = None
        if args.ocr:
            from screener.pipeline import Screener

            # The stage built with near_threshold 0 reports every brand's best region; the policy
            # still applies the configured thresholds, so flags and brands are the shipped ones.
            from screener.logo.base import NoLogoStage

            screener = Screener(registry, config, logo=stage if stage is not None else NoLogoStage(),
                                all_logos=True)  # every brand's best region, for the sweeps
        # Flags that would make a photo suspect: on these genuine photos (and logo-free streets)
        # every one is a false alarm, except on a photo that really shows two brands mixed.
        suspect_flags: dict[str, dict[str, set[str]]] = {kind: {} for kind in SUSPECT_KINDS}
        text_brands: dict[str, list[str]] = {}  # brands named exactly by the text (to recombine offline)
        for n, (name, path) in enumerate(photos, 1):
            rgb = read_rgb(path)
            if rgb is None:
                continue
            pixels = stage_pixels(rgb)
            hits = None
            if screener is not None:  # both stages; the logo stage's hits come with the result
                result = screener.screen(rgb)
                combined[name] = {m.brand for m in result.brands if m.match == "exact"}
                # Brands the result names at all: also altered names and imitation logos (a
                # misread genuine mark shows up as an altered name of its brand).
                named[name] = {m.brand for m in result.brands}
                for kind, flagged in suspect_flags.items():
                    flagged[name] = {f.brand or f.text for f in result.flags if f.kind == kind}
                text_brands[name] = sorted(m.brand for m in result.brands if m.match == "exact" and "text" in m.evidence)
                hits = result.logos
                times.append(result.timings.get("logo", 0.0))
            elif not args.no_logo:
                started = time.perf_counter()
                hits = stage(pixels)
                times.append(time.perf_counter() - started)
            if hits is not None:
                scores[name] = hit_scores(hits)
                # The share of the photo each brand's region covers, as the policy measures it
                # (the screener reports boxes in the photo's pixels, the stage in its input's).
                seen = rgb if screener is not None else pixels
                shares[name] = {h.brand: round(share(h.box, (seen.shape[1], seen.shape[0])), 4) for h in hits}
                lc = config.logo.point
                verified[name] = {h.brand: h.inliers for h in hits if h.inliers >= lc.min_inliers
                                  or lc.aligned_genuine(h.alignment, h.agreement)}
                raw_scores[name] = {b: round(v, 4) for b, v in stage.last_raw.items()}
            if sift is not None:
                started = time.perf_counter()
                sift_found[name] = {m.brand: [m.inliers, round(m.worst_cell, 3), round(m.typical_cell, 3)]
                                    for m in sift.match(rgb)}
                sift_scores[name] = {b: v[0] for b, v in sift_found[name].items()}
                sift_times.append(time.perf_counter() - started)
            if n % 50 == 0:
                print(f"{n}/{len(photos)} photos, {np.mean(times or [0]):.2f} s/photo (logo), "
                      f"{np.mean(sift_times or [0]):.2f} s/photo (sift)", file=sys.stderr)

    groups = {"trained brands": trained_photos, "held-out brands": held_photos}
    free_names = [f"icdar/{p.name}" for p in free]
    report: dict[str, object] = {"model": entry.get("sha256", "")[:12], "refs": args.refs,
                                 "heldout_brands": list(protocol.heldout_brands),
                                 "logo_seconds_per_photo": round(float(np.mean(times or [0])), 3)}

    def reported_at(threshold: float) -> dict[str, set[str]]:
        return {p: {b for b, s in got.items() if s >= threshold} for p, got in scores.items()}

    sweep = []
    for threshold in [*np.arange(0.5, 0.96, 0.05), 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995]:
        rep = reported_at(float(threshold))
        row = {"threshold": round(float(threshold), 4)}
        for label, group in groups.items():
            m = score(rep, truth, group)
            row[label] = {"recall": round(m["recall"], 3), "precision": round(m["precision"], 3)}
        row["false marks per 100 logo-free"] = round(100 * sum(len(rep.get(p, ())) for p in free_names)
                                                     / max(1, len(free_names)), 1)
        sweep.append(row)
    report["sweep"] = sweep
    genuine = config.logo.point.genuine_threshold
    rep = reported_at(genuine)
    report["network_at_genuine_threshold"] = {"threshold": genuine, **{
        label: score(rep, truth, group) for label, group in groups.items()},
        "false marks per 100 logo-free": 100 * sum(len(rep.get(p, ())) for p in free_names) / max(1, len(free_names))}
    # The stage as shipped: the network's genuine threshold, geometric verification or alignment.
    rep = {p: got | set(verified.get(p, {})) for p, got in rep.items()}
    report["stage_as_configured"] = {"threshold": genuine, "min_inliers": config.logo.point.min_inliers,
                                     "verifiers": list(config.logo.verifiers), **{
        label: score(rep, truth, group) for label, group in groups.items()},
        "false marks per 100 logo-free": 100 * sum(len(rep.get(p, ())) for p in free_names) / max(1, len(free_names))}
    if sift is not None:
        rows = []
        for min_inliers in (5, 6, 8, 10, 12, 15, 20, 25, 30):
            srep = {p: {b for b, c in got.items() if c >= min_inliers} for p, got in sift_scores.items()}
            rows.append({"min_inliers": min_inliers, **{
                label: {k: round(v, 3) for k, v in score(srep, truth, group).items()} for label, group in groups.items()},
                "false marks per 100 logo-free": round(100 * sum(len(srep.get(p, ())) for p in free_names)
                                                       / max(1, len(free_names)), 1)})
        report["sift"] = {"seconds_per_photo": round(float(np.mean(sift_times)), 3), "sweep": rows}
    if screener is not None:
        report["suspect flags per 100 photos"] = {
            kind: {label: round(100 * sum(len(flagged.get(p, ())) for p in group) / max(1, len(group)), 1)
                   for label, group in {**groups, "logo-free": free_names}.items()}
            for kind, flagged in suspect_flags.items()}
        report["logo+ocr"] = {**{label: score(combined, truth, group) for label, group in groups.items()},
                              "false marks per 100 logo-free": 100 * sum(len(combined.get(p, ())) for p in free_names)
                              / max(1, len(free_names))}
        report["logo+ocr, exact or near"] = {
            **{label: score(named, truth, group) for label, group in groups.items()},
            "false marks per 100 logo-free": 100 * sum(len(named.get(p, ())) for p in free_names) / max(1, len(free_names))}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"report": report, "scores": scores, "shares": shares, "sift": sift_found, "verified": verified, "text_brands": text_brands,
                                         "combined": {p: sorted(b) for p, b in combined.items()}, "raw": raw_scores,
                                         "named": {p: sorted(b) for p, b in named.items()},
                                         "suspect_flags": {kind: {p: sorted(b) for p, b in flagged.items() if b}
                                                           for kind, flagged in suspect_flags.items()},
                                         "truth": {p: sorted(truth.get(p, ())) for p in {**scores, **sift_found}}}, indent=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
