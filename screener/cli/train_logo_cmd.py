"""`screener train-logo`: train the logo embedding network from scratch (see screener.train.trainer).

The training package is imported only when the command runs: building the CLI's parser for
`screener screen` or `screener scan` must not import training code. Its options are the
trainer's own, parsed by the trainer's parser (`screener train-logo --help` lists them)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-logo", help="train the logo embedding network and write models/", add_help=False,
        description="Train the CNN logo embedding network from scratch (seeded, reproducible) on "
                    "synthetic logos and, with --data, real FlickrLogos-27 crops; writes the weights "
                    "and their models/manifest.toml entry.")
    # No options of its own: main() hands every argument after the command name to _run.
    parser.set_defaults(func=_run, passes_options_on=True, options=[])


def _run(args: argparse.Namespace) -> int:
    from ..train.trainer import add_arguments, run

    parser = argparse.ArgumentParser(prog="screener train-logo", description=__doc__.split("\n")[0])
    add_arguments(parser)
    options = parser.parse_args(args.options)
    return run(options, "screener train-logo " + " ".join(args.options))
