"""Fit the logo stage's threshold on the dev ``fit`` half, report the ``report`` half.

Reads one or more ``benchmarks/logo_flickr.py --json`` outputs (runs with the operating point's ``near_threshold``
0, so every brand's best region score is recorded per photo) and, for each:

1. splits every screened photo (FlickrLogos test photos, ICDAR street photos) with
   ``evaluation_half``;
2. on the ``fit`` half, picks the lowest network threshold whose false brand marks on the street
   photos stay at or under ``--max-false`` per 100 (the stage as configured: a brand is reported
   when its network score reaches the threshold, or geometry/alignment verified it) and, with
   ``--min-precision``, whose precision on the logo photos (right brands / reported brands: a
   wrong brand named on a logo photo is a false mark too) is at least that;
3. reports the ``report`` half at that threshold: recall / precision on photos of trained and of
   held-out brands, false marks per 100 street photos.

So two models are compared at the same false-mark rate on street photos, with nothing fitted on
the photos that are reported.

    python benchmarks/logo_halves.py runs/lf_embed.json runs/lf_trunk.json [--max-false 1.0]
    python benchmarks/logo_halves.py --ranking runs/lf_embed.json runs/lf_trunk.json   # no threshold fitted
    python benchmarks/logo_halves.py --screener A-fit.json A-report.json --versus B-fit.json B-report.json

``--versus``: two screeners (``--ocr`` runs; each side's files merged) compared photo by photo:
the photos each names right that the other does not, and how likely a split that uneven is
if neither were better (an exact two-sided sign test on those photos). A rebuild of the same
network at another training seed moves up to five photos per group (BENCHMARKS.md, "Two more
training seeds"), so a difference is read with its p-value, not as a count.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from screener.train.data import evaluation_half  # noqa: E402
from screener.train.photo_eval import photo_ranking  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from logo_flickr import score  # noqa: E402


def metrics(reported: dict[str, set[str]], truth: dict[str, set[str]], photos: list[str]) -> dict[str, float]:
    """``logo_flickr.score`` (recall, precision, photos), rounded for the tables."""
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in score(reported, truth, photos).items()}


def at(run: dict, threshold: float, verified: bool, large: tuple[float, float] | None = None) -> dict[str, set[str]]:
    """Brands reported per photo: network score >= ``threshold`` (or >= ``large[0]`` on a region
    covering ``large[1]`` of the photo, the large-region rule), plus verified ones."""
    out = {}
    for p, got in run["scores"].items():
        shares = run.get("shares", {}).get(p, {})
        brands = {b for b, s in got.items() if s >= threshold
                  or (large is not None and s >= large[0] and shares.get(b, 0.0) >= large[1])}
        if verified:
            brands |= set(run.get("verified", {}).get(p, {}))
        out[p] = brands
    return out


def false_per_100(reported: dict[str, set[str]], photos: list[str]) -> float:
    return round(100 * sum(len(reported.get(p, ())) for p in photos) / max(1, len(photos)), 2)


def evaluate(run: dict, max_false: float, verified: bool, fixed: float | None = None,
             large: tuple[float, float] | None = None, min_precision: float = 0.0) -> dict:
    truth = {p: set(b) for p, b in run["truth"].items()}
    held = set(run["report"]["heldout_brands"])
    photos = sorted(run["scores"])
    halves: dict[str, dict[str, list[str]]] = {}
    for half in ("fit", "report"):
        mine = [p for p in photos if evaluation_half(p) == half]
        halves[half] = {
            "trained brands": [p for p in mine if truth.get(p) and truth[p] - held],
            "held-out brands": [p for p in mine if truth.get(p) & held],
            "street": [p for p in mine if p.startswith("icdar/")],
        }
    values = sorted({s for got in run["scores"].values() for s in got.values()})
    candidates = [t for t in np.unique(np.round(values, 4)) if t > 0] + [1.01]
    chosen = candidates[-1] if fixed is None else fixed
    fit_logo = halves["fit"]["trained brands"] + halves["fit"]["held-out brands"]
    for t in candidates if fixed is None else ():  # lowest threshold within budget on the fit half
        reported = at(run, float(t), verified, large)
        if (false_per_100(reported, halves["fit"]["street"]) <= max_false
                and score(reported, truth, fit_logo)["precision"] >= min_precision):
            chosen = float(t)
            break
    out: dict = {"threshold": chosen, "verified": verified}
    for half, groups in halves.items():
        rep = at(run, chosen, verified, large)
        out[half] = {g: metrics(rep, truth, ps) for g, ps in groups.items() if g != "street"}
        out[half]["false marks per 100 street photos"] = false_per_100(rep, groups["street"])
        out[half]["street photos"] = len(groups["street"])
    return out


def unite(first: dict, second: dict, threshold: float, large: tuple[float, float] | None,
          min_precision: float = 0.0) -> int:
    """The first run as configured, plus the second run's network-only hits at the lowest
    threshold that keeps the fit half's false street marks where the first run alone has them
    (and, with ``min_precision``, the fit half's logo-photo precision at least that)."""
    truth = {p: set(b) for p, b in first["truth"].items()}
    held = set(first["report"]["heldout_brands"])
    photos = sorted(set(first["scores"]) & set(second["scores"]))
    base = at(first, threshold, True, large)

    def united(t: float) -> dict[str, set[str]]:
        extra = at(second, t, False)
        return {p: base.get(p, set()) | extra.get(p, set()) for p in photos}

    halves = {}
    for half in ("fit", "report"):
        mine = [p for p in photos if evaluation_half(p) == half]
        halves[half] = ([p for p in mine if truth.get(p) and truth[p] - held],
                        [p for p in mine if truth.get(p, set()) & held], [p for p in mine if p.startswith("icdar/")])
    budget = false_per_100(base, halves["fit"][2])
    values = sorted({round(v, 4) for got in second["scores"].values() for v in got.values() if v > 0})
    fit_logo = halves["fit"][0] + halves["fit"][1]
    chosen = next((t for t in values if false_per_100(united(t), halves["fit"][2]) <= budget
                   and score(united(t), truth, fit_logo)["precision"] >= min_precision), 1.01)
    print(f"second run's threshold (fit half, no false street mark added): {chosen:.4f}")
    print("| half | first run R / P trained, held-out | united R / P trained, held-out | false / 100 street: first, united |")
    print("|---|---|---|---|")
    for half, (tr, ho, st) in halves.items():
        u = united(chosen)
        a, b = (metrics(base, truth, g) for g in (tr, ho))
        c, d = (metrics(u, truth, g) for g in (tr, ho))
        print(f"| {half} | {a['recall']:.3f} / {a['precision']:.3f}, {b['recall']:.3f} / {b['precision']:.3f} | "
              f"{c['recall']:.3f} / {c['precision']:.3f}, {d['recall']:.3f} / {d['precision']:.3f} | "
              f"{false_per_100(base, st)}, {false_per_100(u, st)} |")
    return 0


def screener_rows(paths: list[Path]) -> int:
    """The screener's own brand marks (``logo_flickr.py --ocr``: brands marked ``exact`` by text or
    logo, thresholds as configured), per half: nothing is fitted here."""
    print("| run | half | trained R / P | held-out R / P | false / 100 street |")
    print("|---|---|---|---|---|")
    for path in paths:
        run = json.loads(path.read_text())
        if not run.get("combined"):
            raise SystemExit(f"logo_halves.py: {path} is not a logo_flickr.py --ocr run (no screener brands)")
        truth = {p: set(b) for p, b in run["truth"].items()}
        held = set(run["report"]["heldout_brands"])
        reported = {p: set(b) for p, b in run["combined"].items()}
        for half in ("fit", "report"):
            mine = [p for p in sorted(reported) if evaluation_half(p) == half]
            tr = metrics(reported, truth, [p for p in mine if truth.get(p) and truth[p] - held])
            ho = metrics(reported, truth, [p for p in mine if truth.get(p, set()) & held])
            street = [p for p in mine if p.startswith("icdar/")]
            print(f"| {path.name} | {half} | {tr['recall']:.3f} / {tr['precision']:.3f} ({tr['photos']}) | "
                  f"{ho['recall']:.3f} / {ho['precision']:.3f} ({ho['photos']}) | "
                  f"{false_per_100(reported, street)} ({len(street)}) |")
    return 0


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the chance of a split at least this uneven between ``wins`` and
    ``losses`` if each discordant photo were a fair coin (1.0 when there is none)."""
    n, k = wins + losses, min(wins, losses)
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n)


def _merged(paths: list[Path]) -> dict:
    """The screener brands and truth of one side's ``--ocr`` runs (e.g. one file per half)."""
    side: dict = {"combined": {}, "truth": {}, "held": set()}
    for path in paths:
        try:
            run = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"logo_halves.py: cannot read {path}: {exc}") from exc
        if not isinstance(run, dict) or not run.get("combined"):
            raise SystemExit(f"logo_halves.py: {path} is not a logo_flickr.py --ocr run (no screener brands)")
        side["combined"].update({p: set(b) for p, b in run["combined"].items()})
        side["truth"].update({p: set(b) for p, b in run["truth"].items()})
        side["held"] |= set(run["report"]["heldout_brands"])
    return side


def paired_rows(first: list[Path], second: list[Path]) -> int:
    """``--versus``: the two sides' screener brands photo by photo, per half and group (see the
    module doc)."""
    a, b = _merged(first), _merged(second)
    truth, held = a["truth"], a["held"]
    print(f"A: {', '.join(p.name for p in first)}; B: {', '.join(p.name for p in second)}")
    print("| half | group | photos | right: both / A only / B only | sign test p | wrong brands A / B |")
    print("|---|---|---|---|---|---|")
    for half in ("fit", "report"):
        photos = sorted(p for p in set(a["combined"]) & set(b["combined"]) if evaluation_half(p) == half)
        groups = {"trained": [p for p in photos if truth.get(p) and truth[p] - held],
                  "held-out": [p for p in photos if truth.get(p, set()) & held],
                  "street": [p for p in photos if p.startswith("icdar/")]}
        for group, mine in groups.items():
            if not mine:
                continue
            right_a = {p for p in mine if a["combined"][p] & truth.get(p, set())}
            right_b = {p for p in mine if b["combined"][p] & truth.get(p, set())}
            wrong_a = sum(len(a["combined"][p] - truth.get(p, set())) for p in mine)
            wrong_b = sum(len(b["combined"][p] - truth.get(p, set())) for p in mine)
            only_a, only_b = len(right_a - right_b), len(right_b - right_a)
            right = (f"{len(right_a & right_b)} / {only_a} / {only_b} | {sign_test(only_a, only_b):.2f}"
                     if group != "street" else "- | -")  # a street photo has no brand to name right
            print(f"| {half} | {group} | {len(mine)} | {right} | {wrong_a} / {wrong_b} |")
    return 0


def ranking_rows(paths: list[Path]) -> int:
    """``--ranking``: threshold-free measures of each run's network scores, per half.

    - top-1: logo photos whose highest-scoring brand is one of theirs;
    - over street q99: those whose top score also beats the 99th percentile of the same half's
      street photos' best scores (a false-mark rate of about 1 per 100 street photos).

    Two heads or networks are compared without fitting a threshold to either (BENCHMARKS.md,
    "Crops are not photos"); :func:`screener.train.photo_eval.photo_ranking` measures, and
    ``trunk_head --mode trained`` records the fitting half's."""
    print("| run | half | top-1 trained / held-out | over street q99 trained / held-out | street q99 |")
    print("|---|---|---|---|---|")
    for path in paths:
        run = json.loads(path.read_text())
        for half in ("fit", "report"):
            mine = {p: got for p, got in run["scores"].items() if evaluation_half(p) == half}
            r = photo_ranking(mine, run["truth"], run["report"]["heldout_brands"])
            if r is None:
                continue
            print(f"| {path.name} | {half} | {r.top1_trained:.3f} / {r.top1_heldout:.3f} ({r.trained} / {r.heldout}) | "
                  f"{r.over_street_q99_trained:.3f} / {r.over_street_q99_heldout:.3f} | {r.street_q99:.3f} |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("--max-false", type=float, default=1.0, help="false marks per 100 street photos (fit half)")
    parser.add_argument("--min-precision", type=float, default=0.0,
                        help="and at least this precision on the fit half's logo photos (wrong brands count)")
    parser.add_argument("--fixed", type=float, default=None, help="use this threshold instead of fitting one")
    parser.add_argument("--large", type=float, nargs=2, default=None, metavar=("THRESHOLD", "SHARE"),
                        help="also the large-region rule, offline (e.g. 0.9985 0.2, logo-embed's rule until it was deleted, BENCHMARKS.md)")
    parser.add_argument("--unite", type=Path, default=None,
                        help="a second run whose network-only hits join the first run's (as --fixed/--large "
                             "say); its threshold is the lowest adding no false street mark on the fit half")
    parser.add_argument("--screener", action="store_true",
                        help="report each `--ocr` run's screener brands (both stages, as configured) per half instead")
    parser.add_argument("--versus", type=Path, nargs="+", default=None, metavar="RUN",
                        help="with --screener: compare the runs given first (side A) with these (side B) photo by photo")
    parser.add_argument("--ranking", action="store_true",
                        help="threshold-free: photo top-1 and photos over the street photos' 99th percentile, per half")
    args = parser.parse_args(argv)
    large = tuple(args.large) if args.large else None
    if args.ranking:
        return ranking_rows(args.runs)
    if args.versus:
        if not args.screener:
            parser.error("--versus compares screeners: give --screener too")
        return paired_rows(args.runs, args.versus)
    if args.screener:
        return screener_rows(args.runs)
    if args.unite is not None:
        return unite(json.loads(args.runs[0].read_text()), json.loads(args.unite.read_text()),
                     args.fixed if args.fixed is not None else 0.9995, large,  # type: ignore[arg-type]
                     args.min_precision)
    print("| run | threshold (fit half) | network + verification | trained R / P | held-out R / P | false / 100 street |")
    print("|---|---|---|---|---|---|")
    for path in args.runs:
        run = json.loads(path.read_text())
        for verified in (False, True):
            r = evaluate(run, args.max_false, verified, args.fixed, large,  # type: ignore[arg-type]
                         args.min_precision)
            for half in ("fit", "report"):
                h = r[half]
                print(f"| {path.name} ({half}) | {r['threshold']:.4f} | {'yes' if verified else 'network only'} | "
                      f"{h['trained brands']['recall']:.3f} / {h['trained brands']['precision']:.3f} "
                      f"({h['trained brands']['photos']}) | {h['held-out brands']['recall']:.3f} / "
                      f"{h['held-out brands']['precision']:.3f} ({h['held-out brands']['photos']}) | "
                      f"{h['false marks per 100 street photos']} ({h['street photos']}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
