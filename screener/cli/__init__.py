"""The ``screener`` command line: a thin layer over the public API.

Each command lives in its own module with ``register(subparsers)`` that adds its parser and sets
``func(args) -> int``. Exit codes: 0 success, 1 when ``--fail-on`` (or an eval gate) triggers,
2 for bad usage, config, registry or model errors and for a scan stopped by a fault (a write
error, a worker that cannot start), 130 when interrupted. Each error is one stderr line.

Nothing heavy is imported here: ``screener --help`` and ``screener brands list`` must not pay for
torch or onnxruntime. Commands import what they need inside ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from ..errors import ScreenerError

# Command modules, in the order `--help` lists them.
_COMMANDS = ("scan", "screen", "brands", "cache", "eval", "report", "export", "train_logo")

EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="screener",
        description="Flag suspect brand marks in product photos (OCR + CNN logo matching).")
    parser.add_argument("--version", action="version", version=f"screener {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"{__name__}.{name}_cmd")
        except ModuleNotFoundError as exc:  # a command still being built is simply not listed
            if exc.name != f"{__name__}.{name}_cmd":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (tests call ``main([...])``)."""
    parser = build_parser()
    try:
        # A command that passes its options on (``train-logo``: to the trainer's own parser, so
        # that building this parser imports no training code) takes the unknown ones.
        args, rest = parser.parse_known_args(argv)
        if rest and not getattr(args, "passes_options_on", False):
            parser.error(f"unrecognized arguments: {' '.join(rest)}")
        if rest:
            args.options = rest
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except ScreenerError as exc:
        print(f"screener: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("screener: interrupted", file=sys.stderr)
        return 130


def run() -> None:
    sys.exit(main())
