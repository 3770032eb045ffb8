"""Options shared by the commands that build a Screener: registry, config file, overrides."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import Config, parse_cli_value
from ..errors import ConfigError


def add_pipeline_options(parser: argparse.ArgumentParser) -> None:
    """--registry, --config, --set, --ocr, --no-logo."""
    parser.add_argument("--registry", required=True, type=Path, metavar="DIR",
                        help="brand registry folder (brands.toml and its logos)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="TOML config file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set policy.suspect_risk=0.6")
    parser.add_argument("--ocr", choices=("rapidocr", "tesseract", "none"),
                        help="OCR engine (default: config ocr.engine)")
    parser.add_argument("--no-logo", action="store_true", help="skip the CNN logo stage")


def config_from_args(args: argparse.Namespace) -> Config:
    """The Config that the options describe: defaults ← --config file ← --set ← --ocr/--no-logo."""
    config = Config.from_toml(args.config) if getattr(args, "config", None) else Config()
    pairs = {}
    for item in getattr(args, "overrides", []) or []:
        key, sep, value = item.partition("=")
        if not sep or "." not in key:
            raise ConfigError(f"--set expects SECTION.KEY=VALUE, got {item!r}")
        pairs[key.strip()] = parse_cli_value(value.strip())
    if getattr(args, "ocr", None):
        pairs["ocr.engine"] = args.ocr
    if getattr(args, "no_logo", False):
        pairs["logo.enabled"] = False
    return config.with_dotted(pairs) if pairs else config
