#!/usr/bin/env python
"""Make the labelled sample set: ``python scripts/make_samples.py --out sample_images``.

Writes ``<out>/brands/`` (a registry of fictional brands), ``<out>/listings/*.jpg`` and
``<out>/labels.csv``. Deterministic: the same seed and the same fonts give the same files.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from screener.train.synth.samples import SEED, make_samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sample_images"), help="output folder")
    parser.add_argument("--seed", type=int, default=SEED, help="base seed (default %(default)s)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = make_samples(args.out, args.seed, progress=lambda p: print(p, file=sys.stderr))
    size = sum(f.stat().st_size for f in (args.out / "listings").glob("*.jpg"))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["verdict"]] = counts.get(row["verdict"], 0) + 1
    print(f"photos={len(rows)} {' '.join(f'{k}={v}' for k, v in sorted(counts.items()))} "
          f"size={size / 1e6:.1f}MB seconds={time.perf_counter() - start:.1f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
