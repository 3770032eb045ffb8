"""Add the ONNX export to a manifest model that only has torch weights.

Training writes both files itself (:func:`screener.train.trainer.onnx_twin`); this is for weights
trained before it did, or copied in without their export::

    python -m screener.train.export [--models screener/models] [--name logo-embed]

The torch file is checked against its sha256 first, and the manifest entry gains ``onnx_file``,
``onnx_sha256`` and ``onnx_opset``; nothing else in it changes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from ..logo.weights import MODELS_DIR, MANIFEST, manifest_entry, update_manifest


def export(name: str = "logo-embed", models_dir: str | Path = MODELS_DIR) -> dict:
    """Write ``<name>.onnx`` beside the model's torch weights and record it in the manifest."""
    from .network import load_torch_embedder
    from .trainer import onnx_twin

    models_dir = Path(models_dir)
    embedder = load_torch_embedder(name, models_dir, threads=1)
    entry = {**manifest_entry(name, models_dir),
             **onnx_twin(embedder.network, embedder.spec, models_dir / f"{name}.onnx")}
    update_manifest(models_dir / MANIFEST, entry)
    return entry


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m screener.train.export", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=MODELS_DIR, help="folder with manifest.toml")
    parser.add_argument("--name", default="logo-embed", help="the model's name in the manifest")
    args = parser.parse_args(argv)
    entry = export(args.name, args.models)
    print(f"wrote {args.models / entry['onnx_file']} (sha256 {entry['onnx_sha256'][:12]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
