"""`screener scan PATH...`: screen folders of photos on parallel workers, resumably.

Every row goes to a SQLite store (``--db``, default next to the first output) as it finishes, and
to ``--out`` (JSONL) / ``--csv``; ``--report`` writes the HTML review report at the end. Running the
same command again reuses every stored result whose photo and pipeline are unchanged, so a killed
scan resumes and a re-scan screens only new or changed photos. The last stderr line is
``screened=N reused=M errors=E seconds=S``.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ScreenerError
from .common import add_pipeline_options, config_from_args

EXIT_OK, EXIT_FAIL_ON, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan", help="screen files and folders (recursive) on parallel workers, resumably",
        description="Screen every photo under the given files and folders. Results are kept in a "
                    "SQLite store, so running the same command again resumes an interrupted scan "
                    "and re-screens only new or changed photos (or all, after a registry or "
                    "config change).")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="photo files and folders")
    add_pipeline_options(parser)
    parser.add_argument("--out", type=Path, metavar="FILE", help="JSONL results, one line per photo")
    parser.add_argument("--csv", type=Path, metavar="FILE", help="CSV results, one row per photo")
    parser.add_argument("--report", type=Path, metavar="FILE", help="HTML review report")
    parser.add_argument("--db", type=Path, metavar="FILE",
                        help="result store (default: next to --out/--csv/--report, *.db)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes or Ray actors (default: this machine's cores; "
                             "with --engine ray and --ray-address, the cluster's CPUs)")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local process pool (default) or Ray")
    parser.add_argument("--ray-address", metavar="ADDR",
                        help="Ray cluster to join (e.g. auto or ray://head:10001); default: "
                             "a local Ray instance")
    parser.add_argument("--fail-on", action="append", default=[],
                        choices=("suspect", "review", "error"),
                        help="exit 1 when any photo reaches this verdict (review includes suspect)"
                             "; may be repeated")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def default_db(args: argparse.Namespace) -> Path:
    """The store next to the first output named (``results.jsonl`` → ``results.db``)."""
    for output in (args.out, args.csv, args.report):
        if output is not None:
            db = Path(output).with_suffix(".db")
            return db if db != Path(output) else Path(str(output) + ".sqlite")
    raise ConfigError("name at least one of --out, --csv, --report or --db")


def run(args: argparse.Namespace) -> int:
    from ..brands import BrandRegistry
    from ..scan.batch import ScanStats, fail_on_triggered, run_scan
    from ..scan.outputs import CsvSink, JsonlSink
    from ..scan.store import ResultStore

    config = config_from_args(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {args.workers}")
    if args.ray_address and args.engine != "ray":
        raise ConfigError("--ray-address needs --engine ray")
    db_path = args.db or default_db(args)
    BrandRegistry.load(args.registry)  # a broken registry stops here, with its own message
    engine = _engine(args, config)

    store = ResultStore(db_path)  # a store that cannot be opened stops here, with its own message
    sinks: list[Any] = []
    stats = ScanStats()
    progress = _Progress(args.paths, quiet=args.quiet)
    previous = signal.getsignal(signal.SIGTERM)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops as cleanly as Ctrl-C
    # The file the final writes are at, for the message if a Ctrl-C comes then.
    writing: Path | None = None
    try:
        if args.out:
            sinks.append(JsonlSink(args.out))
        if args.csv:
            sinks.append(CsvSink(args.csv))
        run_scan(args.paths, config=config, store=store, engine=engine, sinks=sinks,
                 progress=progress.update, registry_dir=args.registry, stats=stats)
        progress.close()
        for sink in sinks:
            writing = sink.path
            sink.close()
        if args.report and stats.scan_id:
            from ..report import write_report

            writing = args.report
            write_report(store, args.report, scan_id=stats.scan_id, limits=config.limits)
        writing = db_path
        store.close()
    except ScreenerError as exc:
        _close_quietly(progress, sinks, store)
        if not stats.scan_id:  # nothing was screened (an output that cannot be opened)
            raise
        # One line, as for every error: what failed, what is kept, and that nothing is lost.
        raise ScreenerError(f"{exc}; {_kept(stats, db_path)}") from None
    except KeyboardInterrupt:
        _close_quietly(progress, sinks, store)
        where = f" while writing {writing}" if writing else ""
        print(f"screener: interrupted{where}; {_kept(stats, db_path)}", file=sys.stderr)
        print(stats.summary_line(), file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)

    if stats.interrupted:
        print(f"screener: interrupted; {_kept(stats, db_path)}", file=sys.stderr)
        print(stats.summary_line(), file=sys.stderr)
        return EXIT_INTERRUPTED
    met = fail_on_triggered(stats, args.fail_on)
    if met:
        print(f"screener: --fail-on: {', '.join(met)}", file=sys.stderr)
    print(stats.summary_line(), file=sys.stderr)
    return EXIT_FAIL_ON if met else EXIT_OK


def _kept(stats: Any, db_path: Path) -> str:
    """``3 photos are safely stored in results.db; run the same command again to resume``."""
    n = stats.stored
    return (f"{n} photo{'' if n == 1 else 's'} {'is' if n == 1 else 'are'} safely stored in "
            f"{db_path}; run the same command again to resume")


def _close_quietly(progress: "_Progress", sinks: list[Any], store: Any) -> None:
    """Close what a stopped scan holds open; a second fault here must not hide the first."""
    for close in (progress.close, *(sink.close for sink in sinks), store.close):
        try:
            close()
        except (ScreenerError, OSError, KeyboardInterrupt):
            pass


def _engine(args: argparse.Namespace, config: Any) -> Any:
    if args.engine == "ray":
        from ..scan.ray_engine import RayEngine

        return RayEngine(args.registry, config, workers=args.workers, address=args.ray_address)
    from ..scan.local import LocalEngine, default_workers

    return LocalEngine(args.registry, config, workers=args.workers or default_workers())


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


class _Progress:
    """A tqdm bar on stderr with rate, ETA, and running counts of suspects and errors.

    Off with ``--quiet`` or when stderr is not a terminal (logs and CI stay clean). Its total comes
    from a quick walk of the paths (no files are read).
    """

    def __init__(self, paths: list[str], quiet: bool):
        self._bar: Any = None
        if quiet or not sys.stderr.isatty():
            return
        from tqdm import tqdm

        from ..files import count_photo_paths

        self._bar = tqdm(total=count_photo_paths(paths), unit="photo", file=sys.stderr,
                         dynamic_ncols=True, smoothing=0.1)

    def update(self, result: Any, stats: Any) -> None:
        if self._bar is None:
            return
        self._bar.set_postfix(suspect=stats.suspects, errors=stats.errors, reused=stats.reused,
                              refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

