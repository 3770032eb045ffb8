"""`screener export --db FILE`: write a scan's rows from the result store as JSONL and/or CSV.

Works at any time, also on the store of a scan that was interrupted or is still running (it then
holds the rows of the photos finished so far).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import ConfigError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="write a scan's results from its --db store",
                                   description="Write the rows of a scan (default: the latest) "
                                               "from a result store as JSONL and/or CSV.")
    parser.add_argument("--db", type=Path, required=True, metavar="FILE", help="the result store")
    parser.add_argument("--out", type=Path, metavar="FILE", help="JSONL output")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="CSV output")
    parser.add_argument("--scan", type=int, metavar="ID", help="scan id (default: the latest)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..scan.outputs import CsvSink, JsonlSink, write_all
    from ..scan.store import ResultStore

    if not args.out and not args.csv:
        raise ConfigError("name --out and/or --csv")
    if not args.db.is_file():
        raise ConfigError(f"result store {args.db} does not exist")
    with ResultStore(args.db) as store:
        scan_id = args.scan if args.scan is not None else store.latest_scan()
        if scan_id is None or store.scan_info(scan_id) is None:
            raise ConfigError(f"{args.db} holds no scan {'#' + str(args.scan) if args.scan else ''}")
        sinks = []
        try:
            if args.out:
                sinks.append(JsonlSink(args.out))
            if args.csv:
                sinks.append(CsvSink(args.csv))
            count = write_all(store.rows(scan_id), sinks)
        finally:
            for sink in sinks:
                sink.close()
    print(f"exported {count} rows of scan #{scan_id}", file=sys.stderr)
    return 0
