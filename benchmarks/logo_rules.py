"""Read one or more ``logo_flickr.py --ocr --json`` outputs and compare the networks behind them.

Usage::

    python benchmarks/logo_rules.py out.json [other.json ...]
        [--genuine 0.9994,0.9995] [--large 0.9985,0.999] [--share 0.2]

For each file (one model each):

- **the network alone at equal false marks**: the threshold at which its best region per brand
  puts a mark on 0, 1, 2, 5, 10 and 30 of the logo-free street photos, with trained and
  held-out brands' recall and precision there. Thresholds on the calibrated score are not
  comparable between models; false marks on the same street photos are;
- **the true brand's rank** among the registered brands on each logo photo (calibrated score of
  its best region; raw cosine in brackets): the share ranked first, and the median rank;
- **the screener's rule, re-applied offline**: brands named exactly by the text, plus brands
  verified geometrically (SIFT or alignment), plus network-only marks at ``--genuine``, or at
  ``--large`` on a region covering at least ``--share`` of the photo. It approximates the
  screener (the policy also lets another brand's name overrule a mark, and the stage measures
  the large region's span only from ``logo.large_threshold``, a rule since deleted), so it is for
  choosing thresholds to run, not for quoting; each file's real screener row comes first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from logo_flickr import score  # noqa: E402

STREET_PHOTOS_WITH_A_MARK = (0, 1, 2, 5, 10, 30)


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v]


def _read_run(path: Path) -> dict:
    """A ``logo_flickr.py --ocr --json`` output, or a stop that names the file and what is wrong."""
    try:
        run = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise SystemExit(f"logo_rules.py: cannot read {path}: {error}") from None
    missing = [key for key in ("report", "scores", "truth", "text_brands", "verified", "raw")
               if not isinstance(run, dict) or key not in run]
    if missing:
        raise SystemExit(f"logo_rules.py: {path} is not a logo_flickr.py --ocr --json output "
                         f"(no {', '.join(missing)})")
    return run


def _groups(run: dict) -> tuple[list[str], list[str], list[str]]:
    """Trained-brand, held-out-brand and logo-free photo names of a run."""
    held = set(run["report"]["heldout_brands"])
    truth = run["truth"]
    names = list(run["scores"])
    free = [p for p in names if p.startswith("icdar/")]
    trained = [p for p in names if set(truth.get(p, ())) - held and p not in free]
    held_out = [p for p in names if set(truth.get(p, ())) & held]
    return trained, held_out, free


def _line(label: str, reported: dict[str, set[str]], truth: dict[str, set[str]],
          groups: tuple[list[str], list[str], list[str]]) -> str:
    trained, held_out, free = groups
    a, b = score(reported, truth, trained), score(reported, truth, held_out)
    false = 100 * sum(len(reported.get(p, ())) for p in free) / max(1, len(free))
    return (f"  {label:34s} trained {a['recall']:.3f} / {a['precision']:.3f}   held-out {b['recall']:.3f} / "
            f"{b['precision']:.3f}   false marks / 100 street {false:.1f}")


def report(path: Path, genuine: list[float], large: list[float], shares: list[float]) -> None:
    run = _read_run(path)
    truth = {p: set(v) for p, v in run["truth"].items()}
    groups = _groups(run)
    scores: dict[str, dict[str, float]] = run["scores"]
    print(f"{path} (model {run['report']['model']})")

    print(" the network alone, best region per brand, at equal false marks:")
    street_best = sorted((max(scores[p].values(), default=-1.0) for p in groups[2]), reverse=True)
    for k in STREET_PHOTOS_WITH_A_MARK:
        if k >= len(street_best):
            break
        threshold = street_best[k] + 1e-6  # scores are stored to 4 decimals
        reported = {p: {b for b, s in got.items() if s >= threshold} for p, got in scores.items()}
        print(_line(f">= {threshold:.5f} ({k} street photos)", reported, truth, groups))

    print(" the true brand's rank among the registered brands (calibrated [raw cosine]):")
    for label, photos in (("trained brands", groups[0]), ("held-out brands", groups[1])):
        parts = []
        for key in ("scores", "raw"):
            ranks = []
            for p in photos:
                got = run[key].get(p, {})
                order = sorted(got, key=lambda b: -got[b])
                ranks.append(min(order.index(b) + 1 if b in order else len(order) + 1 for b in truth[p]))
            parts.append(f"{np.mean(np.asarray(ranks) == 1):.3f} first, median {np.median(ranks):g}")
        print(f"  {label:16s} {parts[0]}   [{parts[1]}]")

    print(" the screener's rule, offline:")
    print(_line("the screener as run", {p: set(v) for p, v in run.get("combined", {}).items()}, truth, groups))
    base = {p: set(run["text_brands"].get(p, ())) | set(run["verified"].get(p, {})) for p in scores}
    print(_line("text and verified marks only", base, truth, groups))
    region_share = run.get("shares", {})
    for g in genuine:
        for low in large:
            for s in shares:
                reported = {p: base[p] | {b for b, v in got.items()
                                          if v >= g or (v >= low and region_share.get(p, {}).get(b, 0.0) >= s)}
                            for p, got in scores.items()}
                print(_line(f"genuine {g} / large {low} on {s}", reported, truth, groups))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="logo_flickr.py --ocr --json outputs")
    parser.add_argument("--genuine", type=_floats, default=[0.9995])
    parser.add_argument("--large", type=_floats, default=[0.9985])
    parser.add_argument("--share", type=_floats, default=[0.2])
    args = parser.parse_args(argv)
    for path in args.runs:
        report(path, args.genuine, args.large, args.share)
    return 0


if __name__ == "__main__":
    sys.exit(main())
