"""`screener screen IMAGE`: screen one photo and show the verdict, flags, boxes and reasons."""

from __future__ import annotations

import argparse
import json


from .common import add_pipeline_options, config_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("screen", help="screen one photo and explain the verdict",
                                   description="Screen one photo; print a readable summary or JSON.")
    parser.add_argument("image", help="the photo file")
    add_pipeline_options(parser)
    parser.add_argument("--json", action="store_true", help="print the JSON result line")
    parser.add_argument("--fail-on", choices=("suspect", "review", "error"),
                        help="exit 1 when the photo reaches this verdict")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..pipeline import Screener

    screener = Screener.from_registry(args.registry, config_from_args(args))
    result = screener.screen_file(args.image)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(format_result(result))
    return 1 if args.fail_on and _reaches(result.verdict, args.fail_on) else 0


def _reaches(verdict: str, level: str) -> bool:
    order = {"clear": 0, "review": 1, "suspect": 2}
    if level == "error":
        return verdict == "error"
    return verdict != "error" and order.get(verdict, 0) >= order[level]


def format_result(result) -> str:
    """A reviewer-readable summary of one ScreenResult."""
    lines = [f"{result.path}: {result.verdict.upper()}  risk={result.risk:.2f}"]
    if result.error:
        lines.append(f"  error: {result.error}")
    for note in result.notes:
        lines.append(f"  note: {note}")
    for flag in result.flags:
        box = "[" + ", ".join(str(v) for v in flag.box) + "]" if flag.box else "-"
        lines.append(f"  {flag.kind:<20} {flag.brand or '-':<14} box={box}  score={flag.score:.2f}")
        lines.append(f"      {flag.reason}")
    if result.brands:
        lines.append("  brands: " + ", ".join(
            f"{b.brand} ({b.match}, {'+'.join(b.evidence)}, {b.score:.2f})" for b in result.brands))
    if result.texts:
        shown = "; ".join(t.text for t in result.texts[:12])
        more = f" … (+{len(result.texts) - 12})" if len(result.texts) > 12 else ""
        lines.append(f"  text: {shown}{more}")
    if result.timings:
        lines.append("  seconds: " + " ".join(f"{k}={v:.3f}" for k, v in result.timings.items()))
    return "\n".join(lines)


