"""What one scan worker pays before its first result: building the Screener (models, registry,
cached reference embeddings) and screening one photo.

Usage::

    python benchmarks/worker_start.py [--registry sample_images/brands] [--photo PATH]

It runs in a fresh Python process (as a worker starts) and prints seconds to the first result,
peak memory and whether torch was imported (it must not be: the stage runs the ONNX export).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import resource, sys, time
started = time.perf_counter()
from screener import Screener
from screener.config import Config
screener = Screener.from_registry({registry!r}, Config())
screener.screen_file({photo!r})
print(f"first result after {{time.perf_counter() - started:.2f}} s, peak memory "
      f"{{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}} MiB, torch imported: {{'torch' in sys.modules}}")
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registry", default=str(REPO / "sample_images" / "brands"))
    parser.add_argument("--photo", default=str(REPO / "sample_images" / "listings" / "036-genuine-logo.jpg"))
    args = parser.parse_args(argv)
    code = CHILD.format(registry=args.registry, photo=args.photo)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # as a scan worker is pinned
    return 0


if __name__ == "__main__":
    sys.exit(main())
