"""`screener cache prune`: remove reference-cache entries the registry and config no longer use."""

from __future__ import annotations

import argparse
import sys

from ..brands import BrandRegistry
from ..errors import ConfigError
from .common import add_pipeline_options, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache", help="manage the reference cache (embeddings, keypoints, SIFT index)",
        description="Manage a registry's reference cache (logo.cache_dir, default <registry>/.cache).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    prune = actions.add_parser(
        "prune", help="remove entries this registry and config no longer use",
        description="Build the logo stage for the registry and config (filling the cache where it "
                    "lacks an entry), then remove every cache entry it does not use: those of "
                    "edited or removed logo files, other logo models and earlier versions. A cache "
                    "folder shared by several registries or configs keeps only this one's entries.")
    add_pipeline_options(prune)
    prune.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    prune.set_defaults(func=_prune)


def _prune(args: argparse.Namespace) -> int:
    from ..logo.matcher import build_logo_stage

    config = config_from_args(args)
    stage = build_logo_stage(BrandRegistry.load(args.registry), config)
    cache = getattr(stage, "cache", None)
    if cache is None or cache.folder is None:
        raise ConfigError("the logo stage is off in this configuration (logo.enabled = false, or no brand has "
                          "a logo file): it uses no cache entry, so pruning would empty the cache; "
                          "delete the folder instead if that is what you want")
    if stage.verifier is not None:  # type: ignore[attr-defined]
        stage.verifier.index  # type: ignore[attr-defined]  # mapped or built: its file is in use
    removed = cache.prune(dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path, size in removed:
        print(f"{verb} {path.name} ({size / 1e6:.1f} MB)")
    total = sum(size for _, size in removed)
    print(f"{verb} {len(removed)} file(s), {total / 1e6:.1f} MB, from {cache.folder}; "
          f"{len(cache.claimed)} entries in use kept", file=sys.stderr)
    return 0
