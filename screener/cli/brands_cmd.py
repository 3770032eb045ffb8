"""`screener brands add|list|remove`: manage a brand registry folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..brands import BrandRegistry


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("brands", help="add, list or remove registered brands",
                                   description="Manage a brand registry (a folder with brands.toml).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="register a brand or add logos/aliases to it")
    add.add_argument("name", help="brand name")
    add.add_argument("--registry", required=True, type=Path, metavar="DIR")
    add.add_argument("--logo", action="append", default=[], type=Path, metavar="FILE",
                     help="reference logo image (repeatable); copied into the registry")
    add.add_argument("--alias", action="append", default=[], metavar="TEXT",
                     help="another name that counts as the brand's mark (repeatable)")
    add.set_defaults(func=_add)

    listing = actions.add_parser("list", help="list registered brands")
    listing.add_argument("--registry", required=True, type=Path, metavar="DIR")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=_list)

    remove = actions.add_parser("remove", help="remove a brand and its logos")
    remove.add_argument("name")
    remove.add_argument("--registry", required=True, type=Path, metavar="DIR")
    remove.set_defaults(func=_remove)


def _add(args: argparse.Namespace) -> int:
    registry = BrandRegistry.open_or_create(args.registry)
    brand = registry.add(args.name, logos=args.logo, aliases=args.alias)
    registry.save()
    print(f"registered {brand.name!r}: {len(brand.logos)} logo(s), aliases: "
          f"{', '.join(brand.aliases) or '-'}")
    return 0


def _list(args: argparse.Namespace) -> int:
    registry = BrandRegistry.load(args.registry)
    if args.json:
        print(json.dumps([{"name": b.name, "aliases": list(b.aliases), "logos": list(b.logos)}
                          for b in registry], ensure_ascii=False))
        return 0
    for brand in registry:
        aliases = f"  aliases: {', '.join(brand.aliases)}" if brand.aliases else ""
        print(f"{brand.name}  ({len(brand.logos)} logo(s)){aliases}")
    print(f"{len(registry)} brand(s) in {args.registry}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    registry = BrandRegistry.load(args.registry)
    brand = registry.remove(args.name)
    registry.save()
    print(f"removed {brand.name!r}")
    return 0
