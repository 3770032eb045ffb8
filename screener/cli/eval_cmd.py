"""``screener eval results.jsonl --labels labels.csv``: score a scan and check quality gates.

Exit codes: 0 every gate passed, 1 a gate failed (stderr names it), 2 the results or labels could
not be read or matched (for example, labels naming photos that are not in the results).
"""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "eval", help="score scan results against labels; quality gates for CI",
        description="Score a scan's results JSONL against a labels CSV (columns path, verdict, "
                    "brands, flags; path relative to the labels file's folder): verdict accuracy "
                    "and confusion matrix, precision/recall/F1 per flag kind, verdict and brand, "
                    "and the photos it got wrong. Exit 1 when a gate fails, 2 for unreadable input.")
    parser.add_argument("results", help="results JSONL written by `screener scan --out`")
    parser.add_argument("--labels", required=True, help="labels CSV")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--min-accuracy", type=str, metavar="X",
                        help="fail (exit 1) when verdict accuracy is below X")
    parser.add_argument("--min-precision", action="append", default=[], metavar="KIND=X",
                        help="fail when precision of KIND is below X; KIND is a flag kind, a "
                             "verdict or brand:NAME (repeatable)")
    parser.add_argument("--min-recall", action="append", default=[], metavar="KIND=X",
                        help="fail when recall of KIND is below X (repeatable)")
    parser.add_argument("--by", action="append", default=[], metavar="COLUMN",
                        help="also show verdict accuracy per value of a labels column, e.g. "
                             "--by evidence (repeatable)")
    parser.add_argument("--where", action="append", default=[], metavar="COLUMN=VALUE",
                        help="score only labelled photos whose column holds VALUE (among its "
                             "';'-separated items), e.g. --where evidence=text (repeatable; gates "
                             "then apply to that subset)")
    parser.add_argument("--junit", metavar="FILE",
                        help="also write JUnit XML: one test case per gate and per labelled photo")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..evaluate import EvaluationError, check_gates, evaluate_files, format_report, parse_gate
    from ..junit import write_junit

    try:
        gates = ([parse_gate("accuracy", args.min_accuracy)] if args.min_accuracy is not None else [])
        gates += [parse_gate("precision", spec) for spec in args.min_precision]
        gates += [parse_gate("recall", spec) for spec in args.min_recall]
        report = evaluate_files(args.results, args.labels, group_by=args.by, where=args.where)
    except EvaluationError as exc:
        if args.junit:
            _write_error_junit(args.junit, str(exc))
        raise
    results = check_gates(report, gates)
    if args.junit:
        write_junit(args.junit, report, results)
    if args.json:
        data = report.to_dict()
        data["gates"] = [g.to_dict() for g in results]
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(format_report(report, results))
    failed = [g for g in results if not g.passed]
    for g in failed:
        print(f"screener: eval gate failed: {g.message}", file=sys.stderr)
    return 1 if failed else 0


def _write_error_junit(path: str, message: str) -> None:
    """Even unreadable input shows up in CI's test view, as one errored test case."""
    import xml.etree.ElementTree as ET
    from pathlib import Path

    from ..junit import _x

    root = ET.Element("testsuites", name="screener eval", tests="1", failures="0", errors="1")
    suite = ET.SubElement(root, "testsuite", name="screener.inputs", tests="1", failures="0",
                          errors="1", skipped="0")
    case = ET.SubElement(suite, "testcase", classname="screener.inputs", name="read results and labels")
    ET.SubElement(case, "error", message=_x(message), type="EvaluationError").text = _x(message)
    ET.indent(root)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n")
