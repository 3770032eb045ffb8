"""`screener train-logo`: train the logo embedding network from scratch (see screener.train.trainer)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..train.trainer import add_arguments

    parser = subparsers.add_parser(
        "train-logo", help="train the logo embedding network and write models/",
        description="Train the CNN logo embedding network from scratch (seeded, reproducible) on "
                    "synthetic logos and, with --data, real FlickrLogos-27 crops; writes the weights "
                    "and their models/manifest.toml entry.")
    add_arguments(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..train.trainer import run

    return run(args, "screener " + " ".join(sys.argv[1:]))
