"""`screener report --db FILE --out report.html`: the offline HTML review report of a scan."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    from ..report import DEFAULT_MAX_THUMBNAILS

    parser = subparsers.add_parser(
        "report", help="write the HTML review report of a scan from its --db store",
        description="Write one self-contained HTML file (no network) listing a scan's photos by "
                    "risk, with thumbnails, evidence boxes, flags, OCR text and filters.")
    parser.add_argument("--db", type=Path, required=True, metavar="FILE", help="the result store")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="HTML file to write")
    parser.add_argument("--scan", type=int, metavar="ID", help="scan id (default: the latest)")
    parser.add_argument("--thumbnails", type=int, default=DEFAULT_MAX_THUMBNAILS, metavar="N",
                        help="thumbnails for the N riskiest photos (default: %(default)s)")
    parser.add_argument("--title", default="Screener report", help="the report's title")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..report import write_report
    from ..scan.store import ResultStore

    if not args.db.is_file():
        raise ConfigError(f"result store {args.db} does not exist")
    if args.thumbnails < 0:
        raise ConfigError("--thumbnails must be 0 or more")
    with ResultStore(args.db) as store:
        if args.scan is not None and store.scan_info(args.scan) is None:
            raise ConfigError(f"{args.db} holds no scan #{args.scan}")
        count = write_report(store, args.out, scan_id=args.scan, max_thumbnails=args.thumbnails,
                             title=args.title)
    print(f"wrote {args.out} ({count} photos)", file=sys.stderr)
    return 0
