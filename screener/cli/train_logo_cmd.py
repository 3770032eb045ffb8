"""`screener train-logo`: train the logo embedding network from scratch (see screener.train.trainer),
or, with ``--network NAME``, rebuild a shipped trunk network from the recipe its manifest entry
records (see screener.train.trunk_head).

The training package is imported only when the command runs: building the CLI's parser for
`screener screen` or `screener scan` must not import training code. Its options are the
trainer's own, parsed by the trainer's parser (`screener train-logo --help` lists them)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-logo", help="train the logo embedding network and write models/", add_help=False,
        description="Train the CNN logo embedding network from scratch (seeded, reproducible) on "
                    "synthetic logos and, with --data, real FlickrLogos-27 crops; writes the weights "
                    "and their models/manifest.toml entry. With --network NAME: rebuild that shipped "
                    "trunk network (e.g. the default logo-trunk-tuned) from its recorded recipe.")
    # No options of its own: main() hands every argument after the command name to _run.
    parser.set_defaults(func=_run, passes_options_on=True, options=[])


def _run(args: argparse.Namespace) -> int:
    if any(option.split("=", 1)[0] == "--network" for option in args.options):
        return _rebuild(args.options)
    from ..train.trainer import add_arguments, run

    parser = argparse.ArgumentParser(
        prog="screener train-logo", description="Train the logo embedding network (logo-embed) from scratch.",
        epilog="screener train-logo --network NAME --data DIR --icdar DIR [--out DIR] [--threads N] [--dry-run] "
               "rebuilds a shipped trunk network (e.g. the default logo-trunk-tuned) from the recipe its "
               "manifest entry records.")
    add_arguments(parser)
    options = parser.parse_args(args.options)
    return run(options, "screener train-logo " + " ".join(args.options))


def _rebuild(options: list[str]) -> int:
    """``--network NAME``: replay the training command NAME's manifest entry records, on this
    machine's copies of the data. Its fitted decision is a separate step (the entry of
    ``decision-NAME`` records that command): the decision weighs the network's scores."""
    from ..logo.weights import MODELS_DIR, manifest_entry
    from ..train.trunk_head import main as trunk_head, recorded_argv

    parser = argparse.ArgumentParser(prog="screener train-logo --network",
                                     description="rebuild a shipped trunk network from its recorded recipe")
    parser.add_argument("--network", required=True, help="a trunk network of the manifest, e.g. logo-trunk-tuned")
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="FlickrLogos-27 dev folder")
    parser.add_argument("--icdar", type=Path, required=True, metavar="DIR", help="ICDAR 2015 dev folder")
    parser.add_argument("--out", type=Path, default=MODELS_DIR,
                        help="models folder to rebuild in (default: the package's own; a folder without a "
                             "manifest starts as a copy of them, which leaves the installed models as they are)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    args = parser.parse_args(options)
    argv = recorded_argv(manifest_entry(args.network), args.data, args.icdar, args.out, args.threads)
    print("python -m screener.train.trunk_head " + " ".join(argv), file=sys.stderr if not args.dry_run else sys.stdout)
    return 0 if args.dry_run else trunk_head(argv)
